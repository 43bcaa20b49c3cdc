#include "loadgen/measurement.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <map>

#include "loadgen/report.hpp"

namespace muxbench {
namespace {

constexpr double kSaturatedShare = 0.9;

void add_counters(WorkerResult& sum, const WorkerResult& r) {
  sum.window_messages += r.window_messages;
  sum.window_sends += r.window_sends;
  sum.mismatches += r.mismatches;
  sum.unexpected_bytes += r.unexpected_bytes;
  sum.lost_connections += r.lost_connections;
  sum.unanswered += r.unanswered;
  sum.max_in_flight = std::max(sum.max_in_flight, r.max_in_flight);
  sum.window_cpu_user_s += r.window_cpu_user_s;
  sum.window_cpu_system_s += r.window_cpu_system_s;
  sum.window_seconds = std::max(sum.window_seconds, r.window_seconds);
  sum.window_loops += r.window_loops;
  sum.window_loops_worked += r.window_loops_worked;
}

GeneratorRecord generator_record(const LoadgenConfig& config, const WorkerTotals& t,
                                 std::size_t threads, bool interrupted) {
  GeneratorRecord g;
  g.threads = static_cast<unsigned>(threads);
  g.cpus = config.cpus;
  g.busy_poll = config.busy_poll;
  g.cpu_user_s = t.sum.window_cpu_user_s;
  g.cpu_system_s = t.sum.window_cpu_system_s;
  g.busiest_cpu_share = t.busiest_cpu_share;
  g.work_share = t.work_share;
  g.max_in_flight_per_connection = t.sum.max_in_flight;
  g.bound =
      config.busy_poll ? t.work_share > kSaturatedShare : t.busiest_cpu_share > kSaturatedShare;
  // Open loop: sends due in the window that went out late or not at all show a generator (or a
  // socket) that could not keep up, whatever its CPU use.
  const double expected_sends =
      config.rate ? *config.rate * std::chrono::duration<double>(config.duration).count() : 0;
  g.fell_behind = config.rate && !interrupted &&
                  static_cast<double>(t.sum.window_sends) < 0.98 * expected_sends;
  g.bound_rule = config.busy_poll ? "more than 90% of busy-poll spins found work"
                                  : "the generator's threads kept one CPU busy more than 90% of "
                                    "the window (threads pinned to one CPU are summed)";
  return g;
}

Measurement measurement(const LoadgenConfig& config, const WorkerTotals& t, std::size_t threads,
                        bool interrupted) {
  const WorkerResult& s = t.sum;
  const double per_second = s.window_seconds > 0 ? 1.0 / s.window_seconds : 0;
  Measurement m;
  m.window = {.seconds = s.window_seconds, .interrupted = interrupted};
  m.throughput.messages = s.window_messages;
  m.throughput.messages_per_s = static_cast<double>(s.window_messages) * per_second;
  m.throughput.mb_per_s = static_cast<double>(s.window_messages * config.size) * per_second / 1e6;
  if (config.rate) m.throughput.sent_per_s = static_cast<double>(s.window_sends) * per_second;
  m.throughput.requested_rate = config.rate;
  m.latency_ns = latency_summary(t.latency);
  if (config.rate) m.send_lateness_ns = latency_summary(t.lateness);
  m.errors = {.mismatches = s.mismatches,
              .unexpected_bytes = s.unexpected_bytes,
              .lost_connections = s.lost_connections,
              .unanswered = s.unanswered,
              .total = s.mismatches + s.unexpected_bytes + s.lost_connections + s.unanswered};
  m.generator = generator_record(config, t, threads, interrupted);
  return m;
}

// The caveats people read, in order; returns whether the run failed.
bool judge(std::vector<std::string>& problems, const Measurement& m, const IdleConnections& idle,
           bool interrupted) {
  const ErrorCounts& e = m.errors;
  if (e.mismatches)
    problems.push_back(fmt::format("{} echoed messages differ from what was sent", e.mismatches));
  if (e.unexpected_bytes)
    problems.push_back(fmt::format("{} bytes came back that were never sent", e.unexpected_bytes));
  if (e.lost_connections)
    problems.push_back(fmt::format("{} active connections were lost", e.lost_connections));
  if (e.unanswered && !interrupted)
    problems.push_back(fmt::format("{} messages got no (complete) echo", e.unanswered));
  const std::uint64_t alive = idle.alive_at_end.value_or(0);
  if (alive < idle.opened)
    problems.push_back(fmt::format("the server dropped {} idle connections", idle.opened - alive));
  if (m.generator.bound)
    problems.push_back(
        "the generator was saturated: numbers describe the generator as much as the server");
  if (interrupted) problems.push_back("interrupted: the window is shorter than requested");
  return e.total > (interrupted ? e.unanswered : 0) || alive < idle.opened;
}

}  // namespace

WorkerTotals merge_workers(const LoadgenConfig& config, const Workers& workers) {
  WorkerTotals t;
  std::map<int, double> busy_seconds;  // CPU (or -1 - thread index when unpinned) -> CPU seconds
  for (std::size_t i = 0; i < workers.size(); ++i) {
    const WorkerResult& r = workers[i]->result();
    t.latency.merge(r.latency);
    t.lateness.merge(r.send_lateness);
    add_counters(t.sum, r);
    const int cpu =
        config.cpus.empty() ? -1 - static_cast<int>(i) : config.cpus[i % config.cpus.size()];
    busy_seconds[cpu] += r.window_cpu_user_s + r.window_cpu_system_s;
    if (r.pin_error) t.problems.push_back("worker pinning: " + *r.pin_error);
    if (r.error) t.problems.push_back(fmt::format("worker {} stopped early: {}", i + 1, *r.error));
    t.worker_failed = t.worker_failed || r.error;
  }
  for (const auto& [cpu, seconds] : busy_seconds) {
    if (t.sum.window_seconds > 0)
      t.busiest_cpu_share = std::max(t.busiest_cpu_share, seconds / t.sum.window_seconds);
  }
  const WorkerResult& s = t.sum;
  t.work_share = s.window_loops ? static_cast<double>(s.window_loops_worked) /
                                      static_cast<double>(s.window_loops)
                                : 0;
  return t;
}

void record_results(LoadgenReport& report, const LoadgenConfig& config, const WorkerTotals& t,
                    const RunEnd& end) {
  const bool interrupted = end.interrupted;
  report.connections.idle.alive_at_end = end.idle_alive;
  report.connections.active.lost = t.sum.lost_connections;
  report.measured = measurement(config, t, end.threads, interrupted);
  report.measured->generator.process_cpu_s = end.process_cpu_s;
  report.histogram = t.latency;
  report.problems.insert(report.problems.end(), t.problems.begin(), t.problems.end());
  const bool failed =
      judge(report.problems, *report.measured, report.connections.idle, interrupted) ||
      t.worker_failed;
  report.status = interrupted ? LoadgenStatus::interrupted
                  : failed    ? LoadgenStatus::errors
                              : LoadgenStatus::ok;
}

}  // namespace muxbench
