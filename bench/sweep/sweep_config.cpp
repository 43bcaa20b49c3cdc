#include "bench/sweep/sweep_config.hpp"

#include <fmt/format.h>
#include <sys/select.h>

#include <algorithm>
#include <set>

#include "common/backend_table.hpp"

namespace muxbench {
std::uint64_t max_idle(std::uint64_t fd_limit, std::uint64_t active) {
  constexpr std::uint64_t kSpare = 64;  // each process's own descriptors
  if (fd_limit < active + kSpare + 1000) return 0;
  return (fd_limit - active - kSpare) / 1000 * 1000;
}

std::vector<std::uint64_t> default_idle_grid(std::uint64_t fd_limit, std::uint64_t active,
                                             bool full) {
  const std::uint64_t top = max_idle(fd_limit, active);
  // FD_SETSIZE is 1024: 1000 is the last count select can take beside a few active connections.
  std::set<std::uint64_t> grid = {0, 100, 1000, 1500, 3000, 10000};
  if (full) grid.insert({300, 5000});
  for (std::uint64_t n = 20000; n < top; n *= 2) grid.insert(n);  // users with large limits
  grid.insert(top);
  std::erase_if(grid, [&](std::uint64_t n) { return n > top; });
  return {grid.begin(), grid.end()};
}

bool select_supports(std::uint64_t idle, std::uint64_t active) {
  return idle + active + kServerOwnDescriptors <= FD_SETSIZE;
}

SweepConfig default_config(bool full, std::uint64_t fd_limit, const std::vector<int>& cpus) {
  SweepConfig c;
  c.mode = full ? "full" : "quick";
  for (const auto& backend : kBackendTable) c.backends.emplace_back(backend.name);
  c.fd_limit = fd_limit;
  c.idle = default_idle_grid(fd_limit, c.active, full);
  c.server_cpu = cpus.empty() ? 0 : cpus.front();
  c.generator_cpu = cpus.size() > 1 ? cpus[1] : c.server_cpu;
  const bool two_cpus = c.server_cpu != c.generator_cpu;
  // Closed loop for throughput and CPU per message; open loop for latency at equal load, with
  // the generator spinning so that waking its own core stays out of the latency.
  const Placement split = two_cpus ? Placement::split : Placement::shared;
  c.series = {{"closed-split", LoadMode::closed, split, false}};
  if (two_cpus) c.series.push_back({"open-split-busy", LoadMode::open, Placement::split, true});
  if (full || !two_cpus) c.series.push_back({"open-split", LoadMode::open, split, false});
  if (full && two_cpus)
    c.series.push_back({"open-shared", LoadMode::open, Placement::shared, false});
  if (full) {
    c.duration = std::chrono::seconds(3);
    c.warmup = std::chrono::seconds(1);
    c.repeats = 3;
    c.micro_min_time = 0.1;
    c.micro_repetitions = 3;
  } else {
    // ready:1 and epoll_ctl for the summary; the cost model's rows (docs/cost-model.md) at three
    // sizes only (about 2 s more).
    c.micro_filter =
        "^(select|poll|epoll-lt|epoll-et|epoll-et-rearm|uring-poll)/socketpair/ready:1/|^epoll_ctl"
        "|^(select|poll|epoll-lt)/socketpair/ready:(0|all)/fds:(16|64|256)/"
        "|^conn_cycle/(select|poll|epoll-lt)/|^echo_syscalls/tcp/size:";
    c.micro_min_time = 0.05;
  }
  return c;
}

std::vector<PointSpec> build_grid(const SweepConfig& config) {
  std::vector<PointSpec> points;
  for (unsigned repeat = 1; repeat <= config.repeats; ++repeat) {
    for (const auto& series : config.series) {
      for (const auto idle : config.idle) {
        for (const auto& backend : config.backends) {
          points.push_back({fmt::format("{}__{}__idle{}__r{}", series.name, backend, idle, repeat),
                            series, backend, idle, repeat});
        }
      }
    }
  }
  return points;
}

}  // namespace muxbench
