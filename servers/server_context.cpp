#include "servers/server_context.hpp"

#include <fmt/format.h>
#include <signal.h>

#include <cerrno>
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

bool ServerContext::on_signal(int signal_number) {
  if (signal_number != SIGUSR1) return true;  // SIGINT, SIGTERM
  publish("signal");
  return false;
}

std::uint64_t& closes_after_error(ServerCounters& counters, int error) {
  return error == ECONNRESET || error == EPIPE ? counters.closes_reset : counters.closes_error;
}

}  // namespace muxbench
