#include "common/version.hpp"

#include <fmt/format.h>

#include "common/build_info.hpp"

#ifndef MUXBENCH_VERSION
#error "MUXBENCH_VERSION (CMake's PROJECT_VERSION) must be defined by the build"
#endif

namespace muxbench {

std::string_view project_version() { return MUXBENCH_VERSION; }

std::string version_text(std::string_view program) {
  const BuildInfo& build = build_info();
  return fmt::format("{} {} (git {}{})", program, project_version(), build.git_sha,
                     build.git_dirty ? ", modified" : "");
}

}  // namespace muxbench
