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

bool select_supports(std::uint64_t idle, std::uint64_t active, bool churn) {
  return idle + active * (churn ? 2 : 1) + kServerOwnDescriptors <= FD_SETSIZE;
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
    // Two-second windows keep every study within about two hours on a 2-core machine.
    c.duration = std::chrono::seconds(2);
    c.warmup = std::chrono::milliseconds(500);
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
  c.studies = default_studies(c, full);
  return c;
}

std::vector<Study> default_studies(const SweepConfig& c, bool full) {
  // The quick run measures the new studies on the backends the maps compare.
  const std::vector<std::string> slice =
      full ? std::vector<std::string>{}
           : std::vector<std::string>{
                 std::string(backend_name("select")), std::string(backend_name("poll")),
                 std::string(backend_name("epoll-lt")), std::string(backend_name("uring-poll"))};
  const Series closed = c.series.front();
  std::vector<Series> closed_and_open = {closed};
  for (const auto& s : c.series) {
    if (s.load == LoadMode::open) {
      closed_and_open.push_back(s);
      break;
    }
  }
  const std::optional<std::uint64_t> persistent;
  std::vector<Study> studies = {c.idle_study()};
  // Where epoll starts to matter: idle counts between 0 and 200.
  studies.push_back({"crossover",
                     {closed},
                     {0, 5, 10, 20, 50, 100, 200},
                     {c.active},
                     {c.size},
                     {persistent},
                     {},
                     {},
                     {}});
  // All connections active (idle 0) up to many: poll's scan amortised over ready descriptors.
  studies.push_back(
      {"activity",
       {closed},
       full ? std::vector<std::uint64_t>{0, 100, 1000, 10000} : std::vector<std::uint64_t>{0, 1000},
       full ? std::vector<std::uint64_t>{10, 100, 1000, 10000}
            : std::vector<std::uint64_t>{10, 100, 1000},
       {c.size},
       {persistent},
       {},
       {},
       slice});
  // Short connections: epoll_ctl ADD and DEL per connection.
  studies.push_back(
      {"churn",
       {closed},
       full ? std::vector<std::uint64_t>{0, 1000, 10000} : std::vector<std::uint64_t>{0, 1000},
       {c.active},
       {c.size},
       full ? std::vector<std::optional<std::uint64_t>>{1, 10, 100, 1000, persistent}
            : std::vector<std::optional<std::uint64_t>>{1, 10, 100, persistent},
       {},
       {},
       slice});
  // Messages larger than the socket buffer: write interest armed and disarmed.
  studies.push_back({"size",
                     {closed},
                     full ? std::vector<std::uint64_t>{0, 1000} : std::vector<std::uint64_t>{0},
                     {c.active},
                     full ? std::vector<std::size_t>{64, 4096, 65536, 1048576, 4194304}
                          : std::vector<std::size_t>{64, 16384, 1048576},
                     {persistent},
                     {},
                     {},
                     slice});
  // The servers muxbench ships (Python's, libuv) beside the C backends doing the same wait; the
  // run adds their templates when their interpreter or library is installed.
  const std::vector<std::string> shipped_and_peers = {
      "select",           "poll",           "epoll-lt",
      "python-select",    "python-poll",    "python-epoll",
      "python-selectors", "python-asyncio", "libuv"};
  studies.push_back({"servers",
                     {closed},
                     full ? std::vector<std::uint64_t>{0, 10, 100, 1000, 3000, 10000}
                          : std::vector<std::uint64_t>{0, 100, 1000},
                     {c.active},
                     {c.size},
                     {persistent},
                     {},
                     {},
                     shipped_and_peers});
  // The full run adds an activity slice for them: Python's interpreter time per request moves
  // where a scan of many ready descriptors is amortised.
  if (full) {
    studies.push_back({"servers-activity",
                       {closed},
                       {0, 1000},
                       {100, 1000},
                       {c.size},
                       {persistent},
                       {},
                       {},
                       shipped_and_peers});
  }
  // Latency against offered load, as fractions of each backend's own closed-loop capacity.
  if (closed_and_open.size() > 1) {
    studies.push_back({"load",
                       closed_and_open,
                       full ? std::vector<std::uint64_t>{0, 3000} : std::vector<std::uint64_t>{0},
                       {c.active},
                       {c.size},
                       {persistent},
                       {},
                       full ? std::vector<double>{0.1, 0.25, 0.5, 0.75, 0.9, 1.0, 1.2}
                            : std::vector<double>{0.25, 0.75, 1.2},
                       slice});
  }
  return studies;
}

