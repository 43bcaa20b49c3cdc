#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "loadgen/histogram.hpp"

namespace muxbench {

nlohmann::json latency_summary(const LatencyHistogram& histogram);

// The CSV columns of a loadgen report, in order, and one row of them.
std::string loadgen_csv_header();
std::string loadgen_csv_row(const nlohmann::json& report);

// A few human-readable lines for the terminal.
std::string loadgen_summary_text(const nlohmann::json& report);

}  // namespace muxbench
