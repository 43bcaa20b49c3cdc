// The typed result models against real files: the reference run of 2026-12-02 (the format before
// the map, kept compressed as a fixture), the committed reference run, the echo-server's stats
// lines, and the sweep's analysis recomputing the reference's numbers.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

#include "bench/sweep/analysis.hpp"
#include "bench/sweep/sweep_config.hpp"
#include "common/backend_table.hpp"
#include "common/subprocess.hpp"
#include "model/stats_snapshot.hpp"
#include "model/sweep_document.hpp"
#include "model/sweep_summary.hpp"
#include "tests/support/echo_server_process.hpp"

namespace muxbench::testing {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;
using namespace std::chrono_literals;

const fs::path kSource = MUXBENCH_SOURCE_DIR;
const fs::path kReference = kSource / "results/reference";
const fs::path kOldReference = kSource / "tests/fixtures/sweep/reference-2026-12-02.sweep.json.xz";

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// Written back exactly: same keys, same values, same number kinds (188040.0 stays a double).
template <class Model>
void expect_round_trip(const Json& original) {
  const Json written = original.get<Model>();
  EXPECT_EQ(written.dump(), original.dump());
}

// The fields the map added (model/sweep_config.hpp Workload, Study; ServerWindow's per-connection
// and interest-change figures; server_proc's process count), which a run recorded before lacks.
bool added_by_the_map(const std::string& path) {
  if (path.find("/studies") != std::string::npos) return true;
  if (path.find("/offered_rate_msgs_per_s/") != std::string::npos) return true;
  const std::string key = path.substr(path.rfind('/') + 1);
  for (const char* added : {"size", "lifetime", "rate", "rate_fraction", "active",
                            "cpu_us_per_conn", "interest_changes_per_msg", "processes"}) {
    if (key == added) return true;
  }
  return false;
}

// Counts that older runs wrote as floats (9172.0) and today's write as integers.
bool counted_since_the_map(const std::string& path) {
  return path.ends_with("/server/wait_calls") || path.ends_with("/server/events");
}

// Read and written back: every value of the original kept exactly (same number kinds: 188040.0
// stays a double); what is added is only the map's fields, with the values an older run means.
void expect_upgraded(const Json& written, const Json& original) {
  const Json w = written.flatten();
  const Json o = original.flatten();
  for (const auto& [path, value] : o.items()) {
    ASSERT_TRUE(w.contains(path)) << path;
    if (counted_since_the_map(path) && value.is_number()) {
      EXPECT_TRUE(w.at(path).is_number_integer()) << path;
      EXPECT_EQ(w.at(path).get<double>(), value.get<double>()) << path;
      continue;
    }
    EXPECT_EQ(w.at(path).dump(), value.dump()) << path;
  }
  for (const auto& [path, value] : w.items()) {
    if (!o.contains(path)) {
      EXPECT_TRUE(added_by_the_map(path)) << path;
    }
  }
}

template <class Model>
void expect_upgraded_round_trip(const Json& original) {
  const Json written = original.get<Model>();
  expect_upgraded(written, original);
}

// Every key path of a document, objects only (arrays by their first element).
void key_paths(const Json& j, const std::string& at, std::set<std::string>& out) {
  if (j.is_object()) {
    for (const auto& [key, value] : j.items()) {
      out.insert(at + "/" + key);
      key_paths(value, at + "/" + key, out);
    }
  }
}

// The reference run of 2026-12-02, before the map: an old file must still read and write back.
class SweepModelReference : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const auto unpacked = run_command({"/usr/bin/xz", "-dc", kOldReference.string()}, 60s);
    sweep_json_ = new Json(Json::parse(unpacked.out));
  }
  static void TearDownTestSuite() { delete sweep_json_; }
  static const Json& sweep_json() { return *sweep_json_; }

 private:
  static inline Json* sweep_json_ = nullptr;
};

