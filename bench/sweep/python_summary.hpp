#pragma once

// summary.md's "Does it matter in Python?" and summary.json's `python`: the shipped Python
// servers (python-select, python-poll, python-epoll, python-selectors, python-asyncio) against
// each other and against the C backends of the same run, closed loop, the idle study's workload.
#include <optional>
#include <string>

#include "bench/sweep/analysis.hpp"
#include "model/sweep_summary.hpp"

namespace muxbench {

struct PythonSection {
  std::string markdown;  // empty when the run measured no Python server
  std::optional<PythonSummary> numbers;
};

// `agg` holds the base workload (`base_active` active connections); `aggregates` every workload,
// for the activity slice.
PythonSection python_section(const AggregateIndex& agg, const std::vector<Aggregate>& aggregates,
                             std::uint64_t base_active);

}  // namespace muxbench
