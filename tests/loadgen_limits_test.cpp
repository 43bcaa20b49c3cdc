// loadgen off the default path (issue 13): an open loop past capacity, windows with nothing to
// measure, options and output paths refused before any work, and loadgen-merge's refusals.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/support/loadgen_runner.hpp"
#include "tests/support/usage.hpp"

namespace muxbench::testing {
namespace {

using namespace std::chrono_literals;
using Json = nlohmann::json;
namespace fs = std::filesystem;

std::string explain(const LoadgenRun& run) {
  return "status: " + run.report.value("status", Json()).dump() +
         "\nproblems: " + run.report.value("problems", Json()).dump() +
         "\nstderr: " + run.command.err + "\nstdout: " + run.command.out;
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Checks with scripts/strict_json.py (no NaN, no Infinity: what JSON.parse accepts).
void expect_strict_json(const fs::path& path) {
  const auto result = run_command({"/usr/bin/python3", MUXBENCH_STRICT_JSON, path.string()}, 30s);
  EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
}

bool mentions(const Json& problems, const std::string& text) {
  return std::any_of(problems.begin(), problems.end(), [&](const Json& p) {
    return p.get<std::string>().find(text) != std::string::npos;
  });
}

// The deliberately broken server of tests/fixtures, with these faults.
struct FaultyServer {
  explicit FaultyServer(std::vector<std::string> args)
      : process([&] {
          args.insert(args.begin(), faulty_echo_server_path());
          return Subprocess::spawn(args);
        }()) {
    const auto line = process.read_line(5s);
    if (!line) throw std::runtime_error("faulty_echo_server did not start");
    port = static_cast<std::uint16_t>(std::stoi(line->substr(line->rfind(':') + 1)));
  }
  Subprocess process;
  std::uint16_t port = 0;
};

// A port that listens but never accepts: a connection attempt would sit in its backlog.
class Listener {
 public:
  Listener() : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof addr;
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::listen(fd_, 64);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &length);
    port_ = ntohs(addr.sin_port);
  }
  ~Listener() { ::close(fd_); }
  std::uint16_t port() const { return port_; }
  std::string target() const { return "127.0.0.1:" + std::to_string(port_); }
  bool connected_to() const {
    pollfd p{fd_, POLLIN, 0};
    return ::poll(&p, 1, 0) > 0;
  }

 private:
  int fd_;
  std::uint16_t port_ = 0;
};

// The peak resident set (VmHWM, kB) of a running process; 0 once it is gone.
std::uint64_t peak_rss_kb(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6));
  }
  return 0;
}

