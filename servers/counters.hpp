#pragma once

#include <cstdint>
#include <string_view>

#include "model/stats_snapshot.hpp"
#include "servers/server_config.hpp"

namespace muxbench {

// Everything the server counts, written once for every backend. Monotonic counters only grow, so
// a benchmark takes two snapshots and subtracts; gauges describe the moment of the snapshot.
struct ServerCounters {
  // Wait calls (select/poll/epoll_wait) and what they returned. `fds_passed` sums, over all wait
  // calls, the descriptors handed to the kernel by that call (select: nfds, poll: nfds,
  // epoll: 0 because the interest set lives in the kernel).
  std::uint64_t wait_calls = 0;
  std::uint64_t events = 0;
  std::uint64_t fds_passed = 0;
  std::uint64_t interest_changes = 0;  // modify calls (epoll_ctl MOD, fd_set/pollfd edits)
  std::uint64_t stale_events = 0;      // events for a descriptor closed earlier in the batch
  std::uint64_t carried_over = 0;      // edge-triggered work deferred to keep other fds served
  std::uint64_t submissions = 0;       // uring: SQEs queued (one enter submits many); else 0

  std::uint64_t accepts = 0;
  std::uint64_t refused_fd_setsize = 0;  // select only: fd >= FD_SETSIZE, accepted then closed
  std::uint64_t refused_fd_limit = 0;    // EMFILE/ENFILE: accepted with the reserve fd and closed
  std::uint64_t fd_limit_hits = 0;       // accept calls that failed with EMFILE/ENFILE
  std::uint64_t accept_errors = 0;       // transient accept failures (ECONNABORTED, ...)

  std::uint64_t closes_eof = 0;    // peer closed cleanly (after its echo was flushed)
  std::uint64_t closes_reset = 0;  // ECONNRESET / EPIPE
  std::uint64_t closes_error = 0;  // any other socket error
  std::uint64_t half_closes = 0;   // peer sent FIN while echo bytes were owed: flushed, then closed

  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
  std::uint64_t backpressure_pauses = 0;  // reading stopped because pending reached the cap

  // Gauges.
  std::uint64_t open_connections = 0;
  std::uint64_t pending_bytes = 0;           // unsent echo bytes over all connections
  std::uint64_t max_connection_pending = 0;  // the largest any one connection ever held

  void note_pending(std::uint64_t connection_pending) {
    if (connection_pending > max_connection_pending) max_connection_pending = connection_pending;
  }
};

struct SnapshotInfo {
  std::uint64_t sequence = 0;
  std::string_view reason;  // "signal" or "exit"
  bool wait_calls_observable = true;
};

// The stats document (schema in results/README.md): configuration, counters, CPU and memory.
StatsSnapshot stats_snapshot(const ServerCounters& counters, const ServerConfig& config,
                             const SnapshotInfo& info);

// Writes the snapshot as JSON to --stats-file atomically, or as one line on stdout without one.
void publish_snapshot(const ServerConfig& config, const StatsSnapshot& snapshot);

}  // namespace muxbench
