// wait-bench's fixture and waiters, and the binary with its CSV/table derivation.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "bench/fd_pairs.hpp"
#include "bench/waiters.hpp"
#include "common/subprocess.hpp"
#include "common/version.hpp"
#include "tests/support/echo_server_process.hpp"
#include "tests/support/usage.hpp"

namespace muxbench {
namespace {

using namespace std::chrono_literals;

std::size_t open_descriptors() {
  return static_cast<std::size_t>(std::distance(
      std::filesystem::directory_iterator("/proc/self/fd"), std::filesystem::directory_iterator{}));
}

class WaitBenchFixture : public ::testing::TestWithParam<FdKind> {};

TEST_P(WaitBenchFixture, PairsLeaveNoDescriptorBehind) {
  const std::size_t before = open_descriptors();
  {
    FdPairs pairs(GetParam(), 300);
    EXPECT_EQ(pairs.size(), 300u);
    EXPECT_EQ(open_descriptors(), before + 600);
    ReadySet ready(pairs, 300, 7);
    EpollWaiter<false> epoll(pairs.watched(300));
  }
  EXPECT_EQ(open_descriptors(), before);
}

TEST_P(WaitBenchFixture, WatchedEndsArePackedBelowThePeers) {
  FdPairs pairs(GetParam(), 100);
  const auto watched = pairs.watched(100);
  EXPECT_LT(watched.back() - watched.front(), 110) << "watched descriptors should be dense";
  for (std::size_t i = 0; i < 100; ++i) EXPECT_GT(pairs.peer(i), watched.back());
}

template <class Waiter>
void expect_ready_counts(FdKind kind) {
  FdPairs pairs(kind, 64);
  for (const std::size_t ready : {0, 1, 5, 64}) {
    ReadySet set(pairs, 64, ready);
    Waiter waiter(pairs.watched(64));
    for (int repeat = 0; repeat < 3; ++repeat) {  // the ready set stays ready between calls
      waiter.prepare(set);
      EXPECT_EQ(waiter.wait(/*zero_timeout=*/true), static_cast<int>(ready))
          << Waiter::kName << " ready=" << ready << " repeat=" << repeat;
    }
  }
}

TEST_P(WaitBenchFixture, EveryWaiterReturnsExactlyTheReadyCount) {
  expect_ready_counts<SelectWaiter>(GetParam());
  expect_ready_counts<PollWaiter>(GetParam());
  expect_ready_counts<EpollWaiter<false>>(GetParam());
  expect_ready_counts<EpollWaiter<true>>(GetParam());
  expect_ready_counts<UringPollWaiter>(GetParam());
}

TEST_P(WaitBenchFixture, EdgeTriggeredReportsOncePerEdgeUnlessReArmed) {
  FdPairs pairs(GetParam(), 16);
  ReadySet set(pairs, 16, 3);
  EpollWaiter<true> edge(pairs.watched(16));
  EpollWaiter<false> level(pairs.watched(16));
  EXPECT_EQ(edge.wait(true), 3);
  EXPECT_EQ(edge.wait(true), 0) << "no new edge: the unread data is not reported again";
  EXPECT_EQ(level.wait(true), 3);
  EXPECT_EQ(level.wait(true), 3) << "level-triggered: reported while it stays readable";
  edge.prepare(set);
  EXPECT_EQ(edge.wait(true), 3) << "EPOLL_CTL_MOD re-arms a still-readable descriptor";
}

std::string kind_name(const ::testing::TestParamInfo<FdKind>& kind) {
  return std::string(to_string(kind.param));
}

INSTANTIATE_TEST_SUITE_P(Kinds, WaitBenchFixture,
                         ::testing::Values(FdKind::kSocketPair, FdKind::kTcpLoopback), kind_name);

TEST(WaitBench, SelectBeyondFdSetSizeIsAnExplicitError) {
  EXPECT_THROW(
      {
        FdPairs pairs(FdKind::kSocketPair, 1100);
        SelectWaiter waiter(pairs.watched(1100));
      },
      std::system_error);
}

TEST(WaitBench, RunsAndDerivesCsvAndTheTable) {
  testing::TempDir dir;
  const auto json = dir.path() / "micro.json";
  const auto result =
      run_command({MUXBENCH_WAIT_BENCH, "--benchmark_min_time=0.005",
                   "--benchmark_filter=^(select|poll|epoll-lt)/socketpair/ready:1/"
                   "fds:(10|100|1000|1024|10000)/",
                   "--benchmark_out=" + json.string(), "--benchmark_out_format=json"},
                  120s);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  std::ifstream in(json);
  const auto report = nlohmann::json::parse(in);
  bool select_refused = false;
  for (const auto& bench : report["benchmarks"]) {
    const std::string name = bench["name"];
    if (name.rfind("select/socketpair/ready:1/fds:1024", 0) == 0) {
      EXPECT_TRUE(bench.value("error_occurred", false));
      EXPECT_NE(bench["error_message"].get<std::string>().find("FD_SETSIZE"), std::string::npos);
      select_refused = true;
    } else if (bench.value("run_type", "") == "iteration" &&
               name.find("fds:") != std::string::npos && !bench.value("error_occurred", false)) {
      EXPECT_GT(bench["ns_per_call"].get<double>(), 0.0) << name;
    }
  }
  EXPECT_TRUE(select_refused);

  const auto csv = dir.path() / "micro.csv";
  const auto table = dir.path() / "table.md";
  const auto derived = run_command({"/usr/bin/python3", MUXBENCH_MICRO_REPORT, json.string(),
                                    "--csv", csv.string(), "--table", table.string()},
                                   30s);
  ASSERT_EQ(derived.exit_code, 0) << derived.err;
  std::stringstream csv_text, table_text;
  csv_text << std::ifstream(csv).rdbuf();
  table_text << std::ifstream(table).rdbuf();
  EXPECT_EQ(csv_text.str().rfind("name,backend,kind,ready,fds,", 0), 0u);
  for (const char* row : {"| 10 | ", "| 100 | ", "| 1000 | ", "| 10000 | "}) {
    EXPECT_NE(table_text.str().find(row), std::string::npos) << row << "\n" << table_text.str();
  }
  EXPECT_EQ(table_text.str().find("not measured"), std::string::npos) << table_text.str();
}

// The cost model's rows (docs/cost-model.md): every descriptor ready, one connection's life per
// backend, and the per-message system calls.
TEST(WaitBench, ListsTheCostModelRows) {
  const auto result = run_command({MUXBENCH_WAIT_BENCH, "--benchmark_list_tests"}, 60s);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  for (const char* name :
       {"select/socketpair/ready:all/fds:64/", "poll/socketpair/ready:all/fds:1024/",
        "poll/socketpair/ready:all/fds:8192/", "epoll-lt/socketpair/ready:all/fds:8192/",
        "uring-poll/socketpair/ready:all/fds:1024/", "select/socketpair/ready:all/fds:1000/",
        "conn_cycle/select/", "conn_cycle/poll/", "conn_cycle/epoll-lt/", "conn_cycle/epoll-et/",
        "conn_cycle/uring-poll/", "echo_syscalls/tcp/size:64/", "echo_syscalls/tcp/size:16384/",
        "echo_syscalls/tcp/recv_eagain/"}) {
    EXPECT_NE(result.out.find(std::string("\n") + name), std::string::npos) << name;
  }
  EXPECT_EQ(result.out.find("epoll-et-rearm/socketpair/ready:all/"), std::string::npos)
      << "N re-arms: epoll_ctl_mod's row";
}

TEST(WaitBench, CostModelRowsRunAndSelectRefusesAllReadyBeyondFdSetSize) {
  testing::TempDir dir;
  const auto json = dir.path() / "micro.json";
  const auto result = run_command(
      {MUXBENCH_WAIT_BENCH, "--benchmark_min_time=0.002",
       "--benchmark_filter=^(select|poll|epoll-lt|uring-poll)/socketpair/ready:all/fds:(64|1024)/"
       "|^conn_cycle/|^echo_syscalls/",
       "--benchmark_out=" + json.string()},
      120s);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  std::ifstream in(json);
  const auto report = nlohmann::json::parse(in);
  std::set<std::string> measured;
  for (const auto& bench : report["benchmarks"]) {
    const std::string name = bench["name"];
    if (name.rfind("select/socketpair/ready:all/fds:1024/", 0) == 0) {
      EXPECT_TRUE(bench.value("error_occurred", false)) << name;
      EXPECT_NE(bench.value("error_message", "").find("FD_SETSIZE"), std::string::npos);
      continue;
    }
    if (bench.value("run_type", "") != "iteration") continue;
    const bool uring = name.find("uring-poll") != std::string::npos;
    if (bench.value("error_occurred", false)) {
      EXPECT_TRUE(uring) << name << ": " << bench.value("error_message", "");
      continue;  // io_uring may be unavailable here
    }
    EXPECT_GT(bench["ns_per_call"].get<double>(), 0.0) << name;
    if (name.find("/ready:all/") != std::string::npos) {
      EXPECT_EQ(bench["ready"].get<double>(), bench["fds"].get<double>()) << name;
    }
    if (name.rfind("conn_cycle/", 0) == 0) {
      EXPECT_EQ(bench["iterations"].get<int>(), 4000) << name;
      double parts = 0;
      for (const char* part : {"ns_accept", "ns_add", "ns_remove", "ns_close"}) {
        parts += bench[part].get<double>();
      }
      EXPECT_NEAR(parts, bench["ns_per_call"].get<double>(), 1.0) << name;
    }
    measured.insert(name.substr(0, name.find("/manual_time")));
  }
  for (const char* name :
       {"poll/socketpair/ready:all/fds:1024", "select/socketpair/ready:all/fds:64",
        "epoll-lt/socketpair/ready:all/fds:1024", "conn_cycle/poll/iterations:4000",
        "conn_cycle/select/iterations:4000", "conn_cycle/epoll-lt/iterations:4000",
        "echo_syscalls/tcp/size:64", "echo_syscalls/tcp/size:16384",
        "echo_syscalls/tcp/recv_eagain"}) {
    EXPECT_TRUE(measured.count(name)) << name;
  }

  // micro_report.py reads ready:all as ready = fds and skips the rows that are not wait calls.
  const auto csv = dir.path() / "micro.csv";
  const auto derived = run_command(
      {"/usr/bin/python3", MUXBENCH_MICRO_REPORT, json.string(), "--csv", csv.string()}, 30s);
  ASSERT_EQ(derived.exit_code, 0) << derived.err;
  std::stringstream csv_text;
  csv_text << std::ifstream(csv).rdbuf();
  EXPECT_NE(csv_text.str().find(
                "poll/socketpair/ready:all/fds:1024/manual_time,poll,socketpair,1024,1024,"),
            std::string::npos)
      << csv_text.str();
  EXPECT_EQ(csv_text.str().find("conn_cycle"), std::string::npos);
  EXPECT_EQ(csv_text.str().find("echo_syscalls"), std::string::npos);
}

void expect_refused(std::vector<std::string> args, const std::string& mentions) {
  const auto result = testing::expect_usage_error(MUXBENCH_WAIT_BENCH, std::move(args), mentions);
  EXPECT_EQ(result.out, "") << "refused before any benchmark ran";
}

TEST(WaitBenchUsage, CpuMustBeADecimalCpuNumberThisProcessMayUse) {
  for (const char* bad : {"abc", "1.5", "", "-1", "0x1", "99999999999999999999"}) {
    expect_refused({"--cpu", bad}, "--cpu");
  }
  expect_refused({"--cpu", "--benchmark_filter=^poll/"}, "'--benchmark_filter=^poll/'");
  expect_refused({"--cpu"}, "--cpu");
  expect_refused({"--cpu", "4096"}, "CPU 4096 is not available");
  expect_refused({"--cpu=abc"}, "--cpu");
}

TEST(WaitBenchUsage, RepetitionsMustBeAtLeastOne) {
  for (const char* bad : {"-1", "0", "x", "1e3", "99999999999"}) {
    expect_refused({std::string("--benchmark_repetitions=") + bad}, "--benchmark_repetitions");
  }
}

TEST(WaitBenchUsage, OutFileIsCheckedBeforeTheRun) {
  expect_refused({"--benchmark_out=/proc/version"}, "/proc/version");
  expect_refused({"--benchmark_out=/nonexistent/dir/micro.json"}, "does not exist");
  expect_refused({"--benchmark_out=/tmp"}, "is a directory");
}

TEST(WaitBenchUsage, VersionPrintsTheProjectVersionAndGitRevision) {
  testing::expect_version(MUXBENCH_WAIT_BENCH, "wait-bench");
}

// The command the README suggests: every run it selects is a size select cannot watch. That was a
// segfault (Google Benchmark 1.7.1 fitting a complexity family without a successful run); the
// size is now a benchmark of its own whose error says why.
TEST(WaitBench, ASizeSelectCannotWatchIsReportedNotACrash) {
  testing::TempDir dir;
  const auto json = dir.path() / "micro.json";
  const auto result = run_command({MUXBENCH_WAIT_BENCH, "--benchmark_min_time=0.005",
                                   "--benchmark_filter=^select/socketpair/ready:1/fds:1024/",
                                   "--benchmark_out=" + json.string()},
                                  60s);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  std::ifstream in(json);
  const auto report = nlohmann::json::parse(in);
  ASSERT_EQ(report["benchmarks"].size(), 1u) << report["benchmarks"];
  const auto& bench = report["benchmarks"][0];
  EXPECT_EQ(bench["name"], "select/socketpair/ready:1/fds:1024/manual_time");
  EXPECT_TRUE(bench.value("error_occurred", false));
  EXPECT_NE(bench["error_message"].get<std::string>().find("FD_SETSIZE"), std::string::npos);
}

// Google Benchmark writes the coefficient of variation of a counter that is always 0 (ready at
// ready:0) as a bare NaN; the out file must be strict JSON all the same.
TEST(WaitBench, OutFileIsStrictJson) {
  testing::TempDir dir;
  const auto json = dir.path() / "micro.json";
  const auto result = run_command(
      {MUXBENCH_WAIT_BENCH, "--benchmark_min_time=0.002", "--benchmark_repetitions=2",
       "--benchmark_filter=^poll/socketpair/ready:0/fds:16/", "--benchmark_out=" + json.string()},
      60s);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto strict = run_command({"/usr/bin/python3", MUXBENCH_STRICT_JSON, json.string()}, 30s);
  EXPECT_EQ(strict.exit_code, 0) << strict.out << strict.err;
  std::ifstream in(json);
  const auto report = nlohmann::json::parse(in);
  bool null_cv = false;
  for (const auto& bench : report["benchmarks"]) {
    null_cv |= bench.value("aggregate_name", "") == "cv" && bench["ready"].is_null();
  }
  EXPECT_TRUE(null_cv) << "the NaN should have become null";
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()),
                          std::filesystem::directory_iterator{}),
            1)
      << "no temporary file left behind";
}

TEST(WaitBench, DashSendsTheOutFileToStandardOutputAndAFailedWriteIsExitOne) {
  const std::vector<std::string> run = {MUXBENCH_WAIT_BENCH, "--benchmark_min_time=0.002",
                                        "--benchmark_filter=^poll/socketpair/ready:1/fds:16/",
                                        "--benchmark_out=-"};
  const auto result = run_command(run, 60s);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto report = nlohmann::json::parse(result.out);  // only the JSON: the table is on stderr
  EXPECT_EQ(report["benchmarks"].size(), 1u);

  std::string command = "exec";
  for (const auto& arg : run) command += " '" + arg + "'";
  const auto full = run_command({"/bin/sh", "-c", command + " >/dev/full"}, 60s);
  EXPECT_EQ(full.exit_code, 1) << full.err;
  EXPECT_NE(full.err.find("No space left on device"), std::string::npos) << full.err;
}

}  // namespace
}  // namespace muxbench
