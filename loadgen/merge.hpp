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

// The same for reports as parsed from their files, for callers that hold JSON text (the sweep
// reads generators' stdout): throws std::invalid_argument for something that is not a loadgen
// report, and nlohmann::json's exceptions for one that does not follow the schema.
nlohmann::json merge_reports(const std::vector<nlohmann::json>& reports);

}  // namespace muxbench
