#pragma once

#include <netinet/in.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace muxbench {

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
  std::optional<std::string> json_path;
  std::optional<std::string> csv_path;
  std::optional<std::string> hdr_path;
  std::optional<pid_t> signal_pid;  // gets SIGUSR1 when the window starts and when it ends
  // Wall-clock time (ns since the epoch) at which the warm-up starts, so that generators on
  // several hosts measure the same window; nullopt: as soon as the connections are open.
  std::optional<std::int64_t> start_at_unix_ns;
  bool quiet = false;
};

}  // namespace muxbench
