// The sweep's map dimensions end to end on tiny grids: active counts and offered rates crossed,
// rates as fractions of a backend's own closed-loop capacity, studies chosen by name, and the
// refusals of bad values before any work.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "common/subprocess.hpp"
#include "tests/support/echo_server_process.hpp"
#include "tests/support/usage.hpp"

namespace muxbench::testing {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;
using namespace std::chrono_literals;

Json read_json(const fs::path& path) {
  std::ifstream in(path);
  return Json::parse(in, nullptr, false);
}

CommandResult run_sweep(const fs::path& out, std::vector<std::string> args) {
  args.insert(args.begin(), {MUXBENCH_SWEEP, "--out", out.string()});
  // A busy test machine delays the generator by milliseconds: lateness is not what is tested.
  args.insert(args.end(), {"--duration", "300ms", "--warmup", "100ms", "--late-tolerance", "100ms",
                           "--micro-filter", "none", "--no-plots"});
  return run_command(args, 240s);
}

std::map<std::string, Json> points_by_id(const Json& sweep) {
  std::map<std::string, Json> points;
  for (const auto& p : sweep["points"]) points[p["id"].get<std::string>()] = p;
  return points;
}

TEST(SweepMap, ActiveCountsAndRateFractionsAreCrossed) {
  TempDir dir;
  const auto out = dir.path() / "run";
  const auto result =
      run_sweep(out, {"--backends", "poll,epoll-lt", "--idle", "0", "--active", "10,40", "--series",
                      "open-split-busy,closed-split", "--rates", "50%,100%,150%"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const Json sweep = read_json(out / "sweep.json");
  const auto points = points_by_id(sweep);
  // closed: 2 backends x 2 active; open: x 3 rates. The first active count is the base (no
  // suffix); the closed series runs first, whatever the order given.
  ASSERT_EQ(points.size(), 16u);
  EXPECT_EQ(sweep["points"][0]["load"], "closed");
  for (const char* backend : {"poll", "epoll-lt"}) {
    const std::string b = backend;
    for (const std::string active : {"", "__a40"}) {
      const auto closed = points.at("closed-split__" + b + "__idle0" + active + "__r1");
      ASSERT_EQ(closed["status"], "ok") << closed.dump();
      EXPECT_EQ(closed["rate"], nullptr);
      EXPECT_EQ(closed["active"], active.empty() ? 10 : 40);
      const double capacity = closed["throughput_msgs_per_s"].get<double>();
      for (const auto& [percent, fraction] :
           std::vector<std::pair<std::string, double>>{{"50", 0.5}, {"100", 1.0}, {"150", 1.5}}) {
        const auto id =
            "open-split-busy__" + b + "__idle0" + active + "__load" + percent + "pct__r1";
        const auto open = points.at(id);
        EXPECT_EQ(open["rate_fraction"].get<double>(), fraction) << id;
        EXPECT_DOUBLE_EQ(open["rate"].get<double>(), capacity * fraction) << id;
        // Past its capacity an open loop may keep up (the closed loop is bound by round trips)
        // or be overloaded, never failed.
        EXPECT_TRUE(open["status"] == "ok" || open["status"] == "overloaded") << open.dump();
      }
    }
  }
  const Json summary = read_json(out / "summary.json");
  ASSERT_TRUE(summary.contains("map")) << summary.dump(1);
  EXPECT_EQ(summary["map"]["load"].size(), 4u);      // 2 backends x 2 active counts
  ASSERT_EQ(summary["map"]["activity"].size(), 1u);  // poll against epoll-lt at 0 idle
  EXPECT_EQ(summary["map"]["activity"][0]["cells"].size(), 2u);
  std::ifstream md(out / "summary.md");
  const std::string text((std::istreambuf_iterator<char>(md)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("### All connections busy (activity)"), std::string::npos);
  EXPECT_NE(text.find("### Latency against offered load"), std::string::npos);
}

TEST(SweepMap, AFixedRateGetsItsOwnPoint) {
  TempDir dir;
  const auto out = dir.path() / "run";
  const auto result = run_sweep(out, {"--backends", "epoll-lt", "--idle", "0", "--series",
                                      "open-split-busy", "--rates", "20000"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  const auto points = points_by_id(read_json(out / "sweep.json"));
  ASSERT_EQ(points.size(), 1u);
  const auto fixed = points.at("open-split-busy__epoll-lt__idle0__rate20000__r1");
  EXPECT_EQ(fixed["rate"], 20000.0);
  EXPECT_EQ(fixed["rate_fraction"], nullptr);
  EXPECT_TRUE(fixed["status"] == "ok" || fixed["status"] == "overloaded") << fixed.dump();
}

TEST(SweepMap, StudiesAreChosenByNameAndTakeTheGivenDimensions) {
  TempDir dir;
  const auto out = dir.path() / "run";
  const auto result = run_sweep(
      out, {"--study", "size", "--backends", "epoll-lt", "--size", "64,4096", "--repeats", "1"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const Json sweep = read_json(out / "sweep.json");
  ASSERT_EQ(sweep["config"]["studies"].size(), 1u);
  EXPECT_EQ(sweep["config"]["studies"][0]["name"], "size");
  std::set<std::string> ids;
  for (const auto& p : sweep["points"]) ids.insert(p["id"].get<std::string>());
  EXPECT_EQ(ids, (std::set<std::string>{"closed-split__epoll-lt__idle0__r1",
                                        "closed-split__epoll-lt__idle0__s4096__r1"}));
  for (const auto& p : sweep["points"]) {
    EXPECT_TRUE(p["server"]["interest_changes_per_msg"].is_number()) << p.dump();
  }
}

TEST(SweepMap, ChurnPointsCountTheirConnectionsAndTheServersCpuPerConnection) {
  TempDir dir;
  const auto out = dir.path() / "run";
  const auto result = run_sweep(out, {"--study", "churn", "--backends", "poll,epoll-lt", "--idle",
                                      "0", "--lifetime", "2,persistent"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const Json sweep = read_json(out / "sweep.json");
  const auto points = points_by_id(sweep);
  ASSERT_EQ(points.size(), 4u);
  for (const char* backend : {"poll", "epoll-lt"}) {
    const std::string b = backend;
    const auto churn = points.at("closed-split__" + b + "__idle0__k2__r1");
    ASSERT_EQ(churn["status"], "ok") << churn.dump();
    EXPECT_EQ(churn["lifetime"], 2);
    EXPECT_GT(churn["connections"]["opened"].get<double>(), 0);
    EXPECT_GT(churn["connections"]["connect_latency_ns"]["count"].get<double>(), 0);
    EXPECT_GT(churn["server"]["cpu_us_per_conn"].get<double>(), 0);
    const auto persistent = points.at("closed-split__" + b + "__idle0__r1");
    EXPECT_EQ(persistent["lifetime"], nullptr);
    EXPECT_FALSE(persistent.contains("connections"));
  }
  const Json summary = read_json(out / "summary.json");
  ASSERT_EQ(summary["map"]["churn"].size(), 1u);  // poll against epoll-lt at 0 idle
  EXPECT_EQ(summary["map"]["churn"][0]["cells"][1]["x"], nullptr);  // persistent last
  std::ifstream csv(out / "sweep.csv");
  std::string header;
  std::getline(csv, header);
  EXPECT_NE(header.find(",server_cpu_us_per_conn,"), std::string::npos) << header;
}

TEST(SweepMap, TheServersStudyPutsPythonBesideC) {
  if (::access("/usr/bin/python3", X_OK) != 0) GTEST_SKIP() << "no /usr/bin/python3";
  TempDir dir;
  const auto out = dir.path() / "run";
  const auto result = run_sweep(out, {"--study", "servers", "--backends",
                                      "poll,epoll-lt,python-poll,python-epoll", "--idle", "0,100"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const Json sweep = read_json(out / "sweep.json");
  EXPECT_EQ(sweep["points"].size(), 8u);
  const Json summary = read_json(out / "summary.json");
  ASSERT_TRUE(summary.contains("python")) << summary.dump(1);
  EXPECT_TRUE(summary["python"]["cpu_us_per_msg"].contains("python-poll"));
  EXPECT_TRUE(summary["python"]["crossovers"].contains("python-poll"));
  EXPECT_TRUE(summary["python"]["ns_per_idle_fd_per_msg"].contains("python-poll:poll"));
}

// Refused before any work: exit 2, one line, no run directory.
void expect_refused(std::vector<std::string> args, const std::string& mentions) {
  TempDir dir;
  const auto out = dir.path() / "run";
  args.insert(args.end(), {"--out", out.string(), "--backends", "epoll-lt", "--duration", "100ms",
                           "--micro-filter", "none", "--no-plots"});
  expect_usage_error(MUXBENCH_SWEEP, args, mentions, 30s);
  EXPECT_FALSE(fs::exists(out)) << ::testing::PrintToString(args);
}

TEST(SweepMapUsage, BadDimensionsAreRefused) {
  for (const char* rate : {"0", "-5", "nan", "inf", "abc", "5000%", "0%", "%", "50%%", "1e10"}) {
    expect_refused({"--idle", "0", "--rates", rate}, "--rates");
  }
  expect_refused({"--idle", "0", "--rates", ""}, "--rates: an empty name");
  expect_refused({"--idle", "0", "--rates", "50%,50%"}, "--rates: 50% is given twice");
  for (const char* lifetime : {"0", "01", "-1", "x", "1.5", "persistentx"}) {
    expect_refused({"--idle", "0", "--lifetime", lifetime}, "--lifetime");
  }
  expect_refused({"--idle", "0", "--lifetime", "persistent,persistent"}, "given twice");
  expect_refused({"--idle", "0", "--series", "closed-split", "--rates", "50%"},
                 "--rates: offered rates need an open-loop series");
  expect_refused({"--idle", "0", "--series", "open-split-busy", "--rates", "50%"},
                 "no closed-loop series is measured beside it");
  expect_refused({"--study", "load", "--series", "closed-split"},
                 "--study load: the load study needs an open-loop series");
  for (const char* list : {"10,,20", ",10", "10,", ","}) {
    expect_refused({"--idle", "0", "--active", list}, "an empty item in the list");
  }
  expect_refused({"--idle", "0", "--lifetime", ",", "--series", "closed-split"},
                 "--lifetime ',': an empty item");
  expect_refused({"--idle", "0", "--lifetime", "4294967297"}, "--lifetime");
  expect_refused({"--idle", "0", "--rates", "0.5"}, "--rates: '0.5' is not a rate");
  expect_refused({"--idle", "0", "--active", "19990"}, "too few descriptors for loadgen's own");
  expect_refused({"--study", "activity", "--active", "19500", "--series", "closed-split"},
                 "do not fit the fd limit");
  expect_refused({"--study", "bogus"}, "--study: unknown study 'bogus' (known here: idle,");
  expect_refused({"--study", "size,size"}, "--study: size is given twice");
  expect_refused({"--idle", "0", "--active", "10,10"}, "--active: 10 is given twice");
  expect_refused({"--idle", "0", "--size", "64,64"}, "--size: 64 is given twice");
  // The largest active count decides how many idle connections fit under the fd limit.
  expect_refused({"--idle", "5000000", "--active", "10,20"}, "beside 20 active");
}

}  // namespace
}  // namespace muxbench::testing
