#pragma once

#include "common/exit_codes.hpp"
#include "loadgen/config.hpp"

namespace muxbench {

// Runs the whole measurement, writes the requested reports and returns the exit code: 0 clean,
// 1 errors (integrity, lost connections, connect failures, a worker whose wait failed), 130
// interrupted. Throws UsageError for a run refused up front (fd or port limits), and
// std::system_error naming the call when epoll cannot be set up (no report is written then).
int run_loadgen(const LoadgenConfig& config);

}  // namespace muxbench
