// sweep end to end: a tiny grid, interrupt + resume, a failing server, usage errors.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "common/run_lock.hpp"
#include "common/subprocess.hpp"
#include "tests/support/echo_server_process.hpp"
#include "tests/support/usage.hpp"

namespace muxbench::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// The open series tolerates late sends (a busy test machine delays the generator by a few ms): the
// tests check outputs, not lateness, and must not see such a point as overloaded.
const std::vector<std::string> kTinyGrid = {
    "--backends", "poll,epoll-lt",  "--idle",
    "0,20",       "--duration",     "300ms",
    "--warmup",   "100ms",          "--late-tolerance",
    "100ms",      "--micro-filter", "^(poll|epoll-lt)/socketpair/ready:1/fds:(16|64)/"};

// One closed-loop point per backend and idle count, kept short, no micro-benchmarks or charts.
const std::vector<std::string> kOneShortPointEach = {
    "--series", "closed-split",   "--duration", "200ms",     "--warmup",
    "50ms",     "--micro-filter", "none",       "--no-plots"};

std::vector<std::string> sweep_args(const fs::path& out, std::vector<std::string> extra) {
  std::vector<std::string> argv = {MUXBENCH_SWEEP, "--out", out.string()};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return argv;
}

nlohmann::json read_json(const fs::path& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in, nullptr, false);
}

