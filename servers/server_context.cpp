#include "servers/server_context.hpp"

#include <fmt/format.h>

#include <cstdio>
#include <exception>

namespace muxbench {

void ServerContext::publish(std::string_view reason) {
  try {
    reserve.lend([&] {
      publish_snapshot(
          config,
          stats_snapshot(counters, config, {++snapshots_published, reason, wait_calls_observable}));
    });
  } catch (const std::exception& error) {
    fmt::print(stderr, "echo-server: cannot write stats snapshot: {}\n", error.what());
  }
}

}  // namespace muxbench
