#include "servers/counters.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>

#include "common/output_path.hpp"

namespace muxbench {
namespace {

std::uint64_t microseconds(const timeval& tv) {
  return static_cast<std::uint64_t>(tv.tv_sec) * 1'000'000u +
         static_cast<std::uint64_t>(tv.tv_usec);
}

std::uint64_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::uint64_t size_pages = 0, resident_pages = 0;
  statm >> size_pages >> resident_pages;
  return resident_pages * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
}

template <class Clock>
std::int64_t nanoseconds_now() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

}  // namespace

ReadGate read_gate(std::size_t owed, const ServerConfig& config, const ServerCounters& counters) {
  if (owed >= config.max_pending) return ReadGate::kConnectionCap;
  if (owed == 0 || counters.pending_bytes <= config.max_total_pending) return ReadGate::kOpen;
  const std::uint64_t share =
      config.max_total_pending / (2 * std::max<std::uint64_t>(counters.open_connections, 1));
  return owed < share ? ReadGate::kOpen : ReadGate::kBudget;
}

void count_pause(ReadGate gate, ServerCounters& counters) {
  if (gate == ReadGate::kConnectionCap) ++counters.backpressure_pauses;
  if (gate == ReadGate::kBudget) ++counters.budget_pauses;
}

StatsSnapshot stats_snapshot(const ServerCounters& c, const ServerConfig& config,
                             const SnapshotInfo& info) {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  const auto observable = [&](std::uint64_t value) {
    return info.wait_calls_observable ? std::optional(value) : std::nullopt;
  };
  StatsSnapshot s;
  s.backend = config.backend;
  s.pid = ::getpid();
  s.sequence = info.sequence;
  s.reason = info.reason;
  s.time = {nanoseconds_now<std::chrono::steady_clock>(),
            nanoseconds_now<std::chrono::system_clock>()};
  s.config = {config.bind_address, config.port,     config.read_size,        config.max_pending,
              config.cpu,          config.fd_limit, config.max_total_pending};
  s.counters = {observable(c.wait_calls),
                c.events,
                observable(c.fds_passed),
                c.interest_changes,
                c.stale_events,
                c.carried_over,
                c.submissions,
                c.accepts,
                c.refused_fd_setsize,
                c.refused_fd_limit,
                c.fd_limit_hits,
                c.accept_errors,
                c.closes_eof,
                c.closes_reset,
                c.closes_error,
                c.half_closes,
                c.bytes_in,
                c.bytes_out,
                c.backpressure_pauses,
                c.budget_pauses};
  s.gauges = {c.open_connections, c.pending_bytes, c.max_connection_pending, c.max_pending_bytes};
  s.cpu = {microseconds(usage.ru_utime), microseconds(usage.ru_stime)};
  s.memory = {resident_bytes(), usage.ru_maxrss * 1024L};
  return s;
}

std::optional<std::string> publish_snapshot(const ServerConfig& config,
                                            const StatsSnapshot& snapshot) {
  const nlohmann::json json = snapshot;
  if (config.stats_file && !config.stats_file->is_stdout()) {
    return config.stats_file->write(json.dump(2) + "\n");
  }
  static const OutputPath standard_output = OutputPath::checked("--stats-file", "-");
  return standard_output.write(json.dump() + "\n");
}

}  // namespace muxbench
