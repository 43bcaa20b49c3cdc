#pragma once

#include <cstdint>
#include <functional>
#include <string_view>

#include "servers/counters.hpp"
#include "servers/listener.hpp"
#include "servers/server_config.hpp"

namespace muxbench {

// What every backend receives: the configuration, the bound listener, the shared counters, and the
// hook that prints "listening ..." once the backend is ready for connections and signals.
struct ServerContext {
  const ServerConfig& config;
  Listener& listener;
  std::function<void()> announce;
  ServerCounters counters{};
  ReserveFd reserve{};  // see ReserveFd: for accepting at the fd limit and for snapshots there
  bool wait_calls_observable = true;  // Asio hides its epoll_wait calls
  std::uint64_t snapshots_published = 0;
  std::uint64_t snapshots_failed = 0;  // any: the server's exit code is 1

  // Writes a stats snapshot. A failure to write is said on stderr (path and errno) and counted in
  // snapshots_failed; the server keeps serving.
  void publish(std::string_view reason);

  // What every backend does with a signal, however it learns of it: SIGUSR1 writes a snapshot,
  // SIGINT and SIGTERM stop the server. True when the backend should stop.
  bool on_signal(int signal_number);
};

// The counter for a connection closed after `error` (an errno from a read, a write or a failed
// request): closes_reset when the peer reset or vanished (ECONNRESET, EPIPE), else closes_error.
std::uint64_t& closes_after_error(ServerCounters& counters, int error);

}  // namespace muxbench
