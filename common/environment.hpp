#pragma once

#include <string>

#include "model/environment.hpp"

namespace muxbench {

// The conditions of a run, recorded in every report: kernel, CPU model, cores, the CPUs this
// process may use, fd limit, host, build (type, compiler, git sha) and the UTC time.
Environment describe_environment();

std::string utc_timestamp();  // 2026-11-22T21:39:28Z

}  // namespace muxbench