TEST_F(SweepModelReference, LoadsIntoTheModelsAndWritesBackEqual) {
  const SweepDocument sweep = sweep_json().get<SweepDocument>();
  expect_upgraded(Json(sweep), sweep_json());

  ASSERT_EQ(sweep.points.size(), 756u);
  EXPECT_EQ(sweep.status, SweepStatus::completed);
  EXPECT_EQ(sweep.resumed_utc.size(), 2u);
  ASSERT_TRUE(sweep.micro);
  EXPECT_EQ(sweep.micro->status, StepStatus::ok);
  EXPECT_EQ(sweep.config.series.at(3).placement, Placement::shared);
  EXPECT_EQ(sweep.config.series.at(1).load, LoadMode::open);
  EXPECT_EQ(sweep.config.duration, std::chrono::seconds(3));
  std::map<PointStatus, int> statuses;
  for (const auto& p : sweep.points) {
    ++statuses[p.status];
    // Unsupported points never started a server: no exit codes, no measurement, a reason.
    EXPECT_EQ(p.status == PointStatus::unsupported, !p.exits && !p.measured && p.reason) << p.id;
  }
  EXPECT_EQ(statuses[PointStatus::ok], 696);
  EXPECT_EQ(statuses[PointStatus::unsupported], 60);
}

TEST_F(SweepModelReference, EachPointAndAggregateRoundTrips) {
  for (const auto& point : sweep_json()["points"]) expect_upgraded_round_trip<PointRecord>(point);
  for (const auto& aggregate : sweep_json()["aggregates"])
    expect_upgraded_round_trip<Aggregate>(aggregate);
  expect_upgraded_round_trip<SweepConfig>(sweep_json()["config"]);
}

TEST_F(SweepModelReference, AggregatesOfItsPointsAreItsAggregates) {
  const auto sweep = sweep_json().get<SweepDocument>();
  expect_upgraded(Json(aggregate_points(sweep.points)), sweep_json()["aggregates"]);
}

// The committed reference run (results/reference): read and written back, complete, and its
// summary recomputed from its files alone.
class SweepModelCommittedReference : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    sweep_json_ = new Json(Json::parse(read_text(kReference / "sweep.json")));
  }
  static void TearDownTestSuite() { delete sweep_json_; }
  static const Json& sweep_json() { return *sweep_json_; }

 private:
  static inline Json* sweep_json_ = nullptr;
};

TEST_F(SweepModelCommittedReference, LoadsIntoTheModelsAndEveryPointOfItsGridIsThere) {
  const SweepDocument sweep = sweep_json().get<SweepDocument>();
  expect_upgraded(Json(sweep), sweep_json());
  EXPECT_NE(sweep.status, SweepStatus::interrupted);
  std::set<std::string> measured;
  for (const auto& p : sweep.points) {
    EXPECT_TRUE(measured.insert(p.id).second) << p.id;
    EXPECT_NE(p.status, PointStatus::interrupted) << p.id;
    // Unsupported points carry the reason; an ok point its measurement.
    EXPECT_TRUE(p.status != PointStatus::unsupported || p.reason) << p.id;
    EXPECT_TRUE(p.status != PointStatus::ok || p.measured) << p.id;
  }
  for (const auto& planned : build_grid(sweep.config))
    EXPECT_TRUE(measured.contains(planned.id)) << planned.id;
  expect_upgraded(Json(aggregate_points(sweep.points)), sweep_json()["aggregates"]);
}

TEST_F(SweepModelCommittedReference, SummaryNumbersAreTheCommittedSummary) {
  const auto sweep = sweep_json().get<SweepDocument>();
  const Json committed = Json::parse(read_text(kReference / "summary.json"));
  // The send buffer the cost model assumed is the reporting machine's; it is kept in the summary.
  double send_buffer = std::numeric_limits<double>::infinity();
  const Json::json_pointer assumed("/map/model/coefficients_ns/assumed_send_buffer_bytes");
  if (committed.contains(assumed) && committed.at(assumed).get<double>() > 0)
    send_buffer = committed.at(assumed).get<double>();
  const std::string micro_json = read_text(kReference / "micro.json");
  const auto summary = summarise(sweep, read_micro_wait_costs(micro_json),
                                 read_text(kReference / "micro_table.md"), micro_json, send_buffer);
  EXPECT_EQ(Json(summary.numbers).dump(2) + "\n", read_text(kReference / "summary.json"));
  // Every table row of the committed summary.md (per-fd, latency, the map, Python, micro) is
  // stated again.
  const auto lines = lines_of(summary.markdown);
  const std::set<std::string> written(lines.begin(), lines.end());
  std::size_t rows = 0;
  for (const auto& line : lines_of(read_text(kReference / "summary.md"))) {
    if (line.rfind("|", 0) != 0) continue;
    ++rows;
    EXPECT_TRUE(written.contains(line)) << line;
  }
  EXPECT_GT(rows, 40u);
  ASSERT_TRUE(summary.numbers.per_fd.contains("uring-poll"));
  EXPECT_TRUE(summary.numbers.per_fd.at("uring-poll").micro_ns_per_fd);
  EXPECT_TRUE(summary.numbers.map);
  EXPECT_TRUE(summary.numbers.python);
}

