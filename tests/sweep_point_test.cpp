// How the sweep turns what loadgen and the server reported into a point's status (issue 13):
// insufficient and overloaded reports, the server's floor of messages, the failure texts, and
// what the summary, the aggregates and the CSV make of such points.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <string>
#include <vector>

#include "bench/sweep/analysis.hpp"
#include "bench/sweep/point_runner.hpp"
#include "bench/sweep/sweep_config.hpp"
#include "common/subprocess.hpp"
#include "model/loadgen_report.hpp"
#include "model/stats_snapshot.hpp"
#include "model/sweep_document.hpp"

namespace muxbench::testing {
namespace {

using namespace std::chrono_literals;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

SweepConfig open_config() {
  SweepConfig config;
  config.backends = {"epoll-lt"};
  config.idle = {0};
  config.series = {{"open-split-busy", LoadMode::open, Placement::split, true}};
  config.size = 64;
  return config;
}

PointSpec spec_of(const SweepConfig& config, unsigned repeat = 1) {
  return {fmt::format("open-split-busy__epoll-lt__idle0__r{}", repeat),
          config.series.front(),
          "epoll-lt",
          0,
          repeat,
          config.base_workload(config.series.front().load)};
}

// A loadgen report of one second with `messages` echoes and the given status and problems.
LoadgenReport report_of(LoadgenStatus status, std::uint64_t messages,
                        std::vector<std::string> problems = {}) {
  LoadgenReport report;
  report.status = status;
  report.problems = std::move(problems);
  Measurement m;
  m.window.seconds = 1;
  m.throughput.messages = messages;
  m.throughput.messages_per_s = static_cast<double>(messages);
  m.throughput.mb_per_s = static_cast<double>(messages) * 64 / 1e6;
  m.latency_ns.count = messages;
  m.latency_ns.p50 = 20'000;
  m.latency_ns.p99 = 80'000;
  m.generator.fell_behind = status == LoadgenStatus::overloaded;
  report.measured = m;
  return report;
}

StatsSnapshot snapshot(const char* reason, std::int64_t at_ns, std::uint64_t bytes_out,
                       std::uint64_t cpu_us) {
  StatsSnapshot s;
  s.reason = reason;
  s.time.monotonic_ns = at_ns;
  s.counters.bytes_out = bytes_out;
  s.counters.wait_calls = bytes_out / 64;
  s.counters.events = bytes_out / 64;
  s.cpu.user_us = cpu_us;
  return s;
}

// A server that exited 0 after a one-second window in which it echoed `messages` of 64 bytes.
ServerEnd server_that_echoed(double messages) {
  ServerEnd end;
  end.exit_code = 0;
  const auto bytes = static_cast<std::uint64_t>(messages * 64);
  end.snapshots = {snapshot("signal", 1'000'000'000, 6400, 1000),
                   snapshot("signal", 2'000'000'000, 6400 + bytes, 1000 + 3906),
                   snapshot("exit", 2'100'000'000, 6400 + bytes, 5000)};
  return end;
}

GeneratorOutcome outcome_of(const LoadgenReport& report, int exit_code = 0) {
  GeneratorOutcome outcome;
  outcome.report = figures_of(report);
  outcome.exit_codes = {exit_code};
  return outcome;
}

PointRecord record_of(const LoadgenReport& report, const ServerEnd& server,
                      const SweepConfig& config, unsigned repeat = 1) {
  return measured_record(point_record(spec_of(config, repeat), config), outcome_of(report), server,
                         false);
}

TEST(SweepPoint, AWindowNeedsAHundredMessagesOrOneOfAMebibyte) {
  EXPECT_EQ(default_min_echoes(16), 100u);
  EXPECT_EQ(default_min_echoes((1u << 20) - 1), 100u);
  EXPECT_EQ(default_min_echoes(1u << 20), 1u);
  EXPECT_EQ(default_min_echoes(16u << 20), 1u);
}

TEST(SweepPoint, AnOkReportAndAFullServerWindowAreOk) {
  const auto config = open_config();
  const auto record =
      record_of(report_of(LoadgenStatus::ok, 10'000), server_that_echoed(10'000), config);
  EXPECT_EQ(record.status, PointStatus::ok) << record.reason.value_or("");
  ASSERT_TRUE(record.measured && record.measured->server);
  EXPECT_TRUE(record.measured->server->cpu_us_per_msg);
}

TEST(SweepPoint, InsufficientLoadgenWindowIsFailedWithItsReason) {
  const auto config = open_config();
  const auto record = record_of(report_of(LoadgenStatus::insufficient, 3,
                                          {"generator saturated",
                                           "insufficient: 3 echoes completed in the "
                                           "window, fewer than the 100 a window needs"}),
                                server_that_echoed(3), config);
  EXPECT_EQ(record.status, PointStatus::failed);
  ASSERT_TRUE(record.reason);
  EXPECT_EQ(*record.reason,
            "insufficient: 3 echoes completed in the window, fewer than the 100 a window needs");
}

TEST(SweepPoint, InsufficientWithoutAProblemLineStillSaysSo) {
  const auto config = open_config();
  const auto record =
      record_of(report_of(LoadgenStatus::insufficient, 0), server_that_echoed(0), config);
  EXPECT_EQ(record.status, PointStatus::failed);
  EXPECT_TRUE(contains(record.reason.value_or(""), "insufficient: loadgen completed too few"))
      << record.reason.value_or("");
}

TEST(SweepPoint, AServerWindowOfAlmostNothingIsInsufficientNotACpuPerMessage) {
  // The case: 0.097 server "messages" gave cpu_us_per_msg 40273 (here 8 bytes of 64).
  const auto config = open_config();
  const auto record =
      record_of(report_of(LoadgenStatus::ok, 1000), server_that_echoed(0.125), config);
  EXPECT_EQ(record.status, PointStatus::failed);
  EXPECT_TRUE(
      contains(record.reason.value_or(""),
               "insufficient: the server echoed 0.125 messages of 64 bytes in its 1 s window"))
      << record.reason.value_or("");
  EXPECT_TRUE(contains(record.reason.value_or(""), "fewer than the 100 a window needs"));
  ASSERT_TRUE(record.measured && record.measured->server);
  EXPECT_FALSE(record.measured->server->cpu_us_per_msg);
}

TEST(SweepPoint, OneMessageOfAMebibyteIsEnough) {
  auto config = open_config();
  config.size = 1u << 20;
  ServerEnd end;
  end.exit_code = 0;
  end.snapshots = {snapshot("signal", 0, 0, 0), snapshot("signal", 1'000'000'000, 2u << 20, 900)};
  const auto record = record_of(report_of(LoadgenStatus::ok, 2), end, config);
  EXPECT_EQ(record.status, PointStatus::ok) << record.reason.value_or("");
  EXPECT_DOUBLE_EQ(record.measured->server->cpu_us_per_msg.value_or(0), 450);
}

TEST(SweepPoint, OverloadedReportIsRecordedOverloadedWithItsMeasurement) {
  const auto config = open_config();
  const auto record =
      record_of(report_of(LoadgenStatus::overloaded, 61'000,
                          {"overloaded: achieved 61000 msg/s of the 400000 requested (15%)"}),
                server_that_echoed(61'000), config);
  EXPECT_EQ(record.status, PointStatus::overloaded);
  EXPECT_EQ(record.reason.value_or(""),
            "overloaded: achieved 61000 msg/s of the 400000 requested (15%)");
  ASSERT_TRUE(record.measured);
  EXPECT_EQ(record.measured->latency_ns.p50, 20'000u);
  EXPECT_TRUE(record.measured->generator.fell_behind);
  EXPECT_TRUE(record.measured->server);
}

TEST(SweepPoint, OverloadedPointsStayOutOfMediansTablesAndChartsButAreListed) {
  SweepDocument sweep;
  sweep.run_id = "test";
  sweep.config = open_config();
  const auto& config = sweep.config;
  sweep.points = {
      record_of(report_of(LoadgenStatus::ok, 10'000), server_that_echoed(10'000), config, 1),
      record_of(report_of(LoadgenStatus::overloaded, 9'000, {"overloaded: fell behind"}),
                server_that_echoed(9'000), config, 2),
  };
  sweep.points[1].measured->latency_ns.p50 = 900'000;  // would move a median of two
  sweep.aggregates = aggregate_points(sweep.points);
  ASSERT_EQ(sweep.aggregates.size(), 1u);
  const Aggregate& mixed = sweep.aggregates.front();
  EXPECT_EQ(mixed.runs, 2u);
  EXPECT_EQ(mixed.ok_runs, 1u);
  EXPECT_EQ(mixed.status, "mixed");
  EXPECT_TRUE(mixed.fell_behind);
  ASSERT_TRUE(mixed.metrics[Metric::latency_p50_ns]);
  EXPECT_EQ(mixed.metrics[Metric::latency_p50_ns]->median, 20'000);
  EXPECT_EQ(mixed.metrics[Metric::latency_p50_ns]->max, 20'000);

  // Only overloaded runs: no metric at all, so no table row and no chart point.
  sweep.points.erase(sweep.points.begin());
  sweep.aggregates = aggregate_points(sweep.points);
  EXPECT_EQ(sweep.aggregates.front().status, "overloaded");
  EXPECT_EQ(sweep.aggregates.front().ok_runs, 0u);
  for (const auto& slot : sweep.aggregates.front().metrics.slots) EXPECT_FALSE(slot);

  const Summary summary = summarise(sweep, {}, "");
  EXPECT_TRUE(contains(summary.markdown,
                       "0 points measured, 0 unsupported, 0 failed, 1 "
                       "overloaded (not counted as measured)"))
      << summary.markdown;
  EXPECT_TRUE(contains(summary.markdown,
                       "- overloaded open-split-busy__epoll-lt__idle0__r2: overloaded: fell "
                       "behind (its numbers stay in sweep.json, flagged; no table or chart"))
      << summary.markdown;
  EXPECT_FALSE(contains(summary.markdown, "| epoll-lt | 0 |")) << summary.markdown;
  EXPECT_EQ(summary.numbers.points.overloaded, 1);
  EXPECT_EQ(nlohmann::json(summary.numbers)["points"]["overloaded"], 1);

  const std::string csv = points_csv(sweep.points);
  EXPECT_TRUE(contains(csv, "\nopen-split-busy__epoll-lt__idle0__r2,overloaded,")) << csv;
}

TEST(SweepPoint, FailedInsufficientPointsAreListedInTheCaveats) {
  SweepDocument sweep;
  sweep.run_id = "test";
  sweep.config = open_config();
  sweep.points = {
      record_of(report_of(LoadgenStatus::ok, 1000), server_that_echoed(0.125), sweep.config)};
  sweep.aggregates = aggregate_points(sweep.points);
  EXPECT_EQ(sweep.aggregates.front().status, "failed");
  const Summary summary = summarise(sweep, {}, "");
  EXPECT_TRUE(contains(summary.markdown,
                       "- failed open-split-busy__epoll-lt__idle0__r1: insufficient: the server"))
      << summary.markdown;
  // A run without overloaded points writes no overloaded count (summary.json as before).
  EXPECT_FALSE(nlohmann::json(summary.numbers)["points"].contains("overloaded"));
}

TEST(SweepPoint, ServerEndSaysWhatWasObserved) {
  ServerEnd killed_by_sweep;
  killed_by_sweep.exit_code = 137;
  killed_by_sweep.signal = SIGKILL;
  killed_by_sweep.killed_after = 10s;
  EXPECT_EQ(server_end_text(killed_by_sweep),
            "echo-server was killed by the sweep after 10 s: it did not exit on SIGTERM");

  ServerEnd crashed;
  crashed.exit_code = 139;
  crashed.signal = SIGSEGV;
  EXPECT_EQ(server_end_text(crashed), "echo-server killed by signal 11 (Segmentation fault)");

  ServerEnd exited;
  exited.exit_code = 137;  // exit(137), not a signal
  EXPECT_EQ(server_end_text(exited), "echo-server exited with code 137");
}

TEST(SweepPoint, AServerThatDiedIsAFailedPointSayingHow) {
  const auto config = open_config();
  auto end = server_that_echoed(10'000);
  end.exit_code = 139;
  end.signal = SIGSEGV;
  auto record = record_of(report_of(LoadgenStatus::ok, 10'000), end, config);
  EXPECT_EQ(record.status, PointStatus::failed);
  EXPECT_EQ(record.reason.value_or(""), "echo-server killed by signal 11 (Segmentation fault)");

  end.exit_code = 0;
  end.signal = std::nullopt;
  end.killed_after = 10s;  // it ended only on SIGKILL, which it did not report as 137 here
  record = record_of(report_of(LoadgenStatus::ok, 10'000), end, config);
  EXPECT_EQ(record.status, PointStatus::failed);
  EXPECT_TRUE(contains(record.reason.value_or(""), "killed by the sweep after 10 s"));
}

TEST(SweepPoint, ALoadgenWithoutAReportSaysHowItEnded) {
  const auto config = open_config();
  GeneratorOutcome outcome;
  outcome.exit_codes = {139};
  outcome.ended = "loadgen killed by signal 11 (Segmentation fault)";
  outcome.error = "last words";
  auto record = measured_record(point_record(spec_of(config), config), outcome,
                                server_that_echoed(100), false);
  EXPECT_EQ(record.status, PointStatus::failed);
  EXPECT_EQ(record.reason.value_or(""),
            "loadgen wrote no report (loadgen killed by signal 11 (Segmentation fault)): last "
            "words");

  outcome.finished = false;
  outcome.exit_codes = {std::nullopt};
  outcome.ended = "loadgen was killed by the sweep after 91 s: it did not finish in time";
  record = measured_record(point_record(spec_of(config), config), outcome, server_that_echoed(100),
                           false);
  EXPECT_EQ(record.reason.value_or(""), outcome.ended);
}

TEST(SweepPoint, SubprocessTellsASignalFromAnExitCode) {
  auto killed = Subprocess::spawn({"/bin/sh", "-c", "kill -SEGV $$"});
  EXPECT_EQ(killed.wait(10s), 128 + SIGSEGV);
  EXPECT_EQ(killed.terminating_signal(), SIGSEGV);
  EXPECT_EQ(exit_description(139, killed.terminating_signal()),
            "killed by signal 11 (Segmentation fault)");

  auto exited = Subprocess::spawn({"/bin/sh", "-c", "exit 139"});
  EXPECT_EQ(exited.wait(10s), 139);
  EXPECT_EQ(exited.terminating_signal(), std::nullopt);
  EXPECT_EQ(exit_description(139, exited.terminating_signal()), "exited with code 139");

  const auto result = run_command({"/bin/sh", "-c", "kill -KILL $$"}, 10s);
  EXPECT_EQ(result.exit_code, 137);
  EXPECT_EQ(result.signal, SIGKILL);
}

TEST(SweepPoint, MicroJsonNonNumbersBecomeNull) {
  const std::string google =
      "{\n  \"benchmarks\": [\n    {\"name\": \"x_cv\", \"ready\": NaN, \"ns\": -Infinity, "
      "\"label\": \"NaNa\", \"fds\": 16}\n  ]\n}\n";
  EXPECT_FALSE(nlohmann::json::accept(google));
  const std::string strict = without_non_numbers(google);
  ASSERT_TRUE(nlohmann::json::accept(strict)) << strict;
  const auto j = nlohmann::json::parse(strict);
  EXPECT_TRUE(j["benchmarks"][0]["ready"].is_null());
  EXPECT_TRUE(j["benchmarks"][0]["ns"].is_null());
  EXPECT_EQ(j["benchmarks"][0]["label"], "NaNa");
  EXPECT_EQ(j["benchmarks"][0]["fds"], 16);
  EXPECT_EQ(without_non_numbers(strict), strict);  // everything else as it was
}

}  // namespace
}  // namespace muxbench::testing