std::vector<std::string> loadgen_argv(std::uint16_t port, const fs::path& json,
                                      std::vector<std::string> args) {
  std::vector<std::string> argv = {
      loadgen_path(), "--target",    "127.0.0.1:" + std::to_string(port),
      "--json",       json.string(), "--quiet"};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

// ---- Open loop past capacity ----------------------------------------------------------------

// An impossible rate: the sends are bounded (a count owed per connection, not a queue of bytes),
// memory stays flat, the run ends on time with a report that says overloaded.
TEST(LoadgenOverload, AnImpossibleRateKeepsMemoryFlatAndEndsOnTime) {
  EchoServerProcess server("epoll-lt");
  TempDir dir;
  const auto json = dir.path() / "report.json";
  const auto started = std::chrono::steady_clock::now();
  auto child = Subprocess::spawn(
      loadgen_argv(server.port(), json,
                   {"--active", "4", "--rate", "1e9", "--duration", "1s", "--warmup", "200ms"}));
  std::uint64_t peak_kb = 0;
  std::optional<int> code;
  while (!(code = child.wait(20ms)) && std::chrono::steady_clock::now() - started < 30s) {
    peak_kb = std::max(peak_kb, peak_rss_kb(child.pid()));
  }
  const auto took = std::chrono::steady_clock::now() - started;
  ASSERT_TRUE(code) << "loadgen --rate 1e9 did not finish in 30 s";
  EXPECT_EQ(*code, 1);
  EXPECT_LT(took, 6s);
  EXPECT_GT(peak_kb, 0u);
  EXPECT_LT(peak_kb, 200u * 1024) << "peak RSS " << peak_kb << " kB";
  const Json report = Json::parse(read_text(json));
  EXPECT_EQ(report["status"], "overloaded");
  const Json& o = report["open_loop"];
  EXPECT_EQ(o["requested_rate"], 1e9);
  EXPECT_LT(o["achieved_rate"].get<double>(), 0.5e9);
  EXPECT_LT(report["throughput"]["sent_per_s"].get<double>(), 0.5e9)
      << "sent_per_s counts what left, not what was due";
  EXPECT_GT(o["due"].get<std::uint64_t>(), 900'000'000u);
  EXPECT_EQ(o["sent"].get<std::uint64_t>() + o["unsent"].get<std::uint64_t>(),
            o["due"].get<std::uint64_t>());
  EXPECT_GT(o["late_share"].get<double>(), 0.9);
  EXPECT_TRUE(o["overloaded"].get<bool>());
  EXPECT_TRUE(report["generator"]["fell_behind"].get<bool>());
  EXPECT_TRUE(mentions(report["problems"], "overloaded: requested 1000000000 msg/s"))
      << report["problems"];
  expect_strict_json(json);
}

TEST(LoadgenOverload, AllowOverloadExitsZeroWithTheStatusStillOverloaded) {
  EchoServerProcess server("epoll-lt");
  const auto run =
      run_loadgen(server.port(), {"--active", "2", "--rate", "1e9", "--duration", "300ms",
                                  "--warmup", "100ms", "--quiet", "--allow-overload"});
  EXPECT_EQ(run.command.exit_code, 0) << explain(run);
  EXPECT_EQ(run.report["status"], "overloaded");
  EXPECT_TRUE(run.report["criteria"]["allow_overload"].get<bool>());
  EXPECT_NE(run.csv.find(",overloaded,"), std::string::npos) << run.csv;
}

// A server of known capacity (it reads 64 kB/s: 1000 messages of 64 B), measured first with a
// closed loop, then asked for twice that: the report gives the achieved rate, not the requested.
TEST(LoadgenOverload, TwiceTheServersCapacityReportsTheAchievedRate) {
  FaultyServer server({"--bytes-per-s", "64000"});
  const auto closed = run_loadgen(server.port, {"--active", "2", "--depth", "16", "--duration",
                                                "1s", "--warmup", "200ms", "--quiet"});
  ASSERT_EQ(closed.command.exit_code, 0) << explain(closed);
  const double capacity = closed.report["throughput"]["messages_per_s"].get<double>();
  ASSERT_GT(capacity, 300.0);
  ASSERT_LT(capacity, 1500.0);
  const double requested = 2 * capacity;
  const auto run = run_loadgen(server.port, {"--active", "2", "--rate", std::to_string(requested),
                                             "--duration", "1s", "--warmup", "200ms", "--quiet"});
  EXPECT_EQ(run.command.exit_code, 1) << explain(run);
  EXPECT_EQ(run.report["status"], "overloaded") << explain(run);
  const Json& o = run.report["open_loop"];
  EXPECT_NEAR(o["requested_rate"].get<double>(), requested, 1.0);
  EXPECT_LT(o["achieved_rate"].get<double>(), 0.75 * requested);
  EXPECT_NEAR(o["achieved_rate"].get<double>(), capacity, 0.35 * capacity);
  EXPECT_EQ(o["achieved_rate"].get<double>(),
            std::min(o["sent_per_s"].get<double>(),
                     run.report["throughput"]["messages_per_s"].get<double>()));
  EXPECT_TRUE(mentions(run.report["problems"], "overloaded: requested")) << explain(run);
}

// Far past a slow server's capacity the drain cannot see every echo: that backlog is the
// overload, counted in errors.unanswered and said, not an integrity error.
TEST(LoadgenOverload, TheBacklogOfAnOverloadedServerIsNotAnIntegrityError) {
  FaultyServer server({"--bytes-per-s", "16000"});
  const auto run =
      run_loadgen(server.port, {"--active", "2", "--rate", "1e9", "--duration", "500ms", "--warmup",
                                "100ms", "--drain-timeout", "200ms", "--quiet"});
  EXPECT_EQ(run.command.exit_code, 1) << explain(run);
  EXPECT_EQ(run.report["status"], "overloaded") << explain(run);
  EXPECT_GT(run.report["errors"]["unanswered"].get<std::uint64_t>(), 0u);
  EXPECT_EQ(run.report["errors"]["mismatches"], 0);
  EXPECT_TRUE(mentions(run.report["problems"], "the backlog of an overloaded server"))
      << explain(run);
}

TEST(LoadgenOverload, SigintDuringAnOverloadedRunStopsItWithinASecondWithAReport) {
  EchoServerProcess server("epoll-lt");
  TempDir dir;
  const auto json = dir.path() / "report.json";
  auto child = Subprocess::spawn(
      loadgen_argv(server.port(), json,
                   {"--active", "4", "--rate", "1e9", "--duration", "30s", "--warmup", "200ms"}));
  std::this_thread::sleep_for(1200ms);
  const auto signalled = std::chrono::steady_clock::now();
  child.send_signal(SIGINT);
  const auto code = child.wait(10s);
  EXPECT_LT(std::chrono::steady_clock::now() - signalled, 1s);
  EXPECT_EQ(code, 130);
  const Json report = Json::parse(read_text(json));
  EXPECT_EQ(report["status"], "interrupted");
  EXPECT_TRUE(report["window"]["interrupted"].get<bool>());
  expect_strict_json(json);
}

TEST(LoadgenOverload, SigtermWhileWaitingForStartAtEndsTheWait) {
  EchoServerProcess server("epoll-lt");
  TempDir dir;
  const auto json = dir.path() / "report.json";
  const auto in_ten_minutes = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                  (std::chrono::system_clock::now() + 10min).time_since_epoch())
                                  .count();
  auto child = Subprocess::spawn(
      loadgen_argv(server.port(), json, {"--start-at", std::to_string(in_ten_minutes)}));
  std::this_thread::sleep_for(500ms);
  const auto signalled = std::chrono::steady_clock::now();
  child.send_signal(SIGTERM);
  EXPECT_EQ(child.wait(10s), 130);
  EXPECT_LT(std::chrono::steady_clock::now() - signalled, 1s);
  EXPECT_EQ(Json::parse(read_text(json))["status"], "interrupted");
}

