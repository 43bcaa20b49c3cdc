#include "loadgen/run.hpp"

#include <fmt/format.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <optional>
#include <sstream>
#include <thread>

#include "common/clock.hpp"
#include "common/cpu_affinity.hpp"
#include "common/environment.hpp"
#include "common/fd_limit.hpp"
#include "common/output_path.hpp"
#include "common/stop_flag.hpp"
#include "common/usage_error.hpp"
#include "loadgen/addresses.hpp"
#include "loadgen/connector.hpp"
#include "loadgen/hlog.hpp"
#include "loadgen/measurement.hpp"
#include "loadgen/report.hpp"
#include "loadgen/socket_connect.hpp"
#include "loadgen/worker.hpp"

namespace muxbench {
namespace {

constexpr std::uint64_t kSpareDescriptors = 32;  // stdio, epoll sets, report files

std::uint64_t ephemeral_ports() { return ephemeral_port_count(local_port_settings()); }

void refuse_beyond_limits(const LoadgenConfig& config, const FdLimit& limit) {
  const std::uint64_t connections = config.idle + config.active;
  const std::uint64_t needed = connections + config.threads + kSpareDescriptors;
  if (needed > limit.soft) {
    throw UsageError(fmt::format(
        "{} idle + {} active connections need about {} descriptors, but this process may open "
        "only {} (hard limit {}). Raise the hard limit (ulimit -Hn as root, "
        "/etc/security/limits.conf, or LimitNOFILE= for a systemd service) or ask for fewer.",
        config.idle, config.active, needed, limit.soft, limit.hard));
  }
  const std::uint64_t sources = std::max<std::size_t>(config.source_ips.size(), 1);
  const std::uint64_t ports = ephemeral_ports() * sources;
  if (connections > ports) {
    throw UsageError(fmt::format(
        "{} connections to one server need more than the {} ephemeral ports of {} source "
        "address(es): spread them with --source-ips (e.g. 127.0.0.1-127.0.0.{})",
        connections, ports, sources,
        connections / std::max<std::uint64_t>(ephemeral_ports(), 1) + 2));
  }
}

// A connection the server dropped reads as end-of-file or an error; a live idle one has nothing
// to read, or data the server sent unasked (still alive, but counted apart).
IdleState idle_state(const std::vector<int>& fds) {
  IdleState state;
  char byte;
  for (const int fd : fds) {
    const ssize_t n = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n > 0) ++state.unexpected_data;
    if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))) ++state.alive;
  }
  return state;
}

void close_all(const std::vector<int>& fds) {
  for (const int fd : fds) ::close(fd);
}

class Progress {
 public:
  explicit Progress(bool enabled) : enabled_(enabled), tty_(::isatty(STDERR_FILENO) != 0) {}

  void line(const std::string& text) {
    if (!enabled_) return;
    if (tty_) {
      fmt::print(stderr, "\r\033[K{}", text);
    } else {
      fmt::print(stderr, "{}\n", text);
    }
    std::fflush(stderr);
    shown_ = true;
  }
  void done() {
    if (enabled_ && tty_ && shown_) fmt::print(stderr, "\n");
  }
  bool enabled() const { return enabled_; }

 private:
  bool enabled_;
  bool tty_;
  bool shown_ = false;
};

LoadgenConfigRecord config_record(const LoadgenConfig& c) {
  LoadgenConfigRecord r;
  r.target = to_string(c.target);
  r.idle = c.idle;
  r.active = c.active;
  r.size = c.size;
  r.mode = c.rate ? LoadMode::open : LoadMode::closed;
  if (!c.rate) r.depth = c.depth;
  r.rate = c.rate;
  r.duration_s = std::chrono::duration<double>(c.duration).count();
  r.warmup_s = std::chrono::duration<double>(c.warmup).count();
  r.drain_timeout_s = std::chrono::duration<double>(c.drain_timeout).count();
  for (const auto& address : c.source_ips) r.source_ips.push_back(to_string(address));
  r.connect_rate = c.connect_rate;
  r.threads = c.threads;
  r.cpus = c.cpus;
  for (const int cpu : c.cpus)
    r.cpus_text += fmt::format("{}{}", r.cpus_text.empty() ? "" : " ", cpu);
  r.busy_poll = c.busy_poll;
  // The report has always named one process; the first of several stands for them.
  if (!c.signal_pids.empty()) r.signal_pid = c.signal_pids.front();
  r.start_at_unix_ns = c.start_at_unix_ns;
  r.lifetime = c.lifetime;
  return r;
}

