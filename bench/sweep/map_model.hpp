#pragma once

// The cost model beside the measured map: for each cell of a line the model, fed this run's
// wait-bench rows and the cell's workload (its counts, and the events per wait call each server
// measured there), gives the ratio it expects, once with every wait sleeping and once with none
// (the model cannot know how many sleep); the crossings of those ratios are its boundaries.
// Where they and the measured crossing disagree by more than a factor of 2 the line says so.
#include <string>

#include "model/map_summary.hpp"
#include "model/sweep_config.hpp"

namespace muxbench {

// Fills map.model, each cell's model ratios, each line's predicted crossings and model_note;
// without the rows the model needs, `map.model` says why and the lines keep no prediction.
// send_buffer: bytes (the size line).
void add_predictions(MapSummary& map, const SweepConfig& config, const std::string& micro_json,
                     double send_buffer);

// net.ipv4.tcp_wmem's largest send buffer on this machine (loopback autotunes up to it), or
// infinity when it cannot be read.
double largest_send_buffer();

}  // namespace muxbench