// ---- Nothing or almost nothing measured --------------------------------------------------------

TEST(LoadgenInsufficient, ANanosecondWindowIsInsufficient) {
  EchoServerProcess server("epoll-lt");
  const auto run =
      run_loadgen(server.port(), {"--duration", "1ns", "--warmup", "100ms", "--quiet"});
  EXPECT_EQ(run.command.exit_code, 1) << explain(run);
  EXPECT_EQ(run.report["status"], "insufficient");
  EXPECT_EQ(run.report["criteria"]["min_echoes"], 100);
  EXPECT_TRUE(mentions(run.report["problems"], "fewer than the 100 needed")) << explain(run);
}

TEST(LoadgenInsufficient, AServerThatHoldsEveryEchoTwoSecondsIsInsufficient) {
  FaultyServer server({"--delay-ms", "2000"});
  const auto run = run_loadgen(server.port, {"--active", "2", "--duration", "1s", "--warmup", "0s",
                                             "--drain-timeout", "3s", "--quiet"});
  EXPECT_EQ(run.command.exit_code, 1) << explain(run);
  EXPECT_EQ(run.report["status"], "insufficient") << explain(run);
  EXPECT_EQ(run.report["throughput"]["messages"], 0);
}

TEST(LoadgenInsufficient, LargeMessagesNeedOneEchoAndTheMinimumIsAnOption) {
  EchoServerProcess server("epoll-lt");
  const auto large = run_loadgen(
      server.port(), {"--size", "1048576", "--duration", "1ns", "--warmup", "0s", "--quiet"});
  EXPECT_EQ(large.report["criteria"]["min_echoes"], 1);
  EXPECT_EQ(large.report["status"], "insufficient") << explain(large);
  EXPECT_TRUE(mentions(large.report["problems"], "fewer than the 1 needed")) << explain(large);

  const auto strict = run_loadgen(server.port(), {"--duration", "300ms", "--warmup", "0s",
                                                  "--min-echoes", "100000000", "--quiet"});
  EXPECT_EQ(strict.command.exit_code, 1);
  EXPECT_EQ(strict.report["status"], "insufficient") << explain(strict);
}

// interrupted > connect_failed > errors > insufficient > overloaded > ok.
TEST(LoadgenInsufficient, ErrorsComeBeforeInsufficient) {
  FaultyServer server({"--corrupt-every", "1"});
  const auto run = run_loadgen(server.port, {"--duration", "1ns", "--warmup", "200ms", "--quiet"});
  EXPECT_EQ(run.command.exit_code, 1);
  EXPECT_EQ(run.report["status"], "errors") << explain(run);
  EXPECT_TRUE(mentions(run.report["problems"], "insufficient")) << explain(run);
}

// ---- Failure reasons say what was observed -----------------------------------------------------