// The idle connections, then the active ones (not tried once opening the idle ones stopped).
struct OpenedConnections {
  ConnectOutcome idle;
  ConnectOutcome active;

  const std::optional<std::string>& error() const { return idle.fatal ? idle.fatal : active.fatal; }
  bool complete() const { return !error() && !idle.interrupted && !active.interrupted; }
};

OpenedConnections open_all(const LoadgenConfig& config, Progress& progress) {
  ConnectPlan plan;
  plan.target = config.target;
  plan.sources = config.source_ips;
  plan.rate = config.connect_rate;
  std::size_t source_cursor = 0;
  const auto open = [&](std::uint64_t count, const char* kind) {
    return open_connections(plan, count, source_cursor, stop_requested(), [&](std::size_t opened) {
      progress.line(fmt::format("loadgen: opening {} connections {}/{}", kind, opened, count));
    });
  };
  OpenedConnections opened;
  opened.idle = open(config.idle, "idle");
  if (!opened.idle.fatal && !opened.idle.interrupted) opened.active = open(config.active, "active");
  return opened;
}

ConnectionsRecord connections_record(const LoadgenConfig& config, const FdLimit& limit,
                                     const OpenedConnections& opened) {
  ConnectionsRecord r;
  r.idle = {.requested = config.idle,
            .opened = opened.idle.fds.size(),
            .open_seconds = opened.idle.seconds,
            .alive_at_end = std::nullopt,
            .unexpected_data = std::nullopt};
  r.active = {.requested = config.active,
              .opened = opened.active.fds.size(),
              .open_seconds = opened.active.seconds,
              .lost = std::nullopt};
  r.retries = opened.idle.retries + opened.active.retries;
  for (const auto* outcome : {&opened.idle, &opened.active}) {
    for (const auto& [category, count] : outcome->failures) r.failures[category] += count;
  }
  r.fd_limit = limit;
  return r;
}

int exit_code(const LoadgenConfig& config, LoadgenStatus status) {
  switch (status) {
    case LoadgenStatus::ok:
      return 0;
    case LoadgenStatus::interrupted:
      return kExitInterrupted;
    case LoadgenStatus::overloaded:
      return config.allow_overload ? 0 : 1;
    case LoadgenStatus::errors:
    case LoadgenStatus::connect_failed:
    case LoadgenStatus::insufficient:
      break;
  }
  return 1;
}

// --hlog: the window's seconds, merged over the workers, and when the window started.
struct IntervalLatency {
  double window_start_unix_s = 0;
  std::vector<LatencyHistogram> seconds;
};