TEST_F(SweepModelCommittedReference, SummaryJsonRoundTrips) {
  const Json summary = Json::parse(read_text(kReference / "summary.json"));
  const Json written = summary.get<SweepSummary>();
  EXPECT_EQ(written.dump(2), summary.dump(2));
  const auto typed = summary.get<SweepSummary>();
  ASSERT_TRUE(typed.overtakes.contains("poll"));
  EXPECT_TRUE(typed.overtakes.at("poll").from_idle);
  EXPECT_TRUE(typed.et_over_lt);
}

TEST(SweepModelAggregateIndex, LooksUpBySeriesBackendAndIdle) {
  std::vector<Aggregate> aggregates(3);
  const auto aggregate = [](std::string backend, std::uint64_t idle, bool bound) {
    Aggregate a;
    a.series = "closed-split";
    a.backend = std::move(backend);
    a.idle = idle;
    a.active = 10;
    a.size = 64;
    a.total_fds = idle + 10;
    a.runs = a.ok_runs = 1;
    a.status = "ok";
    a.generator_bound = bound;
    return a;
  };
  aggregates[0] = aggregate("poll", 1000, false);
  aggregates[1] = aggregate("poll", 0, true);
  aggregates[2] = aggregate("poll-x", 5, false);
  aggregates[0].metrics[Metric::server_cpu_us_per_msg] = MetricStats{2.0, 1.0, 3.0};
  aggregates[1].metrics[Metric::server_cpu_us_per_msg] = MetricStats{1.5, 1.0, 2.0};
  aggregates[2].metrics[Metric::server_cpu_us_per_msg] = MetricStats{9.0, 9.0, 9.0};
  const AggregateIndex index(aggregates);
  EXPECT_EQ(index.idles("closed-split", "poll", Metric::server_cpu_us_per_msg),
            (std::vector<std::uint64_t>{0, 1000}));
  EXPECT_TRUE(index.idles("closed-split", "poll", Metric::fds_per_wait).empty());
  EXPECT_EQ(index.median("closed-split", "poll", 1000, Metric::server_cpu_us_per_msg), 2.0);
  EXPECT_FALSE(index.median("closed-split", "poll", 1000, Metric::fds_per_wait));
  EXPECT_FALSE(index.median("open-split", "poll", 1000, Metric::server_cpu_us_per_msg));
  ASSERT_NE(index.find("closed-split", "poll", 0), nullptr);
  EXPECT_TRUE(index.find("closed-split", "poll", 0)->generator_bound);
}

TEST(SweepModelMicro, OldAndNewBackendSpellingsAreOneBackend) {
  const std::string micro = R"({"benchmarks": [
    {"name": "epoll_lt/socketpair/ready:1/fds:16/manual_time", "run_type": "iteration",
     "ns_per_call": 100.0},
    {"name": "epoll-lt/socketpair/ready:1/fds:64/manual_time", "run_type": "iteration",
     "ns_per_call": 110.0},
    {"name": "uring_poll/socketpair/ready:1/fds:16/manual_time", "run_type": "iteration",
     "ns_per_call": 90.0},
    {"name": "epoll-et-rearm/socketpair/ready:1/fds:16/manual_time", "run_type": "iteration",
     "ns_per_call": 95.0},
    {"name": "epoll_lt/socketpair/ready:0/fds:16/manual_time", "run_type": "iteration",
     "ns_per_call": 1.0},
    {"name": "epoll_lt/socketpair/ready:1/fds:16/manual_time_stddev", "run_type": "aggregate",
     "ns_per_call": NaN},
    {"name": "epoll_ctl_add/fds:16", "run_type": "iteration", "ns_per_call": 5.0}]})";
  const auto costs = read_micro_wait_costs(micro);
  ASSERT_EQ(costs.size(), 4u);
  EXPECT_EQ(costs[0].backend, "epoll-lt");
  EXPECT_EQ(costs[0].fds, 16);
  EXPECT_EQ(costs[1].backend, "epoll-lt");
  EXPECT_EQ(costs[1].fds, 64);
  EXPECT_EQ(costs[2].backend, "uring-poll");
  EXPECT_EQ(costs[3].backend, "epoll-et-rearm");
  EXPECT_TRUE(read_micro_wait_costs("not json").empty());
}