TEST(LoadgenReasons, IdleConnectionsThatReceiveDataAreNotCalledDropped) {
  FaultyServer server({"--flood-idle"});
  const auto run = run_loadgen(server.port, {"--idle", "5", "--active", "1", "--duration", "300ms",
                                             "--warmup", "200ms", "--quiet"});
  EXPECT_EQ(run.command.exit_code, 1);
  EXPECT_EQ(run.report["status"], "errors");
  EXPECT_EQ(run.report["connections"]["idle"]["alive_at_end"], 5);
  EXPECT_EQ(run.report["connections"]["idle"]["unexpected_data"], 5);
  EXPECT_TRUE(mentions(run.report["problems"], "5 idle connections received unexpected data"))
      << explain(run);
  EXPECT_FALSE(mentions(run.report["problems"], "dropped")) << explain(run);
}

TEST(LoadgenReasons, DroppedIdleConnectionsAreCalledDropped) {
  FaultyServer server({"--drop-silent-after-ms", "100"});
  const auto run = run_loadgen(server.port, {"--idle", "5", "--active", "1", "--duration", "300ms",
                                             "--warmup", "200ms", "--quiet"});
  EXPECT_EQ(run.report["connections"]["idle"]["unexpected_data"], 0);
  EXPECT_TRUE(mentions(run.report["problems"], "the server dropped 5 idle connections"))
      << explain(run);
}

TEST(LoadgenReasons, ErrorTotalCountsMessagesNotBytes) {
  FaultyServer server({"--corrupt-every", "3"});
  const auto run = run_loadgen(
      server.port, {"--active", "2", "--duration", "300ms", "--warmup", "100ms", "--quiet"});
  const Json& e = run.report["errors"];
  ASSERT_GT(e["mismatches"].get<std::uint64_t>(), 0u) << explain(run);
  EXPECT_EQ(e["total"].get<std::uint64_t>(),
            e["mismatches"].get<std::uint64_t>() + e["unanswered"].get<std::uint64_t>());
}

// ---- Bad input refused before any work ---------------------------------------------------------

TEST(LoadgenRefusals, BadOptionsAreRefusedWithOneLineBeforeAnyConnection) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--idle", "-1"}, "--idle"},
      {{"--idle", "0x10"}, "--idle"},
      {{"--active", "010"}, "--active"},
      {{"--duration", "1e10s"}, "longer than a year"},
      {{"--duration", "0x10s"}, "--duration"},
      {{"--rate", "nan"}, "--rate"},
      {{"--rate", "inf"}, "--rate"},
      {{"--rate", "0"}, "--rate"},
      {{"--rate", "-5"}, "--rate"},
      {{"--connect-rate", "nan"}, "--connect-rate"},
      {{"--cpu", "-1"}, "--cpu"},
      {{"--cpu", "abc"}, "--cpu"},
      {{"--cpu", "1.5"}, "--cpu"},
      {{"--cpu", ""}, "--cpu"},
      {{"--late-tolerance", "0"}, "--late-tolerance"},
      {{"--min-echoes", "-3"}, "--min-echoes"},
      {{"--start-at", "4102444800000000000"}, "1 h ahead"},  // the year 2100
      {{"--json", "/proc/version"}, "--json"},
      {{"--csv", "/nonexistent/r.csv"}, "--csv"},
      {{"--hdr", "/tmp"}, "is a directory"},
      {{"--hdr-unit", "s"}, "--hdr-unit"},
      {{"--hlog", "/tmp"}, "is a directory"},
      {{"--hlog", "-", "--hdr", "-"}, "both write"},
      {{"--hlog", "/tmp/muxbench-unwritten.hlog", "--duration", "3h"}, "MiB of interval"},
      {{"--json", "-", "--csv", "-"}, "both write"},
  };
  for (const auto& [args, text] : cases) {
    Listener listener;
    std::vector<std::string> argv = {"--target", listener.target()};
    argv.insert(argv.end(), args.begin(), args.end());
    const auto result = expect_usage_error(loadgen_path(), argv, text);
    EXPECT_FALSE(listener.connected_to()) << "a connection was opened for " << args.front();
    // No 300-digit doubles, no wrapped numbers echoed back.
    EXPECT_LT(result.err.size(), 200u) << result.err;
    EXPECT_EQ(result.err.find("18446744073709551615"), std::string::npos) << result.err;
  }
}

TEST(LoadgenRefusals, TwoOutputsToOneFileAreRefused) {
  TempDir dir;
  const auto same = (dir.path() / "r").string();
  expect_usage_error(loadgen_path(), {"--target", "127.0.0.1:9", "--json", same, "--csv", same},
                     "both write");
}

