#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "common/fd_limit.hpp"
#include "common/output_path.hpp"

namespace muxbench {

struct ServerConfig {
  std::string backend;
  std::string bind_address = "127.0.0.1";
  std::uint16_t port = 0;
  std::size_t read_size = 16 * 1024;
  std::size_t max_pending = 1024 * 1024;       // per connection (DESIGN.md §4)
  std::size_t max_total_pending = 256u << 20;  // over all connections: see read_gate
  std::optional<int> cpu;
  std::optional<OutputPath> stats_file;  // checked before serving; nullopt: standard output
  FdLimit fd_limit;                      // as in force after start-up
};

}  // namespace muxbench
