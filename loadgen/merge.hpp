#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "model/loadgen_report.hpp"
#include "model/merged_report.hpp"

namespace muxbench {

// Merges the reports of several loadgen processes that loaded one server at the same time into
// one report of the same shape: latency histograms merged exactly (percentiles are recomputed,
// never averaged), messages, throughput, connections and errors summed, the generator flags
// combined, and each generator's own report kept under "generators" (with its environment, so
// per-host limits stay visible). Throws std::invalid_argument for no reports.
// A report without a histogram contributes no latency; when none has one, the merged report has
// no latency at all (latency_ns null, no histogram), never zeros.
MergedReport merge_reports(const std::vector<LoadgenReport>& reports);

// One input of loadgen-merge: where it came from, the file as read, the report it holds.
struct MergeInput {
  std::string path;
  nlohmann::json file;
  LoadgenReport report;
};

// Why these reports do not describe one measurement, one line each (empty: they do): the same
// file twice (one path, or identical contents), or a field that differs (schema_version,
// window length, message size, mode, depth, per-generator rate, --lifetime), naming the field and
// the two values. Targets may differ: generators on several hosts reach one server through
// different addresses.
std::vector<std::string> merge_conflicts(const std::vector<MergeInput>& inputs);

}  // namespace muxbench