// ---- Output paths ------------------------------------------------------------------------------

TEST(LoadgenOutputs, DashIsStandardOutputForEveryOutput) {
  EchoServerProcess server("epoll-lt");
  TempDir dir;
  for (const char* option : {"--csv", "--hdr", "--json", "--hlog"}) {
    const auto result =
        run_command({loadgen_path(), "--target", "127.0.0.1:" + std::to_string(server.port()),
                     "--duration", "200ms", "--warmup", "0s", "--quiet", option, "-"},
                    30s);
    EXPECT_EQ(result.exit_code, 0) << option << result.err;
    EXPECT_FALSE(fs::exists("-")) << option << " wrote a file named '-'";
    const std::string expected = std::string(option) == "--csv"    ? "timestamp_utc,"
                                 : std::string(option) == "--hdr"  ? "       Value"
                                 : std::string(option) == "--hlog" ? "#muxbench loadgen"
                                                                   : "{";
    EXPECT_EQ(result.out.rfind(expected, 0), 0u) << option << ": " << result.out.substr(0, 80);
  }
}

// A write that fails at the end (its directory went away during the run) is exit 1 with the
// path and the reason, and the other outputs are still written.
TEST(LoadgenOutputs, AFailedWriteIsExitOneAndTheOthersAreStillWritten) {
  EchoServerProcess server("epoll-lt");
  TempDir dir;
  const auto doomed = dir.path() / "doomed";
  fs::create_directory(doomed);
  const auto json = doomed / "report.json";
  const auto csv = dir.path() / "report.csv";
  SpawnOptions options;
  options.capture_stderr = true;
  auto child = Subprocess::spawn(
      {loadgen_path(), "--target", "127.0.0.1:" + std::to_string(server.port()), "--duration", "1s",
       "--warmup", "0s", "--quiet", "--json", json.string(), "--csv", csv.string()},
      options);
  std::this_thread::sleep_for(300ms);
  fs::remove_all(doomed);
  const auto code = child.wait(30s);
  const std::string err = child.drain_stderr(1s);
  EXPECT_EQ(code, 1) << err;
  EXPECT_NE(err.find(json.string()), std::string::npos) << err;
  EXPECT_NE(err.find("No such file or directory"), std::string::npos) << err;
  EXPECT_EQ(read_text(csv).rfind("timestamp_utc,", 0), 0u);
}

// ---- loadgen-merge ------------------------------------------------------------------------------

std::string merge_path() { return MUXBENCH_LOADGEN_MERGE; }
std::string fixture(const std::string& name) {
  return std::string(MUXBENCH_LOADGEN_FIXTURES) + "/" + name;
}

void write_json(const fs::path& path, const Json& j) { std::ofstream(path) << j.dump(2) << "\n"; }

TEST(LoadgenMergeCli, TheSameReportTwiceIsRefusedUnlessForced) {
  TempDir dir;
  const auto open = fixture("report_open.json");
  expect_usage_error(merge_path(), {open, open}, "same file");
  const auto copy = dir.path() / "copy.json";
  fs::copy_file(open, copy);
  expect_usage_error(merge_path(), {open, copy.string()}, "same report");

  const auto merged = dir.path() / "merged.json";
  const auto forced =
      run_command({merge_path(), open, copy.string(), "--force", "--json", merged.string()}, 30s);
  EXPECT_EQ(forced.exit_code, 0) << forced.err;
  const Json m = Json::parse(read_text(merged));
  EXPECT_TRUE(mentions(m["problems"], "merged with --force")) << m["problems"];
  EXPECT_EQ(m["generators"].size(), 2u);
  expect_strict_json(merged);
}

// --hdr-unit on loadgen-merge too: the merged text in ms is the µs one divided by 1000.
TEST(LoadgenMergeCli, HdrUnitMillisecondsDividesByAMillion) {
  const auto open = fixture("report_open.json");
  const auto us = run_command({merge_path(), open, "--quiet", "--hdr", "-"}, 30s);
  const auto ms =
      run_command({merge_path(), open, "--quiet", "--hdr", "-", "--hdr-unit", "ms"}, 30s);
  ASSERT_EQ(us.exit_code, 0) << us.err;
  ASSERT_EQ(ms.exit_code, 0) << ms.err;
  const auto max_of = [](const std::string& text) {
    double max = 0;
    const auto at = text.find("#[Max");
    EXPECT_NE(at, std::string::npos) << text;
    EXPECT_EQ(std::sscanf(text.c_str() + at, "#[Max = %lf", &max), 1) << text;
    return max;
  };
  EXPECT_GT(max_of(us.out), 0);
  EXPECT_NEAR(max_of(ms.out), max_of(us.out) / 1000, 0.0005);
  expect_usage_error(merge_path(), {open, "--hdr-unit", "s"}, "--hdr-unit");
}

