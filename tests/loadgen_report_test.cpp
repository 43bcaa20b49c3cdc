// The typed loadgen report models read and write exactly the files the loadgen binaries wrote
// before them (tests/fixtures/loadgen/README.md): same keys, same JSON types, same bytes.
#include "model/loadgen_report.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "loadgen/hdr_codec.hpp"
#include "loadgen/merge.hpp"
#include "loadgen/report.hpp"
#include "model/merged_report.hpp"
#include "tests/hdr_test_support.hpp"

namespace muxbench {
namespace {

using Json = nlohmann::json;

std::string fixture_text(const std::string& name) {
  std::ifstream in(std::string(MUXBENCH_LOADGEN_FIXTURES) + "/" + name);
  EXPECT_TRUE(in.good()) << name;
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

Json fixture(const std::string& name) { return Json::parse(fixture_text(name)); }

// What loadgen writes for a report: two-space indented JSON and a newline. Equal bytes also mean
// equal number types (188040.0 stays a double, 5 an integer), which Json's == does not check.
std::string as_file(const Json& j) { return j.dump(2) + "\n"; }

// The CSV columns added after the fixtures were written (issue 13: achieved_rate, late_share,
// lateness_p99_ns; issue 14: lifetime, connections_opened, connections_per_s, connect_p50_ns,
// connect_p99_ns), appended at the end; a report from before has them empty. Returns the CSV
// without them, to compare with the fixture byte for byte.
constexpr int kColumnsAdded = 8;
std::string without_added_columns(const std::string& csv) {
  std::string out;
  std::size_t start = 0;
  while (start < csv.size()) {
    const std::size_t end = csv.find('\n', start);
    std::string line = csv.substr(start, end - start);
    for (int i = 0; i < kColumnsAdded; ++i) line.erase(line.rfind(','));
    out += line + '\n';
    start = end + 1;
  }
  return out;
}

std::string csv_of(const auto& report) {
  const std::string row = loadgen_csv_row(report);
  EXPECT_EQ(row.substr(row.size() - kColumnsAdded - 1), std::string(kColumnsAdded, ',') + "\n")
      << "a report written before the open-loop and churn sections leaves their columns empty";
  return without_added_columns(loadgen_csv_header() + row);
}

template <class T>
void expect_round_trip(const T& value) {
  const Json written = value;
  EXPECT_EQ(Json(written.get<T>()).dump(), written.dump());
}

const char* const kReports[] = {"report_open", "report_closed", "report_connect_failed"};
const char* const kMerged[] = {"merged_open_and_connect_failed", "merged_connect_failed"};

TEST(LoadgenReportModel, ReadsAndWritesEveryFixtureByteForByte) {
  for (const std::string name : kReports) {
    const Json original = fixture(name + ".json");
    const Json rewritten = original.get<LoadgenReport>();
    EXPECT_EQ(rewritten, original) << name;
    EXPECT_EQ(as_file(rewritten), fixture_text(name + ".json")) << name;
  }
  for (const std::string name : kMerged) {
    const Json original = fixture(name + ".json");
    const Json rewritten = original.get<MergedReport>();
    EXPECT_EQ(rewritten, original) << name;
    EXPECT_EQ(as_file(rewritten), fixture_text(name + ".json")) << name;
  }
}

TEST(LoadgenReportModel, SectionsAReportLacksStayAbsent) {
  const auto failed = fixture("report_connect_failed.json").get<LoadgenReport>();
  EXPECT_EQ(failed.status, LoadgenStatus::connect_failed);
  EXPECT_FALSE(failed.measured);
  EXPECT_FALSE(failed.histogram);
  EXPECT_FALSE(failed.connections.idle.alive_at_end);
  const Json written = failed;
  for (const char* section : {"window", "throughput", "latency_ns", "send_lateness_ns", "errors",
                              "generator", "histogram"}) {
    EXPECT_FALSE(written.contains(section)) << section;
  }
  EXPECT_TRUE(written["connections"]["idle"]["alive_at_end"].is_null());

  const auto closed = fixture("report_closed.json").get<LoadgenReport>();
  ASSERT_TRUE(closed.measured);
  EXPECT_FALSE(closed.measured->send_lateness_ns);
  EXPECT_TRUE(Json(closed)["send_lateness_ns"].is_null()) << "closed loop: null, not absent";
  EXPECT_EQ(closed.config.mode, LoadMode::closed);
  EXPECT_EQ(closed.config.depth, 1u);
  EXPECT_FALSE(closed.config.rate);
}

TEST(LoadgenReportModel, EverySectionRoundTrips) {
  for (const std::string name : kReports) {
    const auto report = fixture(name + ".json").get<LoadgenReport>();
    expect_round_trip(report);
    expect_round_trip(report.config);
    expect_round_trip(report.environment);
    expect_round_trip(report.connections);
    expect_round_trip(report.connections.idle);
    expect_round_trip(report.connections.active);
    if (!report.measured) continue;
    expect_round_trip(*report.measured);
    expect_round_trip(report.measured->window);
    expect_round_trip(report.measured->throughput);
    expect_round_trip(report.measured->latency_ns);
    expect_round_trip(report.measured->errors);
    expect_round_trip(report.measured->generator);
    expect_round_trip(*report.histogram);
  }
  for (const auto status : {LoadgenStatus::ok, LoadgenStatus::errors, LoadgenStatus::connect_failed,
                            LoadgenStatus::interrupted}) {
    expect_round_trip(status);
  }
  EXPECT_EQ(Json(LoadgenStatus::connect_failed), "connect_failed");
  EXPECT_EQ(enum_name(LoadgenStatus::interrupted), "interrupted");
  EXPECT_EQ(Json(LoadMode::open), "open");
  expect_round_trip(LoadgenReport{});
}

TEST(LoadgenReportModel, NewSectionsRoundTripAndAreAbsentWhenUnknown) {
  auto report = fixture("report_open.json").get<LoadgenReport>();
  ASSERT_TRUE(report.measured);
  EXPECT_FALSE(report.measured->open_loop) << "a report from before the section";
  EXPECT_FALSE(report.criteria);
  EXPECT_FALSE(report.connections.idle.unexpected_data);
  report.measured->open_loop = OpenLoopRecord{.requested_rate = 2000,
                                              .sent_per_s = 1500,
                                              .achieved_rate = 1400,
                                              .due = 1000,
                                              .sent = 900,
                                              .unsent = 100,
                                              .late = 300,
                                              .late_share = 0.3,
                                              .lateness_p99_ns = 5'000'000,
                                              .max_backlog_per_connection = 40,
                                              .overloaded = true};
  report.criteria = StatusCriteria{.min_echoes = 100,
                                   .late_tolerance_s = 0.001,
                                   .min_achieved_share = 0.98,
                                   .allow_overload = true};
  report.connections.idle.unexpected_data = 3;
  report.status = LoadgenStatus::overloaded;
  expect_round_trip(report);
  const Json written = report;
  EXPECT_EQ(written["open_loop"]["late_share"], 0.3);
  EXPECT_EQ(written["criteria"]["min_echoes"], 100);
  EXPECT_EQ(written["connections"]["idle"]["unexpected_data"], 3);
  EXPECT_EQ(written["status"], "overloaded");
  const std::string row = loadgen_csv_row(report);
  const std::string tail = ",1400.0,0.3,5000000,,,,,\n";
  EXPECT_EQ(row.substr(row.size() - tail.size()), tail) << row;
}

// "histogram"."hdr_v2": HdrHistogram's V2 encoding of the same histogram, beside the buckets;
// absent in reports written before it (they still write back byte for byte, above).
TEST(LoadgenReportModel, HdrV2IsTheSameHistogramBesideTheBuckets) {
  auto report = fixture("report_open.json").get<LoadgenReport>();
  ASSERT_TRUE(report.histogram);
  EXPECT_FALSE(report.hdr_v2) << "a report from before the field";
  EXPECT_FALSE(Json(report)["histogram"].contains("hdr_v2"));
  report.hdr_v2 = hdr::encode_v2_base64(*report.histogram);
  expect_round_trip(report);
  const Json written = report;
  ASSERT_TRUE(written["histogram"]["hdr_v2"].is_string());
  EXPECT_EQ(written["histogram"]["hdr_v2"], *report.hdr_v2);
  const auto read = written.get<LoadgenReport>();
  ASSERT_TRUE(read.histogram && read.hdr_v2);
  EXPECT_EQ(*read.histogram, *report.histogram) << "the buckets are unchanged";
  hdr::hdrtest::expect_same_buckets(hdr::decode_v2_base64(*read.hdr_v2), *read.histogram);
}

// A merge re-encodes its merged histogram when a generator's report carried hdr_v2; the
// generators kept under "generators" carry neither.
TEST(LoadgenMerge, ReencodesTheMergedHistogram) {
  auto a = fixture("report_open.json").get<LoadgenReport>();
  auto b = a;
  b.histogram->record(123'456'789);
  a.hdr_v2 = hdr::encode_v2_base64(*a.histogram);
  b.hdr_v2 = hdr::encode_v2_base64(*b.histogram);
  const MergedReport merged = merge_reports(std::vector{a, b});
  ASSERT_TRUE(merged.histogram && merged.hdr_v2);
  EXPECT_EQ(merged.histogram->count(), a.histogram->count() + b.histogram->count());
  hdr::hdrtest::expect_same_buckets(hdr::decode_v2_base64(*merged.hdr_v2), *merged.histogram);
  for (const auto& generator : merged.generators) {
    EXPECT_FALSE(generator.histogram);
    EXPECT_FALSE(generator.hdr_v2);
  }
  const Json written = merged;
  EXPECT_EQ(written["histogram"]["hdr_v2"], *merged.hdr_v2);
  expect_round_trip(merged);
  a.hdr_v2.reset();
  b.hdr_v2.reset();
  EXPECT_FALSE(merge_reports(std::vector{a, b}).hdr_v2) << "none carried one: none re-encoded";
}

TEST(LoadgenReportModel, StatusPrecedence) {
  const LoadgenStatus order[] = {LoadgenStatus::interrupted, LoadgenStatus::connect_failed,
                                 LoadgenStatus::errors,      LoadgenStatus::insufficient,
                                 LoadgenStatus::overloaded,  LoadgenStatus::ok};
  for (std::size_t i = 0; i + 1 < std::size(order); ++i) {
    EXPECT_LT(status_precedence(order[i]), status_precedence(order[i + 1])) << i;
  }
  for (const auto status : order) expect_round_trip(status);
  EXPECT_EQ(Json(LoadgenStatus::insufficient), "insufficient");
}

TEST(LoadgenMerge, TheStrongestStatusWinsAndOpenLoopCountsAreSummed) {
  auto a = fixture("report_open.json").get<LoadgenReport>();
  auto b = a;
  a.status = LoadgenStatus::overloaded;
  b.status = LoadgenStatus::insufficient;
  a.measured->open_loop = OpenLoopRecord{.requested_rate = 1000, .due = 100, .late = 10};
  b.measured->open_loop = OpenLoopRecord{.requested_rate = 1000, .due = 300, .late = 90};
  const MergedReport merged = merge_reports(std::vector{a, b});
  EXPECT_EQ(merged.status, LoadgenStatus::insufficient);
  ASSERT_TRUE(merged.measured && merged.measured->open_loop);
  EXPECT_EQ(merged.measured->open_loop->due, 400u);
  EXPECT_DOUBLE_EQ(merged.measured->open_loop->late_share, 0.25);
  EXPECT_DOUBLE_EQ(merged.measured->open_loop->requested_rate, 2000);
}

TEST(LoadgenMerge, ConflictsNameTheFieldAndBothValues) {
  const Json file = fixture("report_open.json");
  Json other = file;
  other["config"]["size"] = 128;
  const std::vector<MergeInput> inputs = {{"a.json", file, file.get<LoadgenReport>()},
                                          {"b.json", other, other.get<LoadgenReport>()}};
  const auto conflicts = merge_conflicts(inputs);
  ASSERT_EQ(conflicts.size(), 1u);
  EXPECT_EQ(conflicts[0], "config.size differs: 64 in a.json, 128 in b.json");
  const std::vector<MergeInput> twice = {inputs[0], {"c.json", file, file.get<LoadgenReport>()}};
  ASSERT_EQ(merge_conflicts(twice).size(), 1u);
  EXPECT_NE(merge_conflicts(twice)[0].find("same report"), std::string::npos);
}

// A status this build does not know (a newer writer, a corrupted file) must never read as "ok".
TEST(LoadgenReportModel, UnknownSpellingsAreRefused) {
  EXPECT_THROW(Json("excellent").get<LoadgenStatus>(), std::invalid_argument);
  EXPECT_THROW(Json("sideways").get<LoadMode>(), std::invalid_argument);
  Json report = fixture("report_open.json");
  report["status"] = "fine";
  EXPECT_THROW(report.get<LoadgenReport>(), std::invalid_argument);
}

TEST(MergedReportModel, EverySectionRoundTrips) {
  for (const std::string name : kMerged) {
    const auto merged = fixture(name + ".json").get<MergedReport>();
    expect_round_trip(merged);
    expect_round_trip(merged.connections);
    if (merged.measured) {
      expect_round_trip(*merged.measured);
      expect_round_trip(merged.measured->throughput);
      expect_round_trip(merged.measured->errors);
      expect_round_trip(merged.measured->generator);
    }
  }
  expect_round_trip(MergedReport{});
}

TEST(MergedReportModel, SumsOfCountsSomeReportsLeaveNullAreNullWhenNoneHadOne) {
  std::optional<std::uint64_t> sum;
  add_present(sum, std::optional<std::uint64_t>());
  EXPECT_FALSE(sum);
  add_present(sum, std::optional<std::uint64_t>(3));
  add_present(sum, std::optional<std::uint64_t>());
  add_present(sum, std::optional<std::uint64_t>(5));
  EXPECT_EQ(sum, 8u);
  MergedIdleConnections idle;
  EXPECT_TRUE(Json(idle)["alive_at_end"].is_null());
  idle.alive_at_end = sum;
  idle.opened = 8;
  EXPECT_EQ(Json(idle)["alive_at_end"].dump(), "8");
  EXPECT_EQ(Json(idle)["opened"].dump(), "8");
  expect_round_trip(idle);
  // Merges written before counts were integers still read.
  const auto old = Json::parse(R"({"requested": 8.0, "opened": 8.0, "open_seconds": 0.1,
                                   "alive_at_end": 8.0})")
                       .get<MergedIdleConnections>();
  EXPECT_EQ(old.opened, 8u);
  EXPECT_EQ(old.alive_at_end, 8u);
}

TEST(MergedReportModel, OpenLoopSumsAreAbsentWhenNoGeneratorRanOne) {
  MergedThroughput closed;
  closed.messages = 2;
  closed.messages_per_s = 4;
  closed.mb_per_s = 0.5;
  EXPECT_EQ(Json(closed).dump(), R"({"mb_per_s":0.5,"messages":2,"messages_per_s":4.0})");
  expect_round_trip(closed);
  closed.sent_per_s = 10;
  closed.requested_rate = 10;
  expect_round_trip(closed);
}

TEST(LoadgenReportModel, SomethingElseIsNotALoadgenReport) {
  EXPECT_THROW(Json::parse(R"({"kind": "sweep"})").get<LoadgenReport>(), std::invalid_argument);
  EXPECT_THROW(Json::parse("[1, 2]").get<LoadgenReport>(), std::invalid_argument);
  EXPECT_THROW(fixture("report_open.json").get<MergedReport>(), std::invalid_argument);
}

TEST(LoadgenReportText, CsvAndSummaryAreWhatLoadgenWrote) {
  for (const std::string name : kReports) {
    const auto report = fixture(name + ".json").get<LoadgenReport>();
    EXPECT_EQ(csv_of(report), fixture_text(name + ".csv")) << name;
  }
  for (const std::string name : {"report_open", "report_closed"}) {
    const auto report = fixture(name + ".json").get<LoadgenReport>();
    EXPECT_EQ(loadgen_summary_text(report), fixture_text(name + ".txt")) << name;
  }
}

TEST(LoadgenMerge, MergesTheFixturesIntoWhatLoadgenMergeWrote) {
  const auto open = fixture("report_open.json").get<LoadgenReport>();
  const auto failed = fixture("report_connect_failed.json").get<LoadgenReport>();
  const MergedReport both = merge_reports(std::vector{open, failed});
  EXPECT_EQ(as_file(both), fixture_text("merged_open_and_connect_failed.json"));
  EXPECT_EQ(csv_of(both), fixture_text("merged_open_and_connect_failed.csv"));
  EXPECT_EQ(loadgen_summary_text(both), fixture_text("merged_open_and_connect_failed.txt"));

  const MergedReport none_measured = merge_reports(std::vector{failed});
  EXPECT_EQ(as_file(none_measured), fixture_text("merged_connect_failed.json"));
  EXPECT_EQ(csv_of(none_measured), fixture_text("merged_connect_failed.csv"));
  EXPECT_EQ(loadgen_summary_text(none_measured), fixture_text("merged_connect_failed.txt"));

  EXPECT_EQ(csv_of(merge_reports(std::vector{open})), fixture_text("merged_open.csv"));
}

TEST(LoadgenMerge, ReportsReadFromFilesMergeLikeLoadgenMerge) {
  const std::vector<LoadgenReport> files = {
      fixture("report_open.json").get<LoadgenReport>(),
      fixture("report_connect_failed.json").get<LoadgenReport>()};
  EXPECT_EQ(as_file(merge_reports(files)), fixture_text("merged_open_and_connect_failed.json"));
  EXPECT_THROW(Json::parse(R"({"kind": "x"})").get<LoadgenReport>(), std::invalid_argument);
  EXPECT_THROW(merge_reports(std::vector<LoadgenReport>{}), std::invalid_argument);
}

}  // namespace
}  // namespace muxbench
