#include "common/environment.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string>

#include "common/build_info.hpp"
#include "common/cpu_affinity.hpp"
#include "common/fd_limit.hpp"

namespace muxbench {
namespace {

std::string cpu_model() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);) {
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  }
  return "unknown";
}

std::string first_line(const char* path) {
  std::ifstream file(path);
  std::string line;
  std::getline(file, line);
  return line;
}

}  // namespace

std::string utc_timestamp() {
  return fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", fmt::gmtime(std::chrono::system_clock::now()));
}

Environment describe_environment() {
  utsname names{};
  ::uname(&names);
  const auto limit = current_fd_limit();
  const auto& build = build_info();
  return {.timestamp_utc = utc_timestamp(),
          .host = names.nodename,
          .kernel = fmt::format("{} {}", names.sysname, names.release),
          .kernel_version = names.version,
          .machine = names.machine,
          .cpu_model = cpu_model(),
          .online_cpus = ::sysconf(_SC_NPROCESSORS_ONLN),
          .allowed_cpus = describe_cpus(allowed_cpus()),
          .fd_limit = {limit.soft, limit.hard},
          .ephemeral_port_range = first_line("/proc/sys/net/ipv4/ip_local_port_range"),
          .somaxconn = first_line("/proc/sys/net/core/somaxconn"),
          .build = {.git_sha = std::string(build.git_sha),
                    .git_dirty = build.git_dirty,
                    .type = std::string(build.build_type),
                    .compiler = std::string(build.compiler),
                    .flags = std::string(build.flags)}};
}

}  // namespace muxbench
