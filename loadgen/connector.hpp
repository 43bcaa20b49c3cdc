#pragma once

#include <netinet/in.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace muxbench {

struct ConnectPlan {
  sockaddr_in target{};
  std::span<const in_addr> sources;  // empty: let the kernel pick the source address
  std::optional<double> rate;        // attempts per second; nullopt: as fast as the window allows
  std::size_t window = 256;  // connects in flight at once (stays below the server's backlog)
  int max_attempts = 4;
  std::chrono::milliseconds attempt_timeout{5000};
};

struct ConnectOutcome {
  std::vector<int> fds;  // non-blocking, TCP_NODELAY; the caller owns them
  std::size_t retries = 0;
  std::map<std::string, std::size_t> failures;  // category -> attempts that failed with it
  std::optional<std::string> fatal;             // a connection failed for good and opening stopped
  bool interrupted = false;
  double seconds = 0;
};

// Opens `count` connections with non-blocking connects, `window` at a time, spreading them over
// the source addresses round-robin (IP_BIND_ADDRESS_NO_PORT, so the port is chosen at connect
// time per destination and each address brings its own ephemeral ports). A failed attempt is
// retried up to max_attempts; a connection that still fails stops the whole opening.
// `source_cursor` carries the round-robin position across calls. Throws std::system_error when
// epoll itself fails.
ConnectOutcome open_connections(const ConnectPlan& plan, std::size_t count,
                                std::size_t& source_cursor, const std::atomic<bool>& stop,
                                const std::function<void(std::size_t opened)>& progress);

}  // namespace muxbench
