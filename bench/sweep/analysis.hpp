#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "model/sweep_aggregate.hpp"
#include "model/sweep_document.hpp"
#include "model/sweep_point.hpp"
#include "model/sweep_summary.hpp"

namespace muxbench {

struct LinearFit {
  bool valid = false;  // at least two distinct x
  double slope = 0;
  double intercept = 0;
  double r2 = 0;
  std::size_t points = 0;
};

// Least squares y = intercept + slope * x; not valid with fewer than two distinct x.
LinearFit fit_line(const std::vector<double>& x, const std::vector<double>& y);

double median(std::vector<double> values);

// Per (series, backend, idle, workload): how many runs, their status, and median/min/max of each
// metric.
std::vector<Aggregate> aggregate_points(const std::vector<PointRecord>& points);

// The aggregates by (series, backend, idle).
// The idle study's workload (active, size, persistent, the run's rate): what the per-fd, overtake,
// library and latency sections compare; every aggregate of a run made before the map.
bool is_base_workload(const Aggregate& a, const SweepConfig& config);

class AggregateIndex {
 public:
  explicit AggregateIndex(const std::vector<Aggregate>& aggregates);
  // Only the aggregates of the config's base workload.
  AggregateIndex(const std::vector<Aggregate>& aggregates, const SweepConfig& config);
  const Aggregate* find(const std::string& series, const std::string& backend,
                        std::uint64_t idle) const;
  // The median of a metric for (series, backend, idle), when measured.
  std::optional<double> median(const std::string& series, const std::string& backend,
                               std::uint64_t idle, Metric metric) const;
  // The idle counts, ascending, at which (series, backend) measured the metric.
  std::vector<std::uint64_t> idles(const std::string& series, const std::string& backend,
                                   Metric metric) const;

 private:
  using Key = std::tuple<std::string, std::string, std::uint64_t>;
  std::map<Key, const Aggregate*> by_key_;
};

// One flat CSV row per point (header first); the cells are the points' JSON values.
std::string points_csv(const std::vector<PointRecord>& points);

// Google Benchmark writes bare NaN/Infinity (the spread of a constant counter), which is not JSON:
// the same text with each such value as null, everything else as it was.
std::string without_non_numbers(std::string text);

// One wait-bench measurement of a wait call with the last registered socketpair ready.
struct MicroWaitCost {
  std::string backend;  // the backend table's spelling
  double fds = 0;       // registered descriptors
  double ns_per_call = 0;
};

// The `<backend>/socketpair/ready:1/fds:N` iterations in the text of wait-bench's Google Benchmark
// JSON (micro.json; none if it is not JSON); backends spelled the old way (epoll_lt) are read as
// today's (epoll-lt).
std::vector<MicroWaitCost> read_micro_wait_costs(const std::string& micro_json);

struct Summary {
  std::string markdown;  // summary.md
  SweepSummary numbers;  // summary.json: the same numbers, for documents to cite and check
};

// Every number computed from this run's aggregates and micro-benchmarks.
// micro_json: wait-bench's JSON text, for the cost model's predictions beside the map (empty:
// none); send_buffer: the bytes the model's size boundary assumes.
Summary summarise(const SweepDocument& sweep, const std::vector<MicroWaitCost>& micro,
                  const std::string& micro_table, const std::string& micro_json = "",
                  double send_buffer = 0);

}  // namespace muxbench
