#pragma once

// The merged report of loadgen-merge (results/README.md): kind "loadgen-merged-report", the
// shape of a loadgen report with the generators' counts summed. Counts are integers (earlier files
// wrote them as doubles, "opened": 8.0; they still read), and every input report is kept under
// "generators" without its histogram.
#include <optional>
#include <vector>

#include "model/loadgen_report.hpp"

namespace muxbench {

// A sum over the generators of a count some reports leave null: null when none had a value.
inline void add_present(std::optional<std::uint64_t>& into,
                        const std::optional<std::uint64_t>& value) {
  if (value) into = into.value_or(0) + *value;
}

struct MergedIdleConnections {
  std::uint64_t requested = 0;
  std::uint64_t opened = 0;
  double open_seconds = 0;  // the slowest generator's
  std::optional<std::uint64_t> alive_at_end;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(MergedIdleConnections, requested, opened,
                                                open_seconds, alive_at_end)

struct MergedActiveConnections {
  std::uint64_t requested = 0;
  std::uint64_t opened = 0;
  double open_seconds = 0;  // the slowest generator's
  std::optional<std::uint64_t> lost;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(MergedActiveConnections, requested, opened,
                                                open_seconds, lost)

struct MergedConnections {
  MergedIdleConnections idle;
  MergedActiveConnections active;
  std::uint64_t retries = 0;
  std::map<std::string, std::uint64_t> failures;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(MergedConnections, idle, active, retries, failures)

// Open-loop sums are absent (not null) when no generator ran an open loop.
struct MergedThroughput {
  std::uint64_t messages = 0;
  double messages_per_s = 0;
  double mb_per_s = 0;
  std::optional<double> sent_per_s;
  std::optional<double> requested_rate;
};
inline void to_json(nlohmann::json& j, const MergedThroughput& t) {
  j = {{"messages", t.messages}, {"messages_per_s", t.messages_per_s}, {"mb_per_s", t.mb_per_s}};
  if (t.sent_per_s) j["sent_per_s"] = *t.sent_per_s;
  if (t.requested_rate) j["requested_rate"] = *t.requested_rate;
}
inline void from_json(const nlohmann::json& j, MergedThroughput& t) {
  j.at("messages").get_to(t.messages);
  j.at("messages_per_s").get_to(t.messages_per_s);
  j.at("mb_per_s").get_to(t.mb_per_s);
  t.sent_per_s = j.value("sent_per_s", std::optional<double>());
  t.requested_rate = j.value("requested_rate", std::optional<double>());
}

struct MergedErrors {
  std::uint64_t mismatches = 0;
  std::uint64_t unexpected_bytes = 0;
  std::uint64_t lost_connections = 0;
  std::uint64_t unanswered = 0;
  std::uint64_t total = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(MergedErrors, mismatches, unexpected_bytes,
                                                lost_connections, unanswered, total)

struct MergedGenerator {
  bool bound = false;            // any generator was
  bool fell_behind = false;      // any generator did
  double busiest_cpu_share = 0;  // the largest
  double work_share = 0;         // the largest
  double process_cpu_s = 0;      // summed
  std::uint64_t threads = 0;     // summed
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(MergedGenerator, bound, fell_behind,
                                                busiest_cpu_share, work_share, process_cpu_s,
                                                threads)

struct MergedMeasurement {
  WindowRecord window;  // the longest; interrupted when the merged status is
  MergedThroughput throughput;
  // Of the merged histogram. When no generator's report had a histogram the merged report has
  // none either (MergedReport::histogram empty) and the file says null here, never zeros.
  LatencySummary latency_ns;
  std::optional<LatencySummary> send_lateness_ns;  // always null: see each generator
  MergedErrors errors;
  MergedGenerator generator;
  // Absent unless some generator's report has one: counts and rates summed, late_share
  // recomputed, lateness_p99_ns the largest generator's (no lateness histogram is kept).
  std::optional<OpenLoopRecord> open_loop;
  // Absent unless some generator's report has one: opened, closed and connect_failures summed,
  // opened_per_s summed, port_exhaustion if any; connect latency of the merged connect
  // histograms (exact); lifetime, tcp_tw_reuse and local_port_range the first generator's (null
  // when the generators' differ).
  std::optional<ChurnRecord> churn;
};
inline void to_json(nlohmann::json& j, const MergedMeasurement& m) { measurement_to_json(j, m); }
inline void from_json(const nlohmann::json& j, MergedMeasurement& m) {
  measurement_from_json(j, m);
}

struct MergedReport {
  static constexpr const char* kKind = "loadgen-merged-report";

  LoadgenConfigRecord config;  // the first generator's, with target joined and idle/active summed
  Environment environment;     // the first generator's (each one's is under generators)
  MergedConnections connections;
  std::optional<MergedMeasurement> measured;  // absent when no generator measured
  std::optional<LatencyHistogram> histogram;  // with measured: all generators' samples
  // The merged histogram re-encoded (HdrHistogram V2, base64) when some generator's report carried
  // one; absent when none did (a merge of reports written before it stays as it was written).
  std::optional<std::string> hdr_v2;
  LoadgenStatus status = LoadgenStatus::ok;  // the generators' strongest (status_precedence)
  std::vector<std::string> problems;         // "generator 2 (HOST:PORT): ..."
  std::vector<LoadgenReport> generators;     // without their histograms (hdr_v2 too)
  std::optional<StatusCriteria> criteria;    // the first generator's
};

inline void to_json(nlohmann::json& j, const MergedReport& r) {
  j = report_json(r, MergedReport::kKind);
  if (r.measured && !r.histogram) j["latency_ns"] = nullptr;  // no latency measured: no numbers
  j["generators"] = r.generators;
}
inline void from_json(const nlohmann::json& j, MergedReport& r) {
  read_report_json(j, MergedReport::kKind, r);
  j.at("generators").get_to(r.generators);
}

}  // namespace muxbench
