#pragma once

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace muxbench {

// A series is one way of loading the servers: closed loop (throughput, CPU per message) or open
// loop at a fixed rate (latency at equal load), with a placement of the two processes.
struct Series {
  std::string name;        // "closed-split", "open-split-busy", ...
  std::string load;        // "closed" or "open"
  std::string placement;   // "split": server and generator on different CPUs; "shared": one CPU
  bool busy_poll = false;  // the generator spins instead of sleeping
};

struct SweepConfig {
  std::string mode = "quick";  // quick or full (or custom when the grid was given)
  std::vector<std::string> backends = {"select", "poll",       "epoll-lt", "epoll-et",
                                       "asio",   "uring-poll", "uring"};
  std::vector<std::uint64_t> idle;
  std::uint64_t active = 10;
  std::size_t size = 64;
  std::uint32_t depth = 1;
  double rate = 10'000;
  std::chrono::nanoseconds duration = std::chrono::seconds(1);
  std::chrono::nanoseconds warmup = std::chrono::milliseconds(500);
  unsigned repeats = 1;
  std::vector<Series> series;
  int server_cpu = 0;
  int generator_cpu = 1;
  std::string micro_filter;  // empty: every wait-bench benchmark
  double micro_min_time = 0.1;
  unsigned micro_repetitions = 1;
  std::uint64_t fd_limit = 0;  // the soft limit the sweep ran with
  // Beyond one machine (README "Bigger than one machine"): a shell template that starts the
  // server in place ({echo_server} {args}; it must exec it, e.g. through `ip netns exec`), and one
  // template per load generator ({loadgen} {port} {args}, e.g. over ssh). Empty: all local.
  std::string server_command;
  std::vector<std::string> generator_commands;
};

nlohmann::json to_json(const SweepConfig& config);
SweepConfig config_from_json(const nlohmann::json& json);

// Defaults for --quick / --full on a machine with this fd limit and these CPUs.
SweepConfig default_config(bool full, std::uint64_t fd_limit, const std::vector<int>& cpus);

// The largest idle count both processes can hold (a multiple of 1000), and the default grid:
// 0, 100, 1000, around FD_SETSIZE, then up to that maximum.
std::uint64_t max_idle(std::uint64_t fd_limit, std::uint64_t active);
std::vector<std::uint64_t> default_idle_grid(std::uint64_t fd_limit, std::uint64_t active,
                                             bool full);

// select() can watch descriptors below FD_SETSIZE only; the server's own descriptors (stdio,
// listener, signal pipe, reserve) come first.
bool select_supports(std::uint64_t idle, std::uint64_t active);
inline constexpr std::uint64_t kServerOwnDescriptors = 8;

struct PointSpec {
  std::string id;  // unique, usable as a file name
  Series series;
  std::string backend;
  std::uint64_t idle = 0;
  unsigned repeat = 1;
};

// Every point of the sweep, idle counts outer and backends inner, so that slow drift of the
// machine affects all backends alike.
std::vector<PointSpec> build_grid(const SweepConfig& config);

}  // namespace muxbench
