#include "loadgen/run.hpp"

#include <fmt/format.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <thread>

#include "common/atomic_file.hpp"
#include "common/clock.hpp"
#include "common/cpu_affinity.hpp"
#include "common/environment.hpp"
#include "common/fd_limit.hpp"
#include "common/usage_error.hpp"
#include "loadgen/addresses.hpp"
#include "loadgen/connector.hpp"
#include "loadgen/report.hpp"
#include "loadgen/worker.hpp"

namespace muxbench {
namespace {

constexpr std::uint64_t kSpareDescriptors = 32;  // stdio, epoll sets, report files
constexpr double kSaturatedShare = 0.9;

std::atomic<bool> g_stop{false};

extern "C" void on_stop_signal(int) {
  if (g_stop.exchange(true)) ::_exit(kExitInterrupted);  // a second Ctrl-C: leave at once
}

std::uint64_t ephemeral_ports() {
  std::ifstream range("/proc/sys/net/ipv4/ip_local_port_range");
  std::uint64_t low = 32768, high = 60999;
  range >> low >> high;
  return high >= low ? high - low + 1 : 0;
}

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

// A connection the server dropped reads as end-of-file or an error; a live idle one has nothing.
std::uint64_t count_alive(const std::vector<int>& fds) {
  std::uint64_t alive = 0;
  char byte;
  for (const int fd : fds) {
    const ssize_t n = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) ++alive;
  }
  return alive;
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

nlohmann::json config_json(const LoadgenConfig& c) {
  nlohmann::json sources = nlohmann::json::array();
  for (const auto& address : c.source_ips) sources.push_back(to_string(address));
  std::string cpus;
  for (const int cpu : c.cpus) cpus += fmt::format("{}{}", cpus.empty() ? "" : " ", cpu);
  return {
      {"target", to_string(c.target)},
      {"idle", c.idle},
      {"active", c.active},
      {"size", c.size},
      {"mode", c.rate ? "open" : "closed"},
      {"depth", c.rate ? nlohmann::json(nullptr) : nlohmann::json(c.depth)},
      {"rate", c.rate ? nlohmann::json(*c.rate) : nlohmann::json(nullptr)},
      {"duration_s", std::chrono::duration<double>(c.duration).count()},
      {"warmup_s", std::chrono::duration<double>(c.warmup).count()},
      {"drain_timeout_s", std::chrono::duration<double>(c.drain_timeout).count()},
      {"source_ips", sources},
      {"connect_rate", c.connect_rate ? nlohmann::json(*c.connect_rate) : nlohmann::json(nullptr)},
      {"threads", c.threads},
      {"cpus", c.cpus},
      {"cpus_text", cpus},
      {"busy_poll", c.busy_poll},
      {"signal_pid", c.signal_pid ? nlohmann::json(*c.signal_pid) : nlohmann::json(nullptr)},
      {"start_at_unix_ns",
       c.start_at_unix_ns ? nlohmann::json(*c.start_at_unix_ns) : nlohmann::json(nullptr)}};
}

nlohmann::json failures_json(const ConnectOutcome& a, const ConnectOutcome& b) {
  nlohmann::json failures = nlohmann::json::object();
  for (const auto* outcome : {&a, &b}) {
    for (const auto& [category, count] : outcome->failures) {
      failures[category] = failures.value(category, std::size_t{0}) + count;
    }
  }
  return failures;
}

void write_outputs(const LoadgenConfig& config, const nlohmann::json& report,
                   const LatencyHistogram& latency) {
  if (config.json_path == "-") {
    std::fputs((report.dump(2) + "\n").c_str(), stdout);
    std::fflush(stdout);
  } else if (config.json_path) {
    write_file_atomically(*config.json_path, report.dump(2) + "\n");
  }
  if (config.csv_path) {
    write_file_atomically(*config.csv_path, loadgen_csv_header() + loadgen_csv_row(report));
  }
  if (config.hdr_path) write_file_atomically(*config.hdr_path, latency.percentile_distribution());
}

}  // namespace

int run_loadgen(const LoadgenConfig& config) {
  const FdLimit limit = raise_fd_limit_to_hard();
  refuse_beyond_limits(config, limit);
  const double cpu_at_start = cpu_seconds(RUSAGE_SELF).total();

  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGINT, &action, nullptr);
  ::sigaction(SIGTERM, &action, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  // The main thread shares the generator's CPUs, never the server's; the workers check the CPUs.
  if (!config.cpus.empty()) pin_to_cpus(config.cpus);

  const auto total = config.warmup + config.duration;
  Progress progress(!config.quiet && total > std::chrono::seconds(2));
  nlohmann::json report = {{"schema_version", 1},
                           {"kind", "loadgen-report"},
                           {"config", config_json(config)},
                           {"environment", describe_environment()}};
  nlohmann::json problems = nlohmann::json::array();

  ConnectPlan plan;
  plan.target = config.target;
  plan.sources = config.source_ips;
  plan.rate = config.connect_rate;
  std::size_t source_cursor = 0;
  const auto open_with_progress = [&](std::uint64_t count, const char* kind) {
    return open_connections(plan, count, source_cursor, g_stop, [&](std::size_t opened) {
      progress.line(fmt::format("loadgen: opening {} connections {}/{}", kind, opened, count));
    });
  };
  ConnectOutcome idle = open_with_progress(config.idle, "idle");
  ConnectOutcome active;
  if (idle.fatal.empty() && !idle.interrupted) active = open_with_progress(config.active, "active");
  report["connections"] = {
      {"idle",
       {{"requested", config.idle},
        {"opened", idle.fds.size()},
        {"open_seconds", idle.seconds},
        {"alive_at_end", nullptr}}},
      {"active",
       {{"requested", config.active},
        {"opened", active.fds.size()},
        {"open_seconds", active.seconds},
        {"lost", nullptr}}},
      {"retries", idle.retries + active.retries},
      {"failures", failures_json(idle, active)},
      {"fd_limit", {{"soft", limit.soft}, {"hard", limit.hard}}},
  };
  const std::string connect_error = !idle.fatal.empty() ? idle.fatal : active.fatal;
  if (!connect_error.empty() || idle.interrupted || active.interrupted) {
    progress.done();
    close_all(idle.fds);
    close_all(active.fds);
    const bool interrupted = connect_error.empty();
    report["status"] = interrupted ? "interrupted" : "connect_failed";
    if (!interrupted) problems.push_back(connect_error);
    report["problems"] = problems;
    write_outputs(config, report, LatencyHistogram{});
    if (!interrupted) fmt::print(stderr, "loadgen: {}\n", connect_error);
    return interrupted ? kExitInterrupted : 1;
  }

  // Active connections go round-robin to the workers; global ids stay ascending per worker.
  const auto threads =
      static_cast<unsigned>(std::min<std::uint64_t>(config.threads, active.fds.size()));
  std::vector<std::unique_ptr<Worker>> workers;
  for (unsigned t = 0; t < threads; ++t) {
    WorkerPlan worker_plan;
    for (std::size_t i = t; i < active.fds.size(); i += threads) {
      worker_plan.fds.push_back(active.fds[i]);
      worker_plan.ids.push_back(static_cast<std::uint32_t>(i));
    }
    worker_plan.total_active = static_cast<std::uint32_t>(active.fds.size());
    worker_plan.message_size = config.size;
    worker_plan.depth = config.depth;
    worker_plan.rate = config.rate;
    worker_plan.busy_poll = config.busy_poll;
    worker_plan.report_progress = progress.enabled();
    if (!config.cpus.empty()) worker_plan.cpu = config.cpus[t % config.cpus.size()];
    workers.push_back(std::make_unique<Worker>(std::move(worker_plan)));
  }
  // The clock starts once every worker exists (registering many connections takes time) and
  // leaves the threads a moment to reach their loops; or at the agreed --start-at time.
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
  const Schedule schedule{start, start + config.warmup.count(),
                          start + config.warmup.count() + config.duration.count(),
                          start + total.count() + config.drain_timeout.count()};
  std::vector<std::thread> running;
  for (auto& worker : workers) {
    worker->set_schedule(schedule);
    running.emplace_back([&worker] { worker->run(g_stop); });
  }

  // The main thread signals the window's edges to the server (sleeping until each edge exactly)
  // and draws the progress line.
  bool signalled_start = false, signalled_end = false;
  std::uint64_t last_received = 0;
  std::int64_t last_tick = start;
  const auto received = [&] {
    std::uint64_t sum = 0;
    for (const auto& worker : workers)
      sum += worker->progress_received.load(std::memory_order_relaxed);
    return sum;
  };
  for (;;) {
    const std::int64_t now = monotonic_ns();
    if (config.signal_pid && !signalled_start && now >= schedule.measure_start_ns) {
      ::kill(*config.signal_pid, SIGUSR1);
      signalled_start = true;
    }
    const bool window_over = now >= schedule.measure_end_ns || g_stop.load();
    if (config.signal_pid && signalled_start && !signalled_end && window_over) {
      ::kill(*config.signal_pid, SIGUSR1);
      signalled_end = true;
    }
    if (window_over) break;
    if (progress.enabled() && now - last_tick >= 1'000'000'000) {
      const std::uint64_t total_received = received();
      std::uint64_t p99 = 0;
      for (const auto& worker : workers) p99 = std::max(p99, worker->progress_p99_ns.load());
      const double elapsed = static_cast<double>(now - start) / 1e9;
      progress.line(fmt::format(
          "loadgen: [{:5.1f}s / {:.1f}s] {} | {} idle + {} active | {:.0f} msg/s | p99 {:.1f}us",
          elapsed, std::chrono::duration<double>(total).count(),
          now < schedule.measure_start_ns ? "warming up" : "measuring", idle.fds.size(),
          active.fds.size(),
          static_cast<double>(total_received - last_received) /
              (static_cast<double>(now - last_tick) / 1e9),
          static_cast<double>(p99) / 1e3));
      last_received = total_received;
      last_tick = now;
    }
    // Wake at the next window edge or progress tick, and at least every 100 ms for Ctrl-C. Never
    // in the past: a main thread that spins steals the worker's CPU.
    std::int64_t wake = std::min(now + 100'000'000, signalled_start || !config.signal_pid
                                                        ? schedule.measure_end_ns
                                                        : schedule.measure_start_ns);
    if (progress.enabled()) wake = std::min(wake, last_tick + 1'000'000'000);
    sleep_until_ns(std::max(wake, now + 1'000'000));  // EINTR: loop again
  }
  for (auto& thread : running) thread.join();
  progress.done();
  const bool interrupted = g_stop.load();

  // Merge the workers: histograms exactly, counters by sum. Saturation is judged per CPU: worker
  // threads pinned to one CPU share it, so their CPU time is summed (unpinned: per thread).
  LatencyHistogram latency, lateness;
  WorkerResult sum;
  double window_seconds = 0;
  std::map<int, double> busy_seconds;  // CPU (or -1 - thread index when unpinned) -> CPU seconds
  std::uint64_t loops = 0, loops_worked = 0;
  for (std::size_t t = 0; t < workers.size(); ++t) {
    WorkerResult& r = workers[t]->result();
    latency.merge(r.latency);
    lateness.merge(r.send_lateness);
    sum.window_messages += r.window_messages;
    sum.window_sends += r.window_sends;
    sum.mismatches += r.mismatches;
    sum.unexpected_bytes += r.unexpected_bytes;
    sum.lost_connections += r.lost_connections;
    sum.unanswered += r.unanswered;
    sum.max_in_flight = std::max(sum.max_in_flight, r.max_in_flight);
    sum.window_cpu_user_s += r.window_cpu_user_s;
    sum.window_cpu_system_s += r.window_cpu_system_s;
    window_seconds = std::max(window_seconds, r.window_seconds);
    const int cpu =
        config.cpus.empty() ? -1 - static_cast<int>(t) : config.cpus[t % config.cpus.size()];
    busy_seconds[cpu] += r.window_cpu_user_s + r.window_cpu_system_s;
    loops += r.window_loops;
    loops_worked += r.window_loops_worked;
    if (!r.pin_error.empty()) problems.push_back("worker pinning: " + r.pin_error);
  }
  double max_cpu_share = 0;
  for (const auto& [cpu, seconds] : busy_seconds) {
    if (window_seconds > 0) max_cpu_share = std::max(max_cpu_share, seconds / window_seconds);
  }
  const double work_share =
      loops ? static_cast<double>(loops_worked) / static_cast<double>(loops) : 0;
  const bool bound =
      config.busy_poll ? work_share > kSaturatedShare : max_cpu_share > kSaturatedShare;
  // Open loop: sends due in the window that went out late or not at all show a generator (or a
  // socket) that could not keep up, whatever its CPU use.
  const double expected_sends =
      config.rate ? *config.rate * std::chrono::duration<double>(config.duration).count() : 0;
  const bool fell_behind = config.rate && !g_stop.load() &&
                           static_cast<double>(sum.window_sends) < 0.98 * expected_sends;
  const std::uint64_t errors =
      sum.mismatches + sum.unexpected_bytes + sum.lost_connections + sum.unanswered;
  const std::uint64_t idle_alive = count_alive(idle.fds);

  report["connections"]["idle"]["alive_at_end"] = idle_alive;
  report["connections"]["active"]["lost"] = sum.lost_connections;
  report["window"] = {{"seconds", window_seconds}, {"interrupted", interrupted}};
  const double per_second = window_seconds > 0 ? 1.0 / window_seconds : 0;
  report["throughput"] = {
      {"messages", sum.window_messages},
      {"messages_per_s", static_cast<double>(sum.window_messages) * per_second},
      {"mb_per_s", static_cast<double>(sum.window_messages * config.size) * per_second / 1e6},
      {"sent_per_s", config.rate
                         ? nlohmann::json(static_cast<double>(sum.window_sends) * per_second)
                         : nlohmann::json(nullptr)},
      {"requested_rate", config.rate ? nlohmann::json(*config.rate) : nlohmann::json(nullptr)}};
  report["latency_ns"] = latency_summary(latency);
  report["send_lateness_ns"] = config.rate ? latency_summary(lateness) : nlohmann::json(nullptr);
  report["errors"] = {{"mismatches", sum.mismatches},
                      {"unexpected_bytes", sum.unexpected_bytes},
                      {"lost_connections", sum.lost_connections},
                      {"unanswered", sum.unanswered},
                      {"total", errors}};
  report["generator"] = {
      {"threads", threads},
      {"cpus", config.cpus},
      {"busy_poll", config.busy_poll},
      {"cpu_user_s", sum.window_cpu_user_s},
      {"cpu_system_s", sum.window_cpu_system_s},
      {"busiest_cpu_share", max_cpu_share},
      {"work_share", work_share},
      {"max_in_flight_per_connection", sum.max_in_flight},
      {"bound", bound},
      {"fell_behind", fell_behind},
      {"process_cpu_s", cpu_seconds(RUSAGE_SELF).total() - cpu_at_start},  // all threads, whole run
      {"bound_rule", config.busy_poll
                         ? "more than 90% of busy-poll spins found work"
                         : "the generator's threads kept one CPU busy more than 90% of the window "
                           "(threads pinned to one CPU are summed)"}};
  report["histogram"] = latency.encode();

  if (sum.mismatches)
    problems.push_back(fmt::format("{} echoed messages differ from what was sent", sum.mismatches));
  if (sum.unexpected_bytes)
    problems.push_back(
        fmt::format("{} bytes came back that were never sent", sum.unexpected_bytes));
  if (sum.lost_connections)
    problems.push_back(fmt::format("{} active connections were lost", sum.lost_connections));
  if (sum.unanswered && !interrupted)
    problems.push_back(fmt::format("{} messages got no (complete) echo", sum.unanswered));
  if (idle_alive < idle.fds.size())
    problems.push_back(
        fmt::format("the server dropped {} idle connections", idle.fds.size() - idle_alive));
  if (bound)
    problems.push_back(
        "the generator was saturated: numbers describe the generator as much as the server");
  if (interrupted) problems.push_back("interrupted: the window is shorter than requested");
  const bool failed = errors > (interrupted ? sum.unanswered : 0) || idle_alive < idle.fds.size();
  report["status"] = interrupted ? "interrupted" : failed ? "errors" : "ok";
  report["problems"] = problems;

  close_all(idle.fds);
  write_outputs(config, report, latency);
  if (!config.quiet)
    fmt::print(config.json_path == "-" ? stderr : stdout, "{}", loadgen_summary_text(report));
  return interrupted ? kExitInterrupted : failed ? 1 : 0;
}

}  // namespace muxbench