// One interval per second of the measured window (the last as long as what is left of it; none
// for a run that never measured), as HistogramLogWriter writes them, timestamps relative to the
// window's start.
std::string hlog_text(const LoadgenConfig& config, const LoadgenReport& report,
                      const IntervalLatency& latency) {
  std::ostringstream out;
  // A run that never measured: its log has no intervals and starts now.
  const double start_unix_s =
      report.measured
          ? latency.window_start_unix_s
          : std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
                .count();
  hdr::HlogWriter writer(
      out, start_unix_s, hdr::kDefaultMaxValueDivisor,
      fmt::format("muxbench loadgen --target {}: latency (ns) by the second of the window each "
                  "message was sent in (open loop: due)",
                  config.target_text));
  if (!report.measured) return out.str();
  constexpr std::int64_t kSecond = 1'000'000'000;
  const std::int64_t window_ns = std::llround(report.measured->window.seconds * 1e9);
  std::size_t count = static_cast<std::size_t>((window_ns + kSecond - 1) / kSecond);
  // Never drop a recorded second (every sample counted once, in the report and here).
  for (std::size_t k = count; k < latency.seconds.size(); ++k) {
    if (latency.seconds[k].count() > 0) count = k + 1;
  }
  count = std::min(count, latency.seconds.size());
  for (std::size_t k = 0; k < count; ++k) {
    const std::int64_t start_ns = static_cast<std::int64_t>(k) * kSecond;
    const std::int64_t length_ns = std::clamp<std::int64_t>(window_ns - start_ns, 1, kSecond);
    writer.write_interval(static_cast<double>(start_ns) / 1e9, static_cast<double>(length_ns) / 1e9,
                          latency.seconds[k]);
  }
  return out.str();
}

// Writes every requested output; one that fails is said on stderr (path and errno) and does not
// stop the others. Returns whether all were written.
bool write_outputs(const LoadgenConfig& config, const LoadgenReport& report,
                   const IntervalLatency& latency = {}) {
  bool all = true;
  const auto write = [&](const std::optional<OutputPath>& output, const auto& content) {
    if (!output) return;
    if (const auto error = output->write(content())) {
      fmt::print(stderr, "loadgen: {}\n", *error);
      all = false;
    }
  };
  write(config.json, [&] { return nlohmann::json(report).dump(2) + "\n"; });
  write(config.csv, [&] { return loadgen_csv_header() + loadgen_csv_row(report); });
  // No histogram (no window): an empty distribution, so that the file is still readable.
  write(config.hdr, [&] {
    return report.histogram.value_or(LatencyHistogram{})
        .percentile_distribution(config.hdr_unit_ratio);
  });
  write(config.hlog, [&] { return hlog_text(config, report, latency); });
  return all;
}

// The report is written; a failed write turns a clean exit into 1.
int finish_run(const LoadgenConfig& config, const LoadgenReport& report,
               const IntervalLatency& latency = {}) {
  const bool written = write_outputs(config, report, latency);
  const int code = exit_code(config, report.status);
  return code == 0 && !written ? 1 : code;
}

// Opening the connections failed or was interrupted: a report without a window.
int report_unmeasured(const LoadgenConfig& config, LoadgenReport& report,
                      const std::optional<std::string>& connect_error) {
  report.status = stop_requested().load() || !connect_error ? LoadgenStatus::interrupted
                                                            : LoadgenStatus::connect_failed;
  if (connect_error) report.problems.push_back(*connect_error);
  if (connect_error) fmt::print(stderr, "loadgen: {}\n", *connect_error);
  return finish_run(config, report);
}

// Active connections go round-robin to the workers; global ids stay ascending per worker.
Workers make_workers(const LoadgenConfig& config, const std::vector<int>& active,
                     bool report_progress) {
  const auto threads =
      static_cast<unsigned>(std::min<std::uint64_t>(config.threads, active.size()));
  Workers workers;
  for (unsigned t = 0; t < threads; ++t) {
    WorkerPlan plan;
    for (std::size_t i = t; i < active.size(); i += threads) {
      plan.connections.push_back({active[i], static_cast<std::uint32_t>(i)});
    }
    plan.total_active = static_cast<std::uint32_t>(active.size());
    plan.message_size = config.size;
    plan.depth = config.depth;
    plan.rate = config.rate;
    plan.late_tolerance_ns = config.late_tolerance.count();
    plan.busy_poll = config.busy_poll;
    plan.report_progress = report_progress;
    if (!config.cpus.empty()) plan.cpu = config.cpus[t % config.cpus.size()];
    plan.interval_count = config.hlog_intervals();
    plan.lifetime = config.lifetime;
    plan.target = config.target;
    plan.sources = config.source_ips;
    plan.source_cursor = t;  // the workers start their round-robin at different addresses
    workers.push_back(std::make_unique<Worker>(std::move(plan)));
  }
  return workers;
}

