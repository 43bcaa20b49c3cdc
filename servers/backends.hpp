#pragma once

#include <span>
#include <string_view>

#include "servers/server_context.hpp"

namespace muxbench {

struct Backend {
  std::string_view name;
  std::string_view summary;
  void (*run)(ServerContext&);  // serves until SIGINT/SIGTERM, then publishes the final snapshot
};

std::span<const Backend> backends();
const Backend* find_backend(std::string_view name);

}  // namespace muxbench
