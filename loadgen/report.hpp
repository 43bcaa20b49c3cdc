#pragma once

#include <string>

#include "loadgen/histogram.hpp"
#include "model/loadgen_report.hpp"
#include "model/merged_report.hpp"

namespace muxbench {

LatencySummary latency_summary(const LatencyHistogram& histogram);

// The CSV columns of a loadgen report (merged or not), in order, and one row of them: each cell
// is the value as the JSON report spells it, empty for null or an absent section.
std::string loadgen_csv_header();
std::string loadgen_csv_row(const LoadgenReport& report);
std::string loadgen_csv_row(const MergedReport& report);

// A few human-readable lines for the terminal.
std::string loadgen_summary_text(const LoadgenReport& report);
std::string loadgen_summary_text(const MergedReport& report);

}  // namespace muxbench
