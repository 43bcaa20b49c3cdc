#pragma once

#include <string_view>

namespace muxbench {

struct BuildInfo {
  std::string_view git_sha;
  bool git_dirty;  // built from a tree with uncommitted changes to tracked files
  std::string_view build_type;
  std::string_view compiler;
  std::string_view flags;  // sanitizers and the like
};

const BuildInfo& build_info();

}  // namespace muxbench
