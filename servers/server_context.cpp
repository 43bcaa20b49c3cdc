#include "servers/server_context.hpp"

#include <fmt/format.h>
#include <signal.h>

#include <cerrno>
#include <cstdio>
#include <exception>

namespace muxbench {

void ServerContext::publish(std::string_view reason) {
  std::optional<std::string> error;
  try {
    reserve.lend([&] {
      error = publish_snapshot(
          config,
          stats_snapshot(counters, config, {++snapshots_published, reason, wait_calls_observable}));
    });
  } catch (const std::exception& exception) {
    error = exception.what();
  }
  if (!error) return;
  ++snapshots_failed;
  fmt::print(stderr, "echo-server: cannot write stats snapshot {} ({}): {}\n", snapshots_published,
             reason, *error);
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