TEST(SweepModelConfig, DefaultsListEveryBackendOfTheTableAndEnumsAreStrings) {
  const SweepConfig config = default_config(true, 20000, {0, 1});
  ASSERT_EQ(config.backends.size(), kBackendTable.size());
  for (std::size_t i = 0; i < kBackendTable.size(); ++i)
    EXPECT_EQ(config.backends[i], kBackendTable[i].name);
  const Json json = config;
  EXPECT_EQ(json["series"][0]["load"], "closed");
  EXPECT_EQ(json["series"][1]["load"], "open");
  EXPECT_EQ(json["series"][3]["placement"], "shared");
  EXPECT_EQ(json["duration_s"].dump(), "2.0");
  expect_round_trip<SweepConfig>(json);
  // Every study of the map, each with the closed series first where it has an open one too.
  std::vector<std::string> studies;
  for (const auto& study : config.studies) studies.push_back(study.name);
  EXPECT_EQ(studies, (std::vector<std::string>{"idle", "crossover", "activity", "churn", "size",
                                               "servers", "servers-activity", "load"}));
  EXPECT_EQ(config.studies.back().series.front().load, LoadMode::closed);
  EXPECT_EQ(config.studies.back().rate_fractions.size(), 7u);
  // Runs recorded before remote generators have neither template.
  Json old = json;
  old.erase("server_command");
  old.erase("generator_commands");
  EXPECT_TRUE(old.get<SweepConfig>().generator_commands.empty());
}

PointRecord base_point() {
  PointRecord p;
  p.id = "closed-split__poll__idle0__r1";
  p.series = "closed-split";
  p.backend = "poll";
  p.active = 10;
  p.total_fds = 10;
  p.generator_cpu = 1;
  return p;
}

TEST(SweepModelPoint, AbsentStaysAbsentAndNullStaysNull) {
  // Failed before loadgen wrote a report: exit codes, no measurement fields at all.
  PointRecord failed = base_point();
  failed.status = PointStatus::failed;
  failed.reason = "loadgen wrote no report: x";
  failed.exits = PointExits{{std::nullopt}, false, 0};
  Json json = failed;
  EXPECT_TRUE(json["loadgen_exit"].is_null());
  EXPECT_EQ(json["server_exit"], 0);
  EXPECT_FALSE(json.contains("server"));
  EXPECT_FALSE(json.contains("latency_ns"));
  EXPECT_FALSE(json.contains("throughput_msgs_per_s"));
  expect_round_trip<PointRecord>(json);

  // Remote generators: one exit code each, as a list; a measurement without a server window.
  PointRecord remote = base_point();
  remote.generator_cpu.reset();
  remote.generators = 2;
  remote.status = PointStatus::failed;
  remote.reason = "the server wrote fewer than two window snapshots";
  remote.exits = PointExits{{0, std::nullopt}, true, 0};
  remote.measured = PointMeasurement{};
  remote.measured->throughput_msgs_per_s = 188040;
  json = remote;
  EXPECT_EQ(json["loadgen_exit"].dump(), "[0,null]");
  EXPECT_TRUE(json["generator_cpu"].is_null());
  EXPECT_TRUE(json.contains("server"));
  EXPECT_TRUE(json["server"].is_null());
  EXPECT_EQ(json["throughput_msgs_per_s"].dump(), "188040.0");
  expect_round_trip<PointRecord>(json);

  // ok: no reason; asio's window has null wait counts.
  PointRecord ok = base_point();
  ok.exits = PointExits{{0}, false, 0};
  ok.measured = PointMeasurement{};
  ok.measured->server = ServerWindow{};
  ok.measured->server->open_connections = 10;
  json = ok;
  EXPECT_FALSE(json.contains("reason"));
  EXPECT_EQ(json["status"], "ok");
  EXPECT_TRUE(json["server"]["wait_calls"].is_null());
  EXPECT_EQ(json["server"]["open_connections"].dump(), "10");
  expect_round_trip<PointRecord>(json);
}

