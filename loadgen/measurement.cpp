#include "loadgen/measurement.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <map>

#include "common/duration.hpp"
#include "loadgen/hdr_codec.hpp"
#include "loadgen/report.hpp"

namespace muxbench {
namespace {

constexpr double kSaturatedShare = 0.9;
constexpr double kMinAchievedShare = 0.98;

void add_counters(WorkerResult& sum, const WorkerResult& r) {
  sum.window_messages += r.window_messages;
  sum.window_sends += r.window_sends;
  sum.window_due += r.window_due;
  sum.window_due_sent += r.window_due_sent;
  sum.window_late += r.window_late;
  sum.max_backlog = std::max(sum.max_backlog, r.max_backlog);
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
  sum.churn.add(r.churn);
}

GeneratorRecord generator_record(const LoadgenConfig& config, const WorkerTotals& t,
                                 std::size_t threads) {
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
  g.bound_rule = config.busy_poll ? "more than 90% of busy-poll spins found work"
                                  : "the generator's threads kept one CPU busy more than 90% of "
                                    "the window (threads pinned to one CPU are summed)";
  return g;
}

ChurnRecord churn_record(std::uint64_t lifetime, const ChurnCounts& counts, double seconds) {
  const LocalPortSettings ports = local_port_settings();
  return {.lifetime = lifetime,
          .opened = counts.opened,
          .closed = counts.closed,
          .opened_per_s = seconds > 0 ? static_cast<double>(counts.opened) / seconds : 0,
          .connect_latency_ns = latency_summary(counts.connect_latency),
          .connect_failures = counts.connect_failures,
          .port_exhaustion = counts.port_exhaustion,
          .tcp_tw_reuse = ports.tcp_tw_reuse,
          .local_port_range = ports.local_port_range,
          .connect_latency_histogram = counts.connect_latency};
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
              .total = s.mismatches + s.unanswered};
  m.generator = generator_record(config, t, threads);
  if (config.rate) {
    OpenLoopRecord o;
    o.requested_rate = *config.rate;
    o.sent_per_s = *m.throughput.sent_per_s;
    o.achieved_rate = std::min(o.sent_per_s, m.throughput.messages_per_s);
    o.due = s.window_due;
    o.sent = std::min(s.window_due_sent, s.window_due);
    o.unsent = s.window_due - o.sent;
    o.late = s.window_late;
    o.late_share = o.due ? static_cast<double>(o.late) / static_cast<double>(o.due) : 0;
    o.lateness_p99_ns = t.lateness.percentile(99);
    o.max_backlog_per_connection = s.max_backlog;
    // An interrupted window is judged as interrupted, not as a generator that fell behind.
    o.overloaded = !interrupted &&
                   (o.achieved_rate < kMinAchievedShare * o.requested_rate ||
                    o.lateness_p99_ns > static_cast<std::uint64_t>(config.late_tolerance.count()));
    m.generator.fell_behind = o.overloaded;
    m.open_loop = o;
  }
  if (config.lifetime) m.churn = churn_record(*config.lifetime, s.churn, s.window_seconds);
  return m;
}

std::string rate_text(double rate) { return fmt::format("{:.0f} msg/s", rate); }

// The caveats people read, in order, and the status they add up to (interrupted > errors >
// insufficient > overloaded > ok; connect_failed never gets here). Messages unanswered when the
// drain ends are errors, except in an overloaded open loop (the server's backlog).
LoadgenStatus judge(std::vector<std::string>& problems, const LoadgenConfig& config,
                    const Measurement& m, const IdleConnections& idle, bool interrupted,
                    bool worker_failed) {
  const ErrorCounts& e = m.errors;
  bool failed = worker_failed;
  const auto fail = [&](std::string text) {
    problems.push_back(std::move(text));
    failed = true;
  };
  if (e.mismatches) fail(fmt::format("{} echoed messages differ from what was sent", e.mismatches));
  if (e.unexpected_bytes)
    fail(fmt::format("{} bytes came back that were never sent", e.unexpected_bytes));
  if (e.lost_connections) fail(fmt::format("{} active connections were lost", e.lost_connections));
  const auto& o = m.open_loop;
  const bool overloaded = o && o->overloaded;
  // An overloaded open loop leaves the server a backlog the drain may not see answered: that is
  // the overload (said, and counted in errors), not an integrity error.
  if (e.unanswered && !interrupted && overloaded) {
    problems.push_back(
        fmt::format("{} messages got no (complete) echo before the drain ended: the backlog of an "
                    "overloaded server",
                    e.unanswered));
  } else if (e.unanswered && !interrupted) {
    fail(fmt::format("{} messages got no (complete) echo", e.unanswered));
  }
  const std::uint64_t alive = idle.alive_at_end.value_or(0);
  if (alive < idle.opened)
    fail(fmt::format("the server dropped {} idle connections (end-of-file or reset)",
                     idle.opened - alive));
  if (idle.unexpected_data.value_or(0))
    fail(fmt::format("{} idle connections received unexpected data", *idle.unexpected_data));
  if (m.generator.bound)
    problems.push_back(
        "the generator was saturated: numbers describe the generator as much as the server");
  const std::uint64_t echoes = m.throughput.messages;
  const bool insufficient = echoes < config.min_echoes();
  if (insufficient && !interrupted) {
    problems.push_back(fmt::format(
        "insufficient: {} echoes completed in the {:.3g} s window, fewer than the {} needed "
        "(--min-echoes): its latency and throughput mean nothing",
        echoes, m.window.seconds, config.min_echoes()));
  }
  if (overloaded) {
    problems.push_back(fmt::format(
        "overloaded: requested {}, achieved {} (sent {}, echoed {}); {:.1f}% of {} due sends "
        "left more than {} late or never, lateness p99 {:.3f} ms",
        rate_text(o->requested_rate), rate_text(o->achieved_rate), rate_text(o->sent_per_s),
        rate_text(m.throughput.messages_per_s), 100 * o->late_share, o->due,
        format_duration(config.late_tolerance), static_cast<double>(o->lateness_p99_ns) / 1e6));
  }
  if (interrupted) {
    problems.push_back("interrupted: the window is shorter than requested");
    return LoadgenStatus::interrupted;
  }
  if (failed) return LoadgenStatus::errors;
  if (insufficient) return LoadgenStatus::insufficient;
  if (overloaded) return LoadgenStatus::overloaded;
  return LoadgenStatus::ok;
}

std::string failure_categories(const std::map<std::string, std::uint64_t>& failures) {
  std::string text;
  for (const auto& [category, count] : failures)
    text += fmt::format("{}{}: {}", text.empty() ? "" : ", ", category, count);
  return text;
}

std::string setting_text(const std::optional<int>& value) {
  return value ? std::to_string(*value) : "unreadable";
}

// --lifetime: failed replacement connects are problems, and make the status errors; port
// exhaustion is said as such (never a silent slowdown). Returns whether any failed.
bool churn_problems(std::vector<std::string>& problems, const ChurnCounts& counts,
                    const ChurnRecord& record) {
  if (counts.connect_failures == 0) return false;
  if (counts.port_exhaustion) {
    const auto range = record.local_port_range.value_or(std::array{0u, 0u});
    problems.push_back(fmt::format(
        "ephemeral ports exhausted: replacement connects that failed, by cause: {}. Each "
        "closed connection holds its port in TIME_WAIT for 60 s (loadgen closes first), each "
        "source address has the ports of net.ipv4.ip_local_port_range ({}-{}), and "
        "net.ipv4.tcp_tw_reuse is {} (1, or 2 for loopback, lets connect() reuse TIME_WAIT "
        "ports): spread the sources (--source-ips), widen the range, enable tcp_tw_reuse or "
        "lengthen --lifetime",
        failure_categories(counts.failures), range[0], range[1],
        setting_text(record.tcp_tw_reuse)));
  } else {
    problems.push_back(fmt::format(
        "{} connects of replacement connections failed ({}); each slot retried after a pause",
        counts.connect_failures, failure_categories(counts.failures)));
  }
  return true;
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

std::vector<LatencyHistogram> merge_intervals(const Workers& workers) {
  std::vector<LatencyHistogram> seconds;
  for (const auto& worker : workers) {
    const auto& own = worker->interval_latency();
    if (seconds.size() < own.size()) seconds.resize(own.size());
    for (std::size_t k = 0; k < own.size(); ++k) seconds[k].merge(own[k]);
  }
  return seconds;
}

void record_results(LoadgenReport& report, const LoadgenConfig& config, const WorkerTotals& t,
                    const RunEnd& end) {
  const bool interrupted = end.interrupted;
  report.connections.idle.alive_at_end = end.idle.alive;
  report.connections.idle.unexpected_data = end.idle.unexpected_data;
  report.connections.active.lost = t.sum.lost_connections;
  report.measured = measurement(config, t, end.threads, interrupted);
  report.measured->generator.process_cpu_s = end.process_cpu_s;
  report.histogram = t.latency;
  report.hdr_v2 = hdr::encode_v2_base64(t.latency);
  report.problems.insert(report.problems.end(), t.problems.begin(), t.problems.end());
  const auto& churn = report.measured->churn;
  const bool churn_failed = churn && churn_problems(report.problems, t.sum.churn, *churn);
  report.status = judge(report.problems, config, *report.measured, report.connections.idle,
                        interrupted, t.worker_failed || churn_failed);
}

}  // namespace muxbench