namespace {

// Of the study's backends, the ones the run measures (all of the run's when the study names
// none): the run's backends and the foreign servers it has templates for (the `servers` study
// runs the shipped ones, which the other studies leave out), in the run's order.
std::vector<std::string> study_backends(const SweepConfig& config, const Study& study) {
  if (study.backends.empty()) return config.backends;
  const auto named = [&](const std::string& b) {
    return std::find(study.backends.begin(), study.backends.end(), b) != study.backends.end();
  };
  std::vector<std::string> chosen;
  for (const auto& b : config.backends) {
    if (named(b)) chosen.push_back(b);
  }
  for (const auto& server : config.servers) {
    if (named(server.name) && std::find(chosen.begin(), chosen.end(), server.name) == chosen.end())
      chosen.push_back(server.name);
  }
  return chosen;
}

// The rates an open series runs at in a study: its fractions, then its fixed rates, else the
// run's rate; a closed series has none.
std::vector<Workload> rate_settings(const SweepConfig& config, const Study& study,
                                    const Series& series, Workload w) {
  if (series.load == LoadMode::closed) return {w};
  std::vector<Workload> settings;
  for (const double f : study.rate_fractions) {
    w.rate.reset();
    w.rate_fraction = f;
    settings.push_back(w);
  }
  w.rate_fraction.reset();
  for (const double r : study.rates) {
    w.rate = r;
    settings.push_back(w);
  }
  if (settings.empty()) {
    w.rate = config.rate;
    settings.push_back(w);
  }
  return settings;
}

// The workloads of a study for one series: active x size x lifetime x rate.
std::vector<Workload> study_workloads(const SweepConfig& config, const Study& study,
                                      const Series& series) {
  std::vector<Workload> workloads;
  for (const auto active : study.active) {
    for (const auto size : study.size) {
      for (const auto& lifetime : study.lifetime) {
        const auto rates =
            rate_settings(config, study, series, {active, size, lifetime, std::nullopt, {}});
        workloads.insert(workloads.end(), rates.begin(), rates.end());
      }
    }
  }
  return workloads;
}

// Closed-loop series first: the capacity an open series' rate fraction refers to.
std::vector<Series> closed_first(std::vector<Series> series) {
  std::stable_partition(series.begin(), series.end(),
                        [](const Series& s) { return s.load == LoadMode::closed; });
  return series;
}

}  // namespace

std::string point_id(const SweepConfig& config, const Series& series, const std::string& backend,
                     std::uint64_t idle, const Workload& w, unsigned repeat) {
  std::string dims;
  if (w.active != config.active) dims += fmt::format("__a{}", w.active);
  if (w.size != config.size) dims += fmt::format("__s{}", w.size);
  if (w.lifetime) dims += fmt::format("__k{}", *w.lifetime);
  if (w.rate_fraction) dims += fmt::format("__load{:g}pct", *w.rate_fraction * 100);
  if (w.rate && series.load == LoadMode::open && *w.rate != config.rate)
    dims += fmt::format("__rate{:g}", *w.rate);
  return fmt::format("{}__{}__idle{}{}__r{}", series.name, backend, idle, dims, repeat);
}

std::vector<PointSpec> build_grid(const SweepConfig& config) {
  std::vector<PointSpec> points;
  std::set<std::string> ids;
  for (unsigned repeat = 1; repeat <= config.repeats; ++repeat) {
    for (const auto& study : config.studies) {
      const auto backends = study_backends(config, study);
      for (const auto& series : closed_first(study.series)) {
        const auto workloads = study_workloads(config, study, series);
        for (const auto idle : study.idle) {
          for (const auto& workload : workloads) {
            for (const auto& backend : backends) {
              // A default study's corner the fd limit cannot hold (a grid given on the command
              // line is checked before the run instead).
              if (config.fd_limit && idle > max_idle(config.fd_limit, workload.active) && idle)
                continue;
              std::string id = point_id(config, series, backend, idle, workload, repeat);
              if (!ids.insert(id).second) continue;
              points.push_back({std::move(id), series, backend, idle, repeat, workload});
            }
          }
        }
      }
    }
  }
  return points;
}

namespace {
// A closed-loop point of the same backend and workload as `point`, whatever its rate.
bool same_closed_workload(const PointRecord& p, const PointSpec& point) {
  return p.load == LoadMode::closed && p.backend == point.backend && p.idle == point.idle &&
         p.active == point.workload.active && p.size == point.workload.size &&
         p.lifetime == point.workload.lifetime;
}
}  // namespace

std::optional<double> closed_loop_capacity(const std::vector<PointRecord>& measured,
                                           const PointSpec& point) {
  std::vector<double> found;
  for (const auto& p : measured) {
    if (p.status != PointStatus::ok || !p.measured || !same_closed_workload(p, point)) continue;
    found.push_back(p.measured->throughput_msgs_per_s);
  }
  if (found.empty()) return std::nullopt;
  std::sort(found.begin(), found.end());
  const std::size_t n = found.size();
  return n % 2 ? found[n / 2] : (found[n / 2 - 1] + found[n / 2]) / 2;
}

std::optional<UnresolvedRate> resolve_rate_fraction(PointSpec& point,
                                                    const std::vector<PointRecord>& measured) {
  if (!point.workload.rate_fraction || point.series.load != LoadMode::open) return std::nullopt;
  if (const auto capacity = closed_loop_capacity(measured, point)) {
    point.workload.rate = *capacity * *point.workload.rate_fraction;
    return std::nullopt;
  }
  for (const auto& p : measured) {
    if (same_closed_workload(p, point) && p.status == PointStatus::unsupported)
      return UnresolvedRate{PointStatus::unsupported, p.reason.value_or("unsupported")};
  }
  return UnresolvedRate{
      PointStatus::failed,
      fmt::format("no closed-loop capacity to take {:g}% of: no ok closed-loop point of {} at "
                  "{} idle with this workload in the run",
                  *point.workload.rate_fraction * 100, point.backend, point.idle)};
}

}  // namespace muxbench
