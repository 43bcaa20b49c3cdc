#pragma once

// The map's part of the summary: each backend against epoll-lt along every dimension the run
// varied (idle, active, lifetime, size), where the ratio crosses its level, and latency against
// offered load. Computed from the aggregates alone; the cost model's predictions are added by
// the caller (add_predictions).
#include <optional>
#include <string>
#include <vector>

#include "model/map_summary.hpp"
#include "model/sweep_aggregate.hpp"
#include "model/sweep_config.hpp"

namespace muxbench {

// Where ratios measured at increasing x (nullopt: persistent, after every count) cross `level`.
Crossing find_crossing(const std::vector<std::optional<double>>& x,
                       const std::vector<double>& ratios, double level);

// The lines and load curves of a run; empty when it measured only one value of each dimension.
MapSummary map_lines(const std::vector<Aggregate>& aggregates, const SweepConfig& config);

// summary.md's section for the map (empty when the map is).
std::string map_markdown(const MapSummary& map);

}  // namespace muxbench