// The wall-clock time (seconds since the epoch) of a CLOCK_MONOTONIC instant.
double unix_seconds_at(std::int64_t monotonic) {
  const std::int64_t wall_now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                    std::chrono::system_clock::now().time_since_epoch())
                                    .count();
  return static_cast<double>(wall_now - monotonic_ns() + monotonic) / 1e9;
}

// The clock starts once every worker exists (registering many connections takes time) and
// leaves the threads a moment to reach their loops; or at the agreed --start-at time.
Schedule make_schedule(const LoadgenConfig& config, std::vector<std::string>& problems) {
  std::int64_t start = monotonic_ns() + 20'000'000;
  if (config.start_at_unix_ns) {
    const std::int64_t wall_now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                      std::chrono::system_clock::now().time_since_epoch())
                                      .count();
    const std::int64_t late = wall_now + 20'000'000 - *config.start_at_unix_ns;
    if (late > 0) {
      problems.push_back(
          fmt::format("started {:.1f} ms after --start-at: connecting took longer; "
                      "this generator's window is late by as much",
                      static_cast<double>(late) / 1e6));
    } else {
      start = monotonic_ns() + (*config.start_at_unix_ns - wall_now);
    }
  }
  const std::int64_t measure_start = start + config.warmup.count();
  const std::int64_t measure_end = measure_start + config.duration.count();
  return {start, measure_start, measure_end, measure_end + config.drain_timeout.count()};
}

// The main thread's part while the workers run: it signals the window's edges to the server
// (sleeping until each edge exactly) and draws the progress line.
class WindowWatch {
 public:
  WindowWatch(const LoadgenConfig& config, const Schedule& schedule, const Workers& workers,
              Progress& progress, const OpenedConnections& opened)
      : config_(config),
        schedule_(schedule),
        workers_(workers),
        progress_(progress),
        idle_(opened.idle.fds.size()),
        active_(opened.active.fds.size()),
        last_tick_(schedule.start_ns) {}

