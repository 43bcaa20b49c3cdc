#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace muxbench {

struct LinearFit {
  double slope = 0;
  double intercept = 0;
  double r2 = 0;
  std::size_t points = 0;
};

// Least squares y = intercept + slope * x; nullopt with fewer than two distinct x.
std::optional<LinearFit> fit_line(const std::vector<double>& x, const std::vector<double>& y);

double median(std::vector<double> values);

// Per (series, backend, idle): how many runs, their status, and median/min/max of each metric.
nlohmann::json aggregate_points(const nlohmann::json& points);

// One flat CSV row per point (header first).
std::string points_csv(const nlohmann::json& points);

// summary.md: every number computed from this run's aggregates and micro-benchmarks.
std::string summary_markdown(const nlohmann::json& sweep, const nlohmann::json& micro,
                             const std::string& micro_table);

}  // namespace muxbench