TEST(SweepModelDocument, StepsAndTimesAbsentUntilTheyHappen) {
  SweepDocument doc;
  doc.run_id = "r";
  Json json = doc;
  for (const char* key : {"finished_utc", "status", "micro", "claims"})
    EXPECT_FALSE(json.contains(key)) << key;
  EXPECT_TRUE(json["points"].is_array());
  EXPECT_TRUE(json["resumed_utc"].is_array());
  doc.status = SweepStatus::completed_with_failures;
  doc.micro = StepOutcome{StepStatus::failed, std::nullopt, "exit 1", std::nullopt};
  json = doc;
  EXPECT_EQ(json["status"], "completed_with_failures");
  EXPECT_EQ(json["micro"].dump(), R"({"reason":"exit 1","status":"failed"})");
  expect_round_trip<SweepDocument>(json);
}

std::vector<std::string> fixture_lines(const char* name) {
  return lines_of(read_text(kSource / "tests/fixtures" / name));
}

TEST(SweepModelStatsSnapshot, EchoServerLinesRoundTrip) {
  for (const char* fixture : {"echo_server_stats_poll.jsonl", "echo_server_stats_asio.jsonl"}) {
    const auto lines = fixture_lines(fixture);
    ASSERT_EQ(lines.size(), 2u) << fixture;
    for (const auto& line : lines) {
      const auto snapshot = Json::parse(line).get<StatsSnapshot>();
      EXPECT_EQ(Json(snapshot).dump(), line);
      EXPECT_EQ(snapshot.kind, StatsSnapshot::kKind);
    }
  }
  const auto poll =
      Json::parse(fixture_lines("echo_server_stats_poll.jsonl")[0]).get<StatsSnapshot>();
  EXPECT_TRUE(poll.at_signal());
  EXPECT_EQ(poll.counters.wait_calls, 2u);
  EXPECT_EQ(poll.counters.fds_passed, 4u);
  const auto asio =
      Json::parse(fixture_lines("echo_server_stats_asio.jsonl")[1]).get<StatsSnapshot>();
  EXPECT_FALSE(asio.at_signal());
  EXPECT_FALSE(asio.counters.wait_calls);
  EXPECT_FALSE(asio.counters.fds_passed);
}

// Today's echo-server writes the same document as the one that made the fixtures.
TEST(SweepModelStatsSnapshot, TheServerWritesTheFixturesShape) {
  for (const char* backend : {"poll", "asio"}) {
    SpawnOptions options;
    options.capture_stderr = true;
    auto server = Subprocess::spawn({echo_server_path(), "--backend", backend}, options);
    const auto announce = server.read_line(10s);
    ASSERT_TRUE(announce && announce->rfind("listening ", 0) == 0) << backend;
    server.send_signal(SIGUSR1);
    const auto line = server.read_line(10s);
    server.send_signal(SIGTERM);
    EXPECT_EQ(server.wait(10s), 0);
    ASSERT_TRUE(line) << backend;
    const Json written = Json::parse(*line);
    const auto snapshot = written.get<StatsSnapshot>();
    EXPECT_EQ(Json(snapshot).dump(), *line);
    EXPECT_EQ(snapshot.backend, backend);
    EXPECT_TRUE(snapshot.at_signal());
    EXPECT_EQ(snapshot.sequence, 1u);
    EXPECT_EQ(snapshot.counters.wait_calls.has_value(), std::string(backend) != "asio");
    std::set<std::string> paths, fixture_paths;
    key_paths(written, "", paths);
    key_paths(Json::parse(fixture_lines(std::string(backend) == "poll"
                                            ? "echo_server_stats_poll.jsonl"
                                            : "echo_server_stats_asio.jsonl")[0]),
              "", fixture_paths);
    EXPECT_EQ(paths, fixture_paths) << backend;
  }
}

}  // namespace
}  // namespace muxbench::testing
