#pragma once

#include <netinet/in.h>
#include <sys/types.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/output_path.hpp"

namespace muxbench {

// The fewest completed echoes a window needs for its numbers to mean anything: 100, or 1 for
// messages of 1 MiB and more (a window may hold only a few of those). The sweep applies the same
// rule to the server's side of a window.
constexpr std::uint64_t default_min_echoes(std::size_t message_size) {
  return message_size >= (std::size_t{1} << 20) ? 1 : 100;
}

struct LoadgenConfig {
  std::string target_text;
  sockaddr_in target{};
  std::uint64_t idle = 0;
  std::uint64_t active = 1;
  std::size_t size = 64;
  std::chrono::nanoseconds duration = std::chrono::seconds(5);
  std::chrono::nanoseconds warmup = std::chrono::seconds(1);
  std::chrono::nanoseconds drain_timeout = std::chrono::seconds(5);
  std::uint32_t depth = 1;
  std::optional<double> rate;  // open loop when set
  std::string source_ips_text;
  std::vector<in_addr> source_ips;
  std::optional<double> connect_rate;
  std::vector<int> cpus;
  unsigned threads = 1;
  bool busy_poll = false;
  std::optional<OutputPath> json;  // checked before the run ('-': standard output)
  std::optional<OutputPath> csv;
  std::optional<OutputPath> hdr;
  double hdr_unit_ratio = 1000.0;  // --hdr-unit: ns per unit of the --hdr text (us 1e3, ms 1e6)
  // --hlog: one interval histogram per second of the window, as HdrHistogram's .hlog.
  std::optional<OutputPath> hlog;
  // Each gets SIGUSR1 when the window starts and when it ends (the server: a stats snapshot; a
  // sweep: a /proc sample of any server).
  std::vector<pid_t> signal_pids;
  // Wall-clock time (ns since the epoch) at which the warm-up starts, so that generators on
  // several hosts measure the same window; nullopt: as soon as the connections are open.
  std::optional<std::int64_t> start_at_unix_ns;
  bool quiet = false;
  // Open loop: a send that leaves later than this after its intended time is late.
  std::chrono::nanoseconds late_tolerance = std::chrono::milliseconds(1);
  // A window with fewer completed echoes is insufficient; nullopt: 100, or 1 for messages of
  // 1 MiB and more (min_echoes()).
  std::optional<std::uint64_t> min_echoes_option;
  bool allow_overload = false;  // overloaded exits 0 (the status still says overloaded)
  // --lifetime K: each active connection carries K echo exchanges, then is closed and replaced;
  // nullopt: persistent connections.
  std::optional<std::uint64_t> lifetime;

  std::array<const std::optional<OutputPath>*, 4> outputs() const {
    return {&json, &csv, &hdr, &hlog};
  }
  // --hlog: the window's seconds, the last one possibly shorter (none without --hlog).
  std::size_t hlog_intervals() const {
    if (!hlog) return 0;
    constexpr std::int64_t kSecond = 1'000'000'000;
    return static_cast<std::size_t>((duration.count() + kSecond - 1) / kSecond);
  }

  std::uint64_t min_echoes() const { return min_echoes_option.value_or(default_min_echoes(size)); }
};

}  // namespace muxbench
