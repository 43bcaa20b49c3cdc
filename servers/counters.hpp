#pragma once

#include <cstdint>
#include <optional>
#include <string>
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
  std::uint64_t budget_pauses = 0;  // reading stopped because all connections owed past the budget

  // Gauges.
  std::uint64_t open_connections = 0;
  std::uint64_t pending_bytes = 0;           // unsent echo bytes over all connections
  std::uint64_t max_connection_pending = 0;  // the largest any one connection ever held
  std::uint64_t max_pending_bytes = 0;       // the most all connections ever held at once

  // Called after pending bytes were added to a connection (and to pending_bytes).
  void note_pending(std::uint64_t connection_pending) {
    if (connection_pending > max_connection_pending) max_connection_pending = connection_pending;
    if (pending_bytes > max_pending_bytes) max_pending_bytes = pending_bytes;
  }
};

// Whether a connection that owes its peer `owed` unsent echo bytes may read more, and if not why.
enum class ReadGate {
  kOpen,
  kConnectionCap,  // owed >= --max-pending
  kBudget,         // all connections together owe more than --max-total-pending
};

// The backpressure rule of every backend (DESIGN.md §4). Past the per-connection cap a connection
// waits until it drains. While all connections together owe more than the budget, a connection
// that owes its share of the budget (budget / open connections) or more does not read either; it
// reads again once it drains below its share or the total falls back within the budget. A
// connection below its share, in particular one that owes nothing, is still served, so the clients
// that read their echo are not starved by those that do not. No byte is dropped: a paused
// connection's bytes wait in the kernel's socket buffers, and the client's sends block.
ReadGate read_gate(std::size_t owed, const ServerConfig& config, const ServerCounters& counters);

// Counts a connection's reading being stopped by `gate` (not kOpen).
void count_pause(ReadGate gate, ServerCounters& counters);

struct SnapshotInfo {
  std::uint64_t sequence = 0;
  std::string_view reason;  // "signal" or "exit"
  bool wait_calls_observable = true;
};

// The stats document (schema in results/README.md): configuration, counters, CPU and memory.
StatsSnapshot stats_snapshot(const ServerCounters& counters, const ServerConfig& config,
                             const SnapshotInfo& info);

// Writes the snapshot as JSON to --stats-file atomically, or as one line on standard output
// (without --stats-file, or with "-"). Returns what failed (path and errno text) on failure.
[[nodiscard]] std::optional<std::string> publish_snapshot(const ServerConfig& config,
                                                          const StatsSnapshot& snapshot);

}  // namespace muxbench
