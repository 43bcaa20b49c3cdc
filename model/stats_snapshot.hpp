#pragma once

// The echo-server stats snapshot (results/README.md, "echo-server stats snapshot"): schema 1,
// kind `echo-server-stats`, one per SIGUSR1 and one on exit.
#include <cstdint>
#include <optional>
#include <string>

#include "model/environment.hpp"  // FdLimit's JSON
#include "model/json_support.hpp"

namespace muxbench {

struct SnapshotTime {
  std::int64_t monotonic_ns = 0;  // CLOCK_MONOTONIC: for differences
  std::int64_t unix_ns = 0;       // wall clock: for logs
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(SnapshotTime, monotonic_ns, unix_ns)

struct SnapshotConfig {
  std::string bind;
  std::uint16_t port = 0;
  std::uint64_t read_size = 0;
  std::uint64_t max_pending = 0;
  std::optional<int> cpu;               // null: not pinned
  FdLimit fd_limit;                     // after raising soft to hard
  std::uint64_t max_total_pending = 0;  // the budget over all connections
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(SnapshotConfig, bind, port, read_size, max_pending,
                                                cpu, fd_limit, max_total_pending)

// Monotonic counters: the cost of a window is the difference of two snapshots.
struct SnapshotCounters {
  std::optional<std::uint64_t> wait_calls;  // null for asio: not observable
  std::uint64_t events = 0;
  std::optional<std::uint64_t> fds_passed;  // null for asio
  std::uint64_t interest_changes = 0;
  std::uint64_t stale_events = 0;
  std::uint64_t carried_over = 0;
  std::uint64_t submissions = 0;
  std::uint64_t accepts = 0;
  std::uint64_t refused_fd_setsize = 0;
  std::uint64_t refused_fd_limit = 0;
  std::uint64_t fd_limit_hits = 0;
  std::uint64_t accept_errors = 0;
  std::uint64_t closes_eof = 0;
  std::uint64_t closes_reset = 0;
  std::uint64_t closes_error = 0;
  std::uint64_t half_closes = 0;
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
  std::uint64_t backpressure_pauses = 0;
  std::uint64_t budget_pauses = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(SnapshotCounters, wait_calls, events, fds_passed,
                                                interest_changes, stale_events, carried_over,
                                                submissions, accepts, refused_fd_setsize,
                                                refused_fd_limit, fd_limit_hits, accept_errors,
                                                closes_eof, closes_reset, closes_error, half_closes,
                                                bytes_in, bytes_out, backpressure_pauses,
                                                budget_pauses)

struct SnapshotGauges {
  std::uint64_t open_connections = 0;
  std::uint64_t pending_bytes = 0;
  std::uint64_t max_connection_pending = 0;
  std::uint64_t max_pending_bytes = 0;  // high-water mark of pending_bytes
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(SnapshotGauges, open_connections, pending_bytes,
                                                max_connection_pending, max_pending_bytes)

struct SnapshotCpu {
  std::uint64_t user_us = 0;
  std::uint64_t system_us = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(SnapshotCpu, user_us, system_us)

struct SnapshotMemory {
  std::uint64_t rss_bytes = 0;
  std::int64_t max_rss_bytes = 0;  // getrusage's ru_maxrss (a long) in bytes
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(SnapshotMemory, rss_bytes, max_rss_bytes)

struct StatsSnapshot {
  int schema_version = 1;
  std::string kind = "echo-server-stats";
  std::string backend;
  std::int64_t pid = 0;
  std::uint64_t sequence = 0;  // grows by one per snapshot
  std::string reason;          // "signal" (SIGUSR1) or "exit"
  SnapshotTime time;
  SnapshotConfig config;
  SnapshotCounters counters;
  SnapshotGauges gauges;
  SnapshotCpu cpu;
  SnapshotMemory memory;

  static constexpr const char* kKind = "echo-server-stats";
  bool at_signal() const { return reason == "signal"; }
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(StatsSnapshot, schema_version, kind, backend, pid,
                                                sequence, reason, time, config, counters, gauges,
                                                cpu, memory)

}  // namespace muxbench
