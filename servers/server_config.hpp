#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "common/fd_limit.hpp"

namespace muxbench {

struct ServerConfig {
  std::string backend;
  std::string bind_address = "127.0.0.1";
  std::uint16_t port = 0;
  std::size_t read_size = 16 * 1024;
  std::size_t max_pending = 1024 * 1024;
  std::optional<int> cpu;
  std::optional<std::string> stats_file;
  FdLimit fd_limit;  // as in force after start-up
};

}  // namespace muxbench
