#pragma once

// The cost model's boundaries beside the measured ones: for each line of the map, the model fed
// this run's wait-bench rows and the line's workload (its active and idle counts, and the
// events per wait call epoll-lt measured there) predicts where the line should cross; where the
// two differ by more than a factor of 2 the line says so and what the model leaves out.
#include <string>

#include "model/map_summary.hpp"
#include "model/sweep_config.hpp"

namespace muxbench {

// Fills model, predicted, predicted_side and model_note; without the rows the model needs,
// `map.model` says why and the lines keep no prediction. send_buffer: bytes (the size line).
void add_predictions(MapSummary& map, const SweepConfig& config, const std::string& micro_json,
                     double send_buffer);

// net.ipv4.tcp_wmem's largest send buffer on this machine (loopback autotunes up to it), or
// infinity when it cannot be read.
double largest_send_buffer();

}  // namespace muxbench
