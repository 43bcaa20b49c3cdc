#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

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

// Per (series, backend, idle): how many runs, their status, and median/min/max of each metric.
nlohmann::json aggregate_points(const nlohmann::json& points);

// One flat CSV row per point (header first).
std::string points_csv(const nlohmann::json& points);

// summary.md: every number computed from this run's aggregates and micro-benchmarks. The same
// numbers go into `numbers` (summary.json), so documents can cite them and be checked.
std::string summary_markdown(const nlohmann::json& sweep, const nlohmann::json& micro,
                             const std::string& micro_table, nlohmann::json& numbers);

}  // namespace muxbench
