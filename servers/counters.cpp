#include "servers/counters.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>

#include "common/atomic_file.hpp"

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

nlohmann::json stats_snapshot(const ServerCounters& c, const ServerConfig& config,
                              const SnapshotInfo& info) {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  const auto observable = [&](std::uint64_t value) {
    return info.wait_calls_observable ? nlohmann::json(value) : nlohmann::json(nullptr);
  };
  return {
      {"schema_version", 1},
      {"kind", "echo-server-stats"},
      {"backend", config.backend},
      {"pid", ::getpid()},
      {"sequence", info.sequence},
      {"reason", info.reason},
      {"time",
       {{"monotonic_ns", nanoseconds_now<std::chrono::steady_clock>()},
        {"unix_ns", nanoseconds_now<std::chrono::system_clock>()}}},
      {"config",
       {{"bind", config.bind_address},
        {"port", config.port},
        {"read_size", config.read_size},
        {"max_pending", config.max_pending},
        {"cpu", config.cpu ? nlohmann::json(*config.cpu) : nlohmann::json(nullptr)},
        {"fd_limit", {{"soft", config.fd_limit.soft}, {"hard", config.fd_limit.hard}}}}},
      {"counters",
       {{"wait_calls", observable(c.wait_calls)},
        {"events", c.events},
        {"fds_passed", observable(c.fds_passed)},
        {"interest_changes", c.interest_changes},
        {"stale_events", c.stale_events},
        {"carried_over", c.carried_over},
        {"submissions", c.submissions},
        {"accepts", c.accepts},
        {"refused_fd_setsize", c.refused_fd_setsize},
        {"refused_fd_limit", c.refused_fd_limit},
        {"fd_limit_hits", c.fd_limit_hits},
        {"accept_errors", c.accept_errors},
        {"closes_eof", c.closes_eof},
        {"closes_reset", c.closes_reset},
        {"closes_error", c.closes_error},
        {"half_closes", c.half_closes},
        {"bytes_in", c.bytes_in},
        {"bytes_out", c.bytes_out},
        {"backpressure_pauses", c.backpressure_pauses}}},
      {"gauges",
       {{"open_connections", c.open_connections},
        {"pending_bytes", c.pending_bytes},
        {"max_connection_pending", c.max_connection_pending}}},
      {"cpu",
       {{"user_us", microseconds(usage.ru_utime)}, {"system_us", microseconds(usage.ru_stime)}}},
      {"memory", {{"rss_bytes", resident_bytes()}, {"max_rss_bytes", usage.ru_maxrss * 1024L}}},
  };
}

void publish_snapshot(const ServerConfig& config, const nlohmann::json& snapshot) {
  if (config.stats_file) {
    write_file_atomically(*config.stats_file, snapshot.dump(2) + "\n");
  } else {
    std::fputs((snapshot.dump() + "\n").c_str(), stdout);
    std::fflush(stdout);
  }
}

}  // namespace muxbench