TEST(LoadgenMergeCli, ReportsOfDifferentMeasurementsAreRefusedNamingTheField) {
  TempDir dir;
  const Json base = Json::parse(read_text(fixture("report_open.json")));
  const auto a = dir.path() / "a.json";
  write_json(a, base);
  const std::vector<std::tuple<std::string, Json, std::string>> changes = {
      {"/config/duration_s", 2.0, "config.duration_s differs: 0.5"},
      {"/config/size", 128, "config.size differs: 64"},
      {"/config/rate", 3000.0, "config.rate differs: 1500.0"},
      {"/config/mode", "closed", "config.mode differs"},
      {"/schema_version", 2, "schema_version differs: 1"},
  };
  for (const auto& [pointer, value, text] : changes) {
    Json other = base;
    other[Json::json_pointer(pointer)] = value;
    other["environment"]["timestamp_utc"] = "another run";
    const auto b = dir.path() / "b.json";
    write_json(b, other);
    expect_usage_error(merge_path(), {a.string(), b.string()}, text);
    const auto forced =
        run_command({merge_path(), a.string(), b.string(), "--force", "--quiet"}, 30s);
    EXPECT_EQ(forced.exit_code, 0) << pointer << forced.err;
  }
  // Targets may differ: several hosts reach one server through different addresses.
  Json elsewhere = base;
  elsewhere["config"]["target"] = "10.0.0.1:7000";
  const auto c = dir.path() / "c.json";
  write_json(c, elsewhere);
  EXPECT_EQ(run_command({merge_path(), a.string(), c.string(), "--quiet"}, 30s).exit_code, 0);
}

TEST(LoadgenMergeCli, AReportWithoutAHistogramContributesNoLatency) {
  TempDir dir;
  Json report = Json::parse(read_text(fixture("report_open.json")));
  report.erase("histogram");
  const auto bare = dir.path() / "bare.json";
  write_json(bare, report);
  const auto merged = dir.path() / "merged.json";
  const auto only = run_command({merge_path(), bare.string(), "--json", merged.string()}, 30s);
  EXPECT_EQ(only.exit_code, 0) << only.err;
  Json m = Json::parse(read_text(merged));
  EXPECT_TRUE(m["latency_ns"].is_null()) << m["latency_ns"];
  EXPECT_FALSE(m.contains("histogram"));
  EXPECT_NE(only.out.find("none measured"), std::string::npos) << only.out;

  // Beside one with a histogram: the latency is that one's alone.
  Json other = Json::parse(read_text(fixture("report_open.json")));
  other["environment"]["timestamp_utc"] = "another run";
  const auto full = dir.path() / "full.json";
  write_json(full, other);
  ASSERT_EQ(
      run_command({merge_path(), bare.string(), full.string(), "--json", merged.string()}, 30s)
          .exit_code,
      0);
  m = Json::parse(read_text(merged));
  EXPECT_EQ(m["latency_ns"]["count"], other["latency_ns"]["count"]);
}

TEST(LoadgenMergeCli, OutputsAreCheckedFirstAndDashIsStandardOutput) {
  const auto open = fixture("report_open.json");
  expect_usage_error(merge_path(), {open, "--json", "/proc/version"}, "--json");
  expect_usage_error(merge_path(), {open, "--csv", "/nonexistent/m.csv"}, "--csv");
  expect_usage_error(merge_path(), {open, "--json", "-", "--hdr", "-"}, "both write");
  const auto csv = run_command({merge_path(), open, "--csv", "-"}, 30s);
  EXPECT_EQ(csv.exit_code, 0) << csv.err;
  EXPECT_EQ(csv.out.rfind("timestamp_utc,", 0), 0u) << csv.out;
  EXPECT_FALSE(fs::exists("-"));
}

}  // namespace
}  // namespace muxbench::testing

namespace muxbench::testing {
TEST(LoadgenUsage, VersionsPrintTheProjectVersionAndGitRevision) {
  expect_version(loadgen_path(), "loadgen");
  expect_version(MUXBENCH_LOADGEN_MERGE, "loadgen-merge");
}
}  // namespace muxbench::testing
