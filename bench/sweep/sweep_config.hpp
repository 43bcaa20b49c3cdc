#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/backend_table.hpp"
#include "model/sweep_config.hpp"

namespace muxbench {

// Defaults for --quick / --full on a machine with this fd limit and these CPUs: every backend of
// the backend table.
SweepConfig default_config(bool full, std::uint64_t fd_limit, const std::vector<int>& cpus);

// The largest idle count both processes can hold (a multiple of 1000), and the default grid:
// 0, 100, 1000, around FD_SETSIZE, then up to that maximum.
std::uint64_t max_idle(std::uint64_t fd_limit, std::uint64_t active);
std::vector<std::uint64_t> default_idle_grid(std::uint64_t fd_limit, std::uint64_t active,
                                             bool full);

// select() can watch descriptors below FD_SETSIZE only; the server's own descriptors (stdio,
// listener, signal pipe, reserve) come first.
bool select_supports(std::uint64_t idle, std::uint64_t active);
inline constexpr std::uint64_t kServerOwnDescriptors = 8;

struct PointSpec {
  std::string id;  // unique, usable as a file name
  Series series;
  std::string backend;
  std::uint64_t idle = 0;
  unsigned repeat = 1;
};

// Every point of the sweep, idle counts outer and backends inner, so that slow drift of the
// machine affects all backends alike.
std::vector<PointSpec> build_grid(const SweepConfig& config);

}  // namespace muxbench