  void run() {
    for (;;) {
      const std::int64_t now = monotonic_ns();
      const bool over = now >= schedule_.measure_end_ns || stop_requested().load();
      signal_edges(now, over);
      if (over) return;
      if (progress_.enabled() && now - last_tick_ >= 1'000'000'000) draw(now);
      // Never in the past: a main thread that spins steals the worker's CPU. EINTR: loop again.
      sleep_until_ns(std::max(next_wake(now), now + 1'000'000));
    }
  }

 private:
  void signal_edges(std::int64_t now, bool over) {
    if (config_.signal_pids.empty()) return;
    if (!signalled_start_ && now >= schedule_.measure_start_ns) {
      for (const pid_t pid : config_.signal_pids) ::kill(pid, SIGUSR1);
      signalled_start_ = true;
    }
    if (signalled_start_ && !signalled_end_ && over) {
      for (const pid_t pid : config_.signal_pids) ::kill(pid, SIGUSR1);
      signalled_end_ = true;
    }
  }

  // The next window edge or progress tick, and at least every 100 ms for Ctrl-C.
  std::int64_t next_wake(std::int64_t now) const {
    std::int64_t wake = std::min(now + 100'000'000, signalled_start_ || config_.signal_pids.empty()
                                                        ? schedule_.measure_end_ns
                                                        : schedule_.measure_start_ns);
    if (progress_.enabled()) wake = std::min(wake, last_tick_ + 1'000'000'000);
    return wake;
  }

  void draw(std::int64_t now) {
    std::uint64_t received = 0, p99 = 0;
    for (const auto& worker : workers_) {
      received += worker->progress_received.load(std::memory_order_relaxed);
      p99 = std::max(p99, worker->progress_p99_ns.load());
    }
    const auto total = config_.warmup + config_.duration;
    progress_.line(fmt::format(
        "loadgen: [{:5.1f}s / {:.1f}s] {} | {} idle + {} active | {:.0f} msg/s | p99 {:.1f}us",
        static_cast<double>(now - schedule_.start_ns) / 1e9,
        std::chrono::duration<double>(total).count(),
        now < schedule_.measure_start_ns ? "warming up" : "measuring", idle_, active_,
        static_cast<double>(received - last_received_) /
            (static_cast<double>(now - last_tick_) / 1e9),
        static_cast<double>(p99) / 1e3));
    last_received_ = received;
    last_tick_ = now;
  }

  const LoadgenConfig& config_;
  const Schedule& schedule_;
  const Workers& workers_;
  Progress& progress_;
  std::size_t idle_, active_;
  bool signalled_start_ = false, signalled_end_ = false;
  std::uint64_t last_received_ = 0;
  std::int64_t last_tick_;
};

void run_workers(const LoadgenConfig& config, const Schedule& schedule, const Workers& workers,
                 Progress& progress, const OpenedConnections& opened) {
  std::vector<std::jthread> running;  // joined when this returns
  for (const auto& worker : workers) {
    running.emplace_back([&worker, &schedule] { worker->run(schedule, stop_requested()); });
  }
  WindowWatch(config, schedule, workers, progress, opened).run();
}

}  // namespace

int run_loadgen(const LoadgenConfig& config) {
  const FdLimit limit = raise_fd_limit_to_hard();
  refuse_beyond_limits(config, limit);
  const double cpu_at_start = cpu_seconds(RUSAGE_SELF).total();
  install_stop_handlers();
  ::signal(SIGPIPE, SIG_IGN);
  // The main thread shares the generator's CPUs, never the server's. A CPU that is not there is
  // refused before any connection is opened.
  if (!config.cpus.empty()) {
    if (const auto error = pin_to_cpus(config.cpus)) throw UsageError("--cpu: " + *error);
  }

  Progress progress(!config.quiet && config.warmup + config.duration > std::chrono::seconds(2));
  LoadgenReport report;
  report.config = config_record(config);
  report.criteria = StatusCriteria{
      .min_echoes = config.min_echoes(),
      .late_tolerance_s = std::chrono::duration<double>(config.late_tolerance).count(),
      .min_achieved_share = 0.98,
      .allow_overload = config.allow_overload};
  report.environment = describe_environment();
  OpenedConnections opened = open_all(config, progress);
  report.connections = connections_record(config, limit, opened);
  if (!opened.complete()) {
    progress.done();
    close_all(opened.idle.fds);
    close_all(opened.active.fds);
    return report_unmeasured(config, report, opened.error());
  }

  const Workers workers = make_workers(config, opened.active.fds, progress.enabled());
  const Schedule schedule = make_schedule(config, report.problems);
  IntervalLatency interval_latency;
  interval_latency.window_start_unix_s = unix_seconds_at(schedule.measure_start_ns);
  run_workers(config, schedule, workers, progress, opened);
  progress.done();
  const bool interrupted = stop_requested().load();
  if (config.hlog) interval_latency.seconds = merge_intervals(workers);

  const WorkerTotals totals = merge_workers(config, workers);
  record_results(report, config, totals,
                 {.threads = workers.size(),
                  .idle = idle_state(opened.idle.fds),
                  .process_cpu_s = cpu_seconds(RUSAGE_SELF).total() - cpu_at_start,
                  .interrupted = interrupted});
  close_all(opened.idle.fds);
  const int code = finish_run(config, report, interval_latency);
  if (!config.quiet) {
    // One array: begin() and end() of two temporaries would walk off the first (ASan saw it).
    const auto outputs = config.outputs();
    const bool stdout_taken = std::any_of(
        outputs.begin(), outputs.end(),
        [](const std::optional<OutputPath>* output) { return *output && (*output)->is_stdout(); });
    fmt::print(stdout_taken ? stderr : stdout, "{}", loadgen_summary_text(report));
  }
  return code;
}

}  // namespace muxbench
