#pragma once

// The runs of one (series, backend, idle, workload) point summarised (results/README.md, sweep.json
// `aggregates`): run counts, status, generator flags and median/min/max per metric.
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "model/json_support.hpp"
#include "model/sweep_json_helpers.hpp"

namespace muxbench {

// The aggregated metrics, in the order of kMetricNames.
enum class Metric : std::size_t {
  throughput_msgs_per_s,
  throughput_mb_per_s,
  latency_p50_ns,
  latency_p99_ns,
  latency_p99_9_ns,
  server_cpu_us_per_msg,
  server_cpu_share,
  server_cpu_ns_per_wait,
  events_per_wait,
  fds_per_wait,
  generator_cpu_share,
  offered_rate_msgs_per_s,
  connections_per_s,
  server_cpu_us_per_conn,
  connect_latency_p99_ns,
  interest_changes_per_msg,
};
inline constexpr std::size_t kMetricCount = 16;
inline constexpr std::array<std::string_view, kMetricCount> kMetricNames = {
    "throughput_msgs_per_s",  "throughput_mb_per_s",
    "latency_p50_ns",         "latency_p99_ns",
    "latency_p99_9_ns",       "server_cpu_us_per_msg",
    "server_cpu_share",       "server_cpu_ns_per_wait",
    "events_per_wait",        "fds_per_wait",
    "generator_cpu_share",    "offered_rate_msgs_per_s",
    "connections_per_s",      "server_cpu_us_per_conn",
    "connect_latency_p99_ns", "interest_changes_per_msg"};

constexpr std::string_view to_string(Metric metric) {
  return kMetricNames[static_cast<std::size_t>(metric)];
}

struct MetricStats {
  double median = 0;
  double min = 0;
  double max = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(MetricStats, median, min, max)

// One slot per Metric; empty where no ok run measured it (absent from the JSON).
struct MetricTable {
  std::array<std::optional<MetricStats>, kMetricCount> slots;

  std::optional<MetricStats>& operator[](Metric m) { return slots[static_cast<std::size_t>(m)]; }
  const std::optional<MetricStats>& operator[](Metric m) const {
    return slots[static_cast<std::size_t>(m)];
  }
};

inline void to_json(nlohmann::json& j, const MetricTable& table) {
  j = nlohmann::json::object();
  for (std::size_t i = 0; i < kMetricCount; ++i) {
    put_if_present(j, std::string(kMetricNames[i]), table.slots[i]);
  }
}

inline void from_json(const nlohmann::json& j, MetricTable& table) {
  for (std::size_t i = 0; i < kMetricCount; ++i) {
    table.slots[i] = get_if_present<MetricStats>(j, std::string(kMetricNames[i]));
  }
}

// `status` is the runs' common status (ok, unsupported, failed, interrupted) or "mixed".
struct Aggregate {
  std::string series;
  std::string backend;
  std::uint64_t idle = 0;
  // The workload (model/sweep_config.hpp); with a rate fraction, `rate` is null and each run's
  // offered rate is the metric offered_rate_msgs_per_s.
  std::uint64_t active = 0;
  std::size_t size = 0;
  std::optional<std::uint64_t> lifetime;
  std::optional<double> rate;
  std::optional<double> rate_fraction;
  std::uint64_t total_fds = 0;
  std::size_t runs = 0;
  std::size_t ok_runs = 0;
  std::string status;
  std::optional<std::string> reason;  // the last failed run's (absent when all were ok)
  bool generator_bound = false;
  bool fell_behind = false;
  MetricTable metrics;  // of the ok runs
  // Of the overloaded runs (an open loop past capacity), apart: what they achieved is shown
  // flagged beside the ok points (latency against load), never mixed into `metrics`.
  std::optional<MetricTable> overloaded_metrics;
};

// The ok runs' median of a metric, when they measured it.
inline std::optional<double> median_of(const Aggregate& a, Metric m) {
  if (!a.metrics[m]) return std::nullopt;
  return a.metrics[m]->median;
}

inline void to_json(nlohmann::json& j, const Aggregate& a) {
  j = {{"series", a.series},
       {"backend", a.backend},
       {"idle", a.idle},
       {"active", a.active},
       {"size", a.size},
       {"lifetime", a.lifetime},
       {"rate", a.rate},
       {"rate_fraction", a.rate_fraction},
       {"total_fds", a.total_fds},
       {"runs", a.runs},
       {"ok_runs", a.ok_runs},
       {"status", a.status},
       {"generator_bound", a.generator_bound},
       {"fell_behind", a.fell_behind},
       {"metrics", a.metrics}};
  put_if_present(j, "reason", a.reason);
  put_if_present(j, "overloaded_metrics", a.overloaded_metrics);
}

inline void from_json(const nlohmann::json& j, Aggregate& a) {
  j.at("series").get_to(a.series);
  j.at("backend").get_to(a.backend);
  j.at("idle").get_to(a.idle);
  a.active = j.value("active", std::uint64_t{0});
  a.size = j.value("size", std::size_t{0});
  a.lifetime = get_nullable<std::uint64_t>(j, "lifetime");
  a.rate = get_nullable<double>(j, "rate");
  a.rate_fraction = get_nullable<double>(j, "rate_fraction");
  j.at("total_fds").get_to(a.total_fds);
  j.at("runs").get_to(a.runs);
  j.at("ok_runs").get_to(a.ok_runs);
  j.at("status").get_to(a.status);
  a.reason = get_if_present<std::string>(j, "reason");
  j.at("generator_bound").get_to(a.generator_bound);
  j.at("fell_behind").get_to(a.fell_behind);
  j.at("metrics").get_to(a.metrics);
  a.overloaded_metrics = get_if_present<MetricTable>(j, "overloaded_metrics");
}

}  // namespace muxbench
