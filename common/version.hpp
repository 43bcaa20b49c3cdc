#pragma once

#include <string>
#include <string_view>

namespace muxbench {

// The suite's version: CMake's project VERSION (e.g. "0.1.0").
std::string_view project_version();

// What every program's --version prints (one line, no newline):
//   "PROGRAM VERSION (git SHA)" or "PROGRAM VERSION (git SHA, modified)" when built from a tree
// with uncommitted changes (common/build_info.hpp).
std::string version_text(std::string_view program);

}  // namespace muxbench
