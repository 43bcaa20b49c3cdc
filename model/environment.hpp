#pragma once

#include <cstdint>
#include <string>

#include "common/fd_limit.hpp"
#include "model/json_support.hpp"

namespace muxbench {

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(FdLimit, soft, hard)

struct BuildRecord {
  std::string git_sha;
  bool git_dirty = false;  // built from a tree with uncommitted changes to tracked files
  std::string type;        // CMAKE_BUILD_TYPE
  std::string compiler;
  std::string flags;  // sanitizers and the like
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(BuildRecord, git_sha, git_dirty, type, compiler,
                                                flags)

// The conditions of a run, recorded in every report (results/README.md, "environment").
struct Environment {
  std::string timestamp_utc;
  std::string host;
  std::string kernel;          // "Linux 6.1.0-..."
  std::string kernel_version;  // uname's version string
  std::string machine;
  std::string cpu_model;
  std::int64_t online_cpus = 0;
  std::string allowed_cpus;  // "0-1"
  FdLimit fd_limit;
  std::string ephemeral_port_range;  // as /proc shows it: "32768\t60999"
  std::string somaxconn;
  BuildRecord build;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Environment, timestamp_utc, host, kernel,
                                                kernel_version, machine, cpu_model, online_cpus,
                                                allowed_cpus, fd_limit, ephemeral_port_range,
                                                somaxconn, build)

}  // namespace muxbench