std::vector<std::string> lines_of(const fs::path& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST(Sweep, TinyGridWritesEveryOutputAndCharts) {
  TempDir dir;
  const auto out = dir.path() / "run";
  const auto result = run_command(sweep_args(out, kTinyGrid), 120s);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  for (const char* file :
       {"env.json", "sweep.json", "sweep.csv", "micro.json", "micro.csv", "micro_table.md",
        "summary.md", "throughput.png", "throughput.svg", "cpu_per_message.png",
        "events_per_wait.png", "latency-open-split-busy.png", "percentiles-open-split-busy.png",
        "wait_cost.png"}) {
    ASSERT_TRUE(fs::exists(out / file)) << file << "\n" << result.err;
    EXPECT_GT(fs::file_size(out / file), 100u) << file;
  }
  const auto sweep = read_json(out / "sweep.json");
  ASSERT_TRUE(sweep.is_object());
  EXPECT_EQ(sweep["schema_version"], 1);
  EXPECT_EQ(sweep["kind"], "sweep");
  EXPECT_EQ(sweep["status"], "completed");
  EXPECT_EQ(sweep["points"].size(), 8u);  // 2 backends x 2 idle counts x 2 series
  for (const auto& point : sweep["points"]) {
    // A loaded test machine can stall the generator for longer than the 100 ms tolerance: an
    // open-loop point may then be (rightly) overloaded. That verdict is tested on its own.
    if (point["load"] == "open" && point["status"] == "overloaded") continue;
    EXPECT_EQ(point["status"], "ok") << point.dump();
    EXPECT_TRUE(point["server"]["cpu_us_per_msg"].is_number()) << point["id"];
    EXPECT_EQ(point["errors"], 0);
    EXPECT_EQ(point["idle_alive"], point["idle"]);
  }
  EXPECT_FALSE(sweep["aggregates"].empty());
  EXPECT_TRUE(sweep["environment"].contains("kernel"));

  const auto csv = lines_of(out / "sweep.csv");
  ASSERT_EQ(csv.size(), 9u);
  const auto columns = std::count(csv[0].begin(), csv[0].end(), ',');
  for (const auto& line : csv)
    EXPECT_EQ(std::count(line.begin(), line.end(), ','), columns) << line;

  std::stringstream summary;
  summary << std::ifstream(out / "summary.md").rdbuf();
  EXPECT_NE(summary.str().find("## What one more registered descriptor costs"), std::string::npos);
  EXPECT_NE(summary.str().find("## Where epoll overtakes"), std::string::npos);

  // Outside results/ no `latest` appears beside the run (issue 13; it used to).
  EXPECT_FALSE(fs::exists(fs::symlink_status(dir.path() / "latest"))) << result.err;
}

// The run directory's files, points included, are strict JSON (no NaN, no Infinity): micro.json
// comes from Google Benchmark, which writes bare NaN, and is rewritten by the sweep.
TEST(Sweep, EveryJsonItWritesIsStrict) {
  TempDir dir;
  const auto out = dir.path() / "run";
  const auto result =
      run_command(sweep_args(out, {"--backends", "epoll-lt", "--idle", "0", "--series",
                                   "closed-split,open-split-busy", "--late-tolerance", "100ms",
                                   "--duration", "200ms", "--warmup", "50ms", "--micro-filter",
                                   "^epoll-lt/socketpair/ready:1/fds:(16|64)/", "--no-plots"}),
                  120s);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  std::vector<std::string> argv = {"/usr/bin/python3",
                                   MUXBENCH_SOURCE_DIR "/scripts/strict_json.py"};
  for (const auto& entry : fs::recursive_directory_iterator(out)) {
    if (entry.path().extension() == ".json") argv.push_back(entry.path().string());
  }
  for (const char* kind : {"sweep.json", "env.json", "micro.json", "claims.json"})
    EXPECT_NE(std::find(argv.begin(), argv.end(), (out / kind).string()), argv.end()) << kind;
  EXPECT_GE(argv.size(), 2u + 4 + 4);  // the run's files and each point's two reports
  const auto strict = run_command(argv, 60s);
  EXPECT_EQ(strict.exit_code, 0) << strict.err;
}

// --resume --redo claims measures the claims again and nothing else: the points stay as they
// were, claims.json is new, and sweep.json says when the step was redone.
TEST(Sweep, RedoMeasuresAStepAgainAndRecordsWhen) {
  TempDir dir;
  const auto out = dir.path() / "run";
  const auto first =
      run_command(sweep_args(out, {"--backends", "epoll-lt", "--idle", "0", "--series",
                                   "closed-split", "--duration", "200ms", "--warmup", "50ms",
                                   "--micro-filter", "none", "--no-plots"}),
                  120s);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  const auto before = read_json(out / "sweep.json");
  EXPECT_FALSE(before["claims"].contains("redone_utc"));
  fs::remove(out / "claims.json");
  const auto redone = run_command(
      {MUXBENCH_SWEEP, "--resume", out.string(), "--redo", "claims", "--no-plots"}, 120s);
  ASSERT_EQ(redone.exit_code, 0) << redone.err;
  const auto after = read_json(out / "sweep.json");
  EXPECT_EQ(after["claims"]["status"], "ok");
  EXPECT_TRUE(after["claims"]["redone_utc"].is_string()) << after["claims"].dump();
  EXPECT_EQ(after["micro"], before["micro"]) << "a step not named is left alone";
  EXPECT_EQ(after["points"], before["points"]);
  EXPECT_EQ(after["resumed_utc"].size(), 1u);
  EXPECT_EQ(after["finished_utc"], before["finished_utc"]) << "no point was measured again";
  EXPECT_EQ(read_json(out / "claims.json")["kind"], "claims");
}

// Only a run directly under results/ (the default place) moves results/latest.
TEST(Sweep, ARunUnderResultsMovesLatest) {
  TempDir dir;
  std::string command =
      "cd '" + dir.path().string() + "' && exec " MUXBENCH_SWEEP " --out results/run";
  for (const auto& arg : kOneShortPointEach) command += " '" + arg + "'";
  command += " --backends epoll-lt --idle 0";
  const auto result = run_command({"/bin/sh", "-c", command}, 60s);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_TRUE(fs::is_symlink(dir.path() / "results/latest"));
  EXPECT_EQ(fs::read_symlink(dir.path() / "results/latest"), fs::path("run"));
}

// A wait-bench that dies by a signal: the micro step's reason names the signal.
TEST(Sweep, AMicroStepKilledByASignalSaysWhichSignal) {
  TempDir dir;
  const auto wrapper = dir.path() / "crashing-wait-bench";
  std::ofstream(wrapper) << "#!/bin/sh\necho 'about to crash' >&2\nkill -SEGV $$\n";
  fs::permissions(wrapper, fs::perms::owner_all);
  const auto out = dir.path() / "run";
  const auto result = run_command(
      sweep_args(out, {"--backends", "epoll-lt", "--idle", "0", "--series", "closed-split",
                       "--duration", "200ms", "--warmup", "50ms", "--micro-filter", "^poll/",
                       "--no-plots", "--wait-bench", wrapper.string()}),
      60s);
  EXPECT_EQ(result.exit_code, 1) << result.err;
  const auto sweep = read_json(out / "sweep.json");
  ASSERT_TRUE(sweep.is_object()) << result.err;
  EXPECT_EQ(sweep["micro"]["status"], "failed");
  EXPECT_EQ(sweep["micro"]["reason"],
            "wait-bench killed by signal 11 (Segmentation fault): about to crash");
  EXPECT_EQ(sweep["points"][0]["status"], "ok");
}

// Two sweeps on one directory at once: the second is refused, names the directory, does nothing.
TEST(SweepUsage, ALockedRunDirectoryIsRefused) {
  TempDir dir;
  const auto out = dir.path() / "run";
  fs::create_directories(out);
  const auto held = DirectoryLock::try_acquire(out);
  ASSERT_TRUE(held);
  auto args = kOneShortPointEach;
  args.insert(args.end(), {"--backends", "epoll-lt", "--idle", "0", "--out", out.string()});
  const auto refused =
      testing::expect_usage_error(MUXBENCH_SWEEP, args, "another sweep is running", 30s);
  EXPECT_NE(refused.err.find(out.string()), std::string::npos) << refused.err;
  EXPECT_FALSE(fs::exists(out / "sweep.json"));
  EXPECT_FALSE(fs::exists(out / "points"));

  // --resume too, before it reads anything.
  std::ofstream(out / "sweep.json") << "{}\n";
  testing::expect_usage_error(MUXBENCH_SWEEP, {"--resume", out.string()},
                              "another sweep is running", 30s);
  EXPECT_FALSE(fs::exists(out / "points"));
}

TEST(Sweep, InterruptedThenResumedGivesTheSameSetOfPoints) {
  TempDir dir;
  const auto out = dir.path() / "run";
  const std::vector<std::string> grid = {"--backends", "poll,epoll-lt", "--idle",         "0,10,20",
                                         "--series",   "closed-split",  "--duration",     "400ms",
                                         "--warmup",   "100ms",         "--micro-filter", "none",
                                         "--no-plots"};
  SpawnOptions quiet;
  quiet.capture_stderr = true;
  auto sweep = Subprocess::spawn(sweep_args(out, grid), quiet);
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (std::chrono::steady_clock::now() < deadline) {
    const auto partial = read_json(out / "sweep.json");
    if (partial.is_object() && partial["points"].size() >= 2) break;
    std::this_thread::sleep_for(20ms);
  }
  sweep.send_signal(SIGINT);
  ASSERT_EQ(sweep.wait(60s), 130);
  const auto interrupted = read_json(out / "sweep.json");
  ASSERT_TRUE(interrupted.is_object());
  EXPECT_EQ(interrupted["status"], "interrupted");
  EXPECT_LT(interrupted["points"].size(), 6u);

  const auto resumed = run_command({MUXBENCH_SWEEP, "--resume", out.string()}, 120s);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  const auto done = read_json(out / "sweep.json");
  EXPECT_EQ(done["status"], "completed");
  std::multiset<std::string> ids;
  for (const auto& point : done["points"]) ids.insert(point["id"].get<std::string>());
  std::multiset<std::string> expected;
  for (const char* backend : {"poll", "epoll-lt"}) {
    for (const char* idle : {"0", "10", "20"}) {
      expected.insert(std::string("closed-split__") + backend + "__idle" + idle + "__r1");
    }
  }
  EXPECT_EQ(ids, expected);
  EXPECT_EQ(done["resumed_utc"].size(), 1u);
}

TEST(Sweep, AFailingPointIsRecordedAndTheSweepGoesOn) {
  TempDir dir;
  // A server that dies at once for poll and works for epoll-lt.
  const auto wrapper = dir.path() / "flaky-echo-server";
  std::ofstream(wrapper) << "#!/bin/sh\n[ \"$2\" = poll ] && exit 3\nexec " << echo_server_path()
                         << " \"$@\"\n";
  fs::permissions(wrapper, fs::perms::owner_all);
  const auto out = dir.path() / "run";
  auto args = kTinyGrid;
  args.insert(args.end(),
              {"--series", "closed-split", "--echo-server", wrapper.string(), "--no-plots"});
  const auto result = run_command(sweep_args(out, args), 120s);
  EXPECT_EQ(result.exit_code, 1) << result.err;
  const auto sweep = read_json(out / "sweep.json");
  ASSERT_TRUE(sweep.is_object());
  EXPECT_EQ(sweep["status"], "completed_with_failures");
  ASSERT_EQ(sweep["points"].size(), 4u);
  for (const auto& point : sweep["points"]) {
    if (point["backend"] == "poll") {
      EXPECT_EQ(point["status"], "failed");
      EXPECT_NE(point["reason"].get<std::string>().find("did not start"), std::string::npos);
    } else {
      EXPECT_EQ(point["status"], "ok") << point.dump();
    }
  }
}

TEST(Sweep, ABackendThatCannotRunHereIsRecordedUnsupported) {
  TempDir dir;
  // As echo-server does where io_uring is blocked: a message and exit code 4.
  const auto wrapper = dir.path() / "no-uring-echo-server";
  std::ofstream(wrapper)
      << "#!/bin/sh\nif [ \"$2\" = uring ]; then\n"
      << "  echo 'echo-server: backend uring is unsupported here: io_uring is not "
         "available here: Operation not permitted' >&2\n  exit 4\nfi\nexec "
      << echo_server_path() << " \"$@\"\n";
  fs::permissions(wrapper, fs::perms::owner_all);
  const auto out = dir.path() / "run";
  auto args = kOneShortPointEach;
  args.insert(args.end(),
              {"--backends", "uring,epoll-lt", "--idle", "0", "--echo-server", wrapper.string()});
  const auto result = run_command(sweep_args(out, args), 60s);
  EXPECT_EQ(result.exit_code, 0) << result.err;
  const auto sweep = read_json(out / "sweep.json");
  ASSERT_EQ(sweep["points"].size(), 2u);
  EXPECT_EQ(sweep["points"][0]["backend"], "uring");
  EXPECT_EQ(sweep["points"][0]["status"], "unsupported");
  EXPECT_NE(sweep["points"][0]["reason"].get<std::string>().find("io_uring"), std::string::npos);
  EXPECT_EQ(sweep["points"][1]["status"], "ok");
  // The summary names the backend and the reason, not select's FD_SETSIZE.
  std::ifstream summary_file(out / "summary.md");
  const std::string summary{std::istreambuf_iterator<char>(summary_file), {}};
  EXPECT_NE(summary.find("1 uring points were not run, unsupported here (the first: echo-server: "
                         "backend uring is unsupported here"),
            std::string::npos)
      << summary;
  EXPECT_EQ(summary.find("FD_SETSIZE"), std::string::npos) << summary;
}

TEST(Sweep, SelectBeyondFdSetSizeIsRecordedUnsupportedNotRun) {
  TempDir dir;
  const auto out = dir.path() / "run";
  auto args = kOneShortPointEach;
  args.insert(args.end(), {"--backends", "select", "--idle", "0,1500"});
  const auto result = run_command(sweep_args(out, args), 60s);
  EXPECT_EQ(result.exit_code, 0) << result.err;
  const auto sweep = read_json(out / "sweep.json");
  ASSERT_EQ(sweep["points"].size(), 2u);
  EXPECT_EQ(sweep["points"][0]["status"], "ok");
  EXPECT_EQ(sweep["points"][1]["status"], "unsupported");
  EXPECT_NE(sweep["points"][1]["reason"].get<std::string>().find("FD_SETSIZE"), std::string::npos);
}

// An open loop far past what any server sustains: recorded overloaded with its measurement (never
// ok, never a failure), and the run goes on.
TEST(Sweep, AnOpenLoopPastCapacityIsRecordedOverloaded) {
  TempDir dir;
  const auto out = dir.path() / "run";
  const auto result =
      run_command(sweep_args(out, {"--backends", "epoll-lt", "--idle", "0", "--series",
                                   "open-split-busy", "--rate", "1e9", "--duration", "300ms",
                                   "--warmup", "100ms", "--micro-filter", "none", "--no-plots"}),
                  60s);
  EXPECT_EQ(result.exit_code, 0) << result.err;
  const auto sweep = read_json(out / "sweep.json");
  ASSERT_EQ(sweep["points"].size(), 1u);
  const auto& point = sweep["points"][0];
  EXPECT_EQ(point["status"], "overloaded") << point.dump(1);
  EXPECT_GT(point["throughput_msgs_per_s"].get<double>(), 0);
  EXPECT_LT(point["throughput_msgs_per_s"].get<double>(), 1e9);
  EXPECT_EQ(sweep["aggregates"][0]["ok_runs"], 0);
  EXPECT_EQ(lines_of(out / "sweep.csv").at(1).find("overloaded") != std::string::npos, true);
}

void expect_usage_error(std::vector<std::string> args, const std::string& mentions) {
  testing::expect_usage_error(MUXBENCH_SWEEP, std::move(args), mentions, 30s);
}

// Refused before any work: exit 2, one line, and the run directory is not even made.
void expect_refused(std::vector<std::string> args, const std::string& mentions) {
  TempDir dir;
  const auto out = dir.path() / "run";
  args.insert(args.end(), {"--out", out.string()});
  // Should it be accepted, the run is one short point.
  for (const auto& [option, value] :
       std::vector<std::pair<std::string, std::string>>{{"--backends", "epoll-lt"},
                                                        {"--idle", "0"},
                                                        {"--series", "closed-split"},
                                                        {"--duration", "100ms"},
                                                        {"--warmup", "50ms"},
                                                        {"--micro-filter", "none"}}) {
    if (std::find(args.begin(), args.end(), option) == args.end())
      args.insert(args.end(), {option, value});
  }
  args.push_back("--no-plots");
  expect_usage_error(args, mentions);
  EXPECT_FALSE(fs::exists(out)) << "refused after it began: " << ::testing::PrintToString(args);
}

TEST(SweepUsage, RedoNeedsResumeAndAKnownStep) {
  expect_refused({"--redo", "claims"}, "--redo");
  TempDir dir;
  expect_usage_error({"--resume", dir.path().string(), "--redo", "points"}, "--redo");
  expect_usage_error({"--resume", dir.path().string(), "--redo", ""}, "--redo");
}

TEST(SweepUsage, DegenerateGridsAreRefusedBeforeAnyWork) {
  expect_refused({"--repeats", "0"}, "--repeats");
  expect_refused({"--active", "0"}, "--active");
  expect_refused({"--active", "-1"}, "--active");
  expect_refused({"--backends", ""}, "--backends: an empty name");
  expect_refused({"--idle", ""}, "--idle");
  expect_refused({"--series", ""}, "--series: an empty name");
  expect_refused({"--backends", "poll,poll"}, "--backends: poll is given twice");
  expect_refused({"--idle", "0,0"}, "--idle: 0 is given twice");
  expect_refused({"--series", "closed-split,closed-split"}, "closed-split is given twice");
  expect_refused({"--size", "1"}, "--size: Value 1 not in range 16 to");  // loadgen's minimum
  expect_refused({"--size", "0x40"}, "'0x40' is not a count");
  expect_refused({"--idle", "0x10"}, "'0x10' is not a count");
  expect_refused({"--idle", "-1"}, "'-1' is not a count");
  expect_refused({"--depth", "0"}, "--depth");
  expect_refused({"--out", ""}, "--out: empty path");
}

TEST(SweepUsage, NonNumbersAndOverflowsAreRefusedWithShortTexts) {
  for (const char* rate : {"nan", "inf"}) {
    expect_refused({"--rate", rate}, std::string("--rate: '") + rate + "' is not a finite number");
  }
  expect_refused({"--rate", "0"}, "--rate: '0' is not above zero");
  expect_refused({"--rate", "-5"}, "--rate: '-5' is not above zero");
  expect_refused({"--duration", "1e10s"}, "--duration 1e10s: longer than a year");
  expect_refused({"--warmup", "99999999h"}, "--warmup 99999999h: longer than a year");
  expect_refused({"--duration", "0x10s"}, "--duration 0x10s");
  expect_refused({"--duration", "nan"}, "--duration nan");
}

TEST(SweepUsage, AnOutPathThatCannotBeARunDirectoryIsRefused) {
  TempDir dir;
  const auto file = dir.path() / "a-file";
  std::ofstream(file) << "x";
  auto args = kOneShortPointEach;
  args.insert(args.end(), {"--backends", "epoll-lt", "--idle", "0", "--out", file.string()});
  expect_usage_error(args, "exists and is not a directory");
  args.back() = (file / "run").string();
  expect_usage_error(args, "cannot create it");
}

TEST(SweepUsage, VersionPrintsTheProjectVersionAndGitRevision) {
  testing::expect_version(MUXBENCH_SWEEP, "sweep");
}

TEST(SweepUsage, BadOptionsExitWithTwo) {
  TempDir dir;
  expect_usage_error({"--backends", "kqueue", "--out", (dir.path() / "a").string()}, "kqueue");
  expect_usage_error({"--idle", "5000000", "--out", (dir.path() / "b").string()}, "fd limit");
  expect_usage_error({"--resume", dir.path().string()}, "no sweep.json");
  expect_usage_error({"--quick", "--full"}, "excludes");
  expect_usage_error({"--series", "sideways", "--out", (dir.path() / "c").string()}, "sideways");
  expect_usage_error({"--duration", "forever", "--out", (dir.path() / "d").string()}, "--duration");
}

}  // namespace
}  // namespace muxbench::testing
