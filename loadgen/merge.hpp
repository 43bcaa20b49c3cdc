#pragma once

#include <nlohmann/json.hpp>
#include <vector>

#include "model/loadgen_report.hpp"
#include "model/merged_report.hpp"

namespace muxbench {

// Merges the reports of several loadgen processes that loaded one server at the same time into
// one report of the same shape: latency histograms merged exactly (percentiles are recomputed,
// never averaged), messages, throughput, connections and errors summed, the generator flags
// combined, and each generator's own report kept under "generators" (with its environment, so
// per-host limits stay visible). Throws std::invalid_argument for no reports.
MergedReport merge_reports(const std::vector<LoadgenReport>& reports);

}  // namespace muxbench
