#include "bench/sweep/analysis.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <set>

#include "bench/sweep/map_model.hpp"
#include "bench/sweep/map_summary.hpp"
#include "bench/sweep/python_summary.hpp"
#include "bench/sweep/sweep_config.hpp"
#include "common/backend_table.hpp"
#include "common/csv.hpp"
#include "model/sweep_json_helpers.hpp"

namespace muxbench {
namespace {

using Json = nlohmann::json;

// The closed-loop series the CPU-per-message comparisons use, and the backend they compare with.
const std::string kClosedSeries = "closed-split";
const std::string kBaseline(backend_name("epoll-lt"));

// A metric of one point, when measured.
std::optional<double> metric_value(const PointRecord& point, Metric metric) {
  if (!point.measured) return std::nullopt;
  const PointMeasurement& m = *point.measured;
  const auto server = [&](auto field) -> std::optional<double> {
    if (!m.server) return std::nullopt;
    return (*m.server).*field;
  };
  const auto ns = [](std::uint64_t value) { return static_cast<double>(value); };
  switch (metric) {
    case Metric::throughput_msgs_per_s:
      return m.throughput_msgs_per_s;
    case Metric::throughput_mb_per_s:
      return m.throughput_mb_per_s;
    case Metric::latency_p50_ns:
      return ns(m.latency_ns.p50);
    case Metric::latency_p99_ns:
      return ns(m.latency_ns.p99);
    case Metric::latency_p99_9_ns:
      return ns(m.latency_ns.p99_9);
    case Metric::server_cpu_us_per_msg:
      return server(&ServerWindow::cpu_us_per_msg);
    case Metric::server_cpu_share:
      return server(&ServerWindow::cpu_share);
    case Metric::server_cpu_ns_per_wait:
      return server(&ServerWindow::cpu_ns_per_wait);
    case Metric::events_per_wait:
      return server(&ServerWindow::events_per_wait);
    case Metric::fds_per_wait:
      return server(&ServerWindow::fds_per_wait);
    case Metric::generator_cpu_share:
      return m.generator.busiest_cpu_share;
    case Metric::offered_rate_msgs_per_s:
      return point.rate;
    case Metric::connections_per_s:
      if (!m.connections) return std::nullopt;
      return m.connections->opened_per_s;
    case Metric::server_cpu_us_per_conn:
      return server(&ServerWindow::cpu_us_per_conn);
    case Metric::connect_latency_p99_ns:
      if (!m.connections || m.connections->connect_latency_ns.count == 0) return std::nullopt;
      return ns(m.connections->connect_latency_ns.p99);
    case Metric::interest_changes_per_msg:
      return server(&ServerWindow::interest_changes_per_msg);
  }
  return std::nullopt;
}

// Median, min and max of each metric over the given runs.
MetricTable metric_table(const std::vector<const PointRecord*>& runs) {
  MetricTable table;
  for (std::size_t i = 0; i < kMetricCount; ++i) {
    const auto metric = static_cast<Metric>(i);
    std::vector<double> found;
    for (const PointRecord* run : runs) {
      if (const auto v = metric_value(*run, metric)) found.push_back(*v);
    }
    if (found.empty()) continue;
    table[metric] = MetricStats{median(found), *std::min_element(found.begin(), found.end()),
                                *std::max_element(found.begin(), found.end())};
  }
  return table;
}

Aggregate aggregate_runs(const std::vector<const PointRecord*>& runs) {
  const PointRecord& first = *runs.front();
  Aggregate a;
  a.series = first.series;
  a.backend = first.backend;
  a.idle = first.idle;
  a.active = first.active;
  a.size = first.size;
  a.lifetime = first.lifetime;
  a.rate = first.rate_fraction ? std::nullopt : first.rate;
  a.rate_fraction = first.rate_fraction;
  a.total_fds = first.total_fds;
  a.runs = runs.size();
  std::set<std::string> statuses;
  std::vector<const PointRecord*> ok;
  for (const PointRecord* run : runs) {
    statuses.insert(enum_name(run->status));
    if (run->status == PointStatus::ok) ok.push_back(run);
    if (run->measured) {
      a.generator_bound |= run->measured->generator.bound;
      a.fell_behind |= run->measured->generator.fell_behind;
    }
    if (run->status != PointStatus::ok && run->reason) a.reason = run->reason;
  }
  a.status = statuses.size() == 1 ? *statuses.begin() : "mixed";
  a.ok_runs = ok.size();
  a.metrics = metric_table(ok);
  std::vector<const PointRecord*> overloaded;
  for (const PointRecord* run : runs) {
    if (run->status == PointStatus::overloaded) overloaded.push_back(run);
  }
  if (!overloaded.empty()) a.overloaded_metrics = metric_table(overloaded);
  return a;
}

// A duration in seconds as sweep.json spells it ("3.0", "0.5").
std::string seconds_text(std::chrono::nanoseconds duration) {
  std::string text = fmt::format("{}", std::chrono::duration<double>(duration).count());
  if (text.find_first_of(".en") == std::string::npos) text += ".0";
  return text;
}

std::string percent(double ratio) { return fmt::format("{:+.0f}%", (ratio - 1) * 100); }

// wait-bench: ns per call against registered fds for one backend, fitted as a line.
LinearFit micro_fit(const std::vector<MicroWaitCost>& micro, const std::string& backend) {
  std::vector<double> x, y;
  for (const auto& cost : micro) {
    if (cost.backend != backend) continue;
    x.push_back(cost.fds);
    y.push_back(cost.ns_per_call);
  }
  return fit_line(x, y);
}

// What a section of summary.md says, and its part of summary.json.
template <class Numbers>
struct Section {
  std::string markdown;
  Numbers numbers;
};

struct SummaryContext {
  const SweepDocument& sweep;
  const AggregateIndex& agg;
  const std::vector<MicroWaitCost>& micro;
};

Section<PointCounts> header_section(const SweepDocument& sweep) {
  std::map<PointStatus, int> statuses;
  for (const auto& p : sweep.points) ++statuses[p.status];
  const SweepConfig& config = sweep.config;
  const Environment& env = sweep.environment;
  std::string md = "# muxbench sweep summary\n\n";
  md += fmt::format(
      "Run `{}` ({} mode), started {} on {}: {}, {} online CPUs, {}, fd limit {}. Build: {} {}, "
      "git {}{}. Command: `{}`.\n\n",
      sweep.run_id, config.mode, sweep.started_utc, env.host, env.cpu_model, env.online_cpus,
      env.kernel, env.fd_limit.soft, env.build.type, env.build.compiler, env.build.git_sha,
      env.build.git_dirty ? " (uncommitted changes)" : "", sweep.command);
  const int interrupted = statuses[PointStatus::interrupted];
  const int overloaded = statuses[PointStatus::overloaded];
  md += fmt::format(
      "{} points measured, {} unsupported, {} failed{}{}. Each point: {} idle + {} active "
      "connections, {}-byte messages, {} s warm-up then a {} s window, {} repeat(s) (medians; "
      "spread min–max in sweep.json). Server pinned to CPU {}, generator to CPU {} (\"split\") or "
      "to the server's CPU (\"shared\").\n\n",
      statuses[PointStatus::ok], statuses[PointStatus::unsupported], statuses[PointStatus::failed],
      overloaded ? fmt::format(", {} overloaded (not counted as measured)", overloaded) : "",
      interrupted ? fmt::format(", {} interrupted", interrupted) : "", "N", config.active,
      config.size, seconds_text(config.warmup), seconds_text(config.duration), config.repeats,
      config.server_cpu, config.generator_cpu);
  md += "Series:\n";
  for (const auto& s : config.series) {
    md += fmt::format(
        "- `{}`: {} loop{}, {} placement, generator {}.\n", s.name, enum_name(s.load),
        s.load == LoadMode::open
            ? fmt::format(" at {:g} msg/s", config.rate)
            : fmt::format(" with {} message(s) in flight per connection", config.depth),
        enum_name(s.placement), s.busy_poll ? "busy-polling" : "sleeping in epoll_wait");
  }
  return {md,
          {statuses[PointStatus::ok], statuses[PointStatus::unsupported],
           statuses[PointStatus::failed], overloaded}};
}

// The backends whose wait call the per-fd table measures: the scanning ones and the readiness
// lists, in the backend table's order (not the libraries, not io_uring's completions).
std::vector<std::string> raw_wait_backends() {
  std::vector<std::string> raw;
  for (const auto& info : kBackendTable) {
    if (info.family == BackendFamily::scan || info.family == BackendFamily::readiness_list)
      raw.emplace_back(info.name);
  }
  return raw;
}

// Open loop at a fixed rate leaves the server slack, so each wake-up handles about one event and
// CPU per wait call isolates the wait; a saturated closed loop batches more events per call as
// the server slows, which would be counted as descriptor cost.
std::string per_fd_series(const SweepConfig& config) {
  for (const auto& s : config.series) {
    if (s.load == LoadMode::open) return s.name;
  }
  return kClosedSeries;
}

// One backend's row of the per-fd table, if it has anything to show.
std::optional<Section<PerFdCost>> per_fd_row(const SummaryContext& c, const std::string& series,
                                             const std::string& backend) {
  const AggregateIndex& agg = c.agg;
  std::vector<double> fds, cpu, events;
  const auto idles = agg.idles(series, backend, Metric::server_cpu_ns_per_wait);
  for (const auto idle : idles) {
    fds.push_back(static_cast<double>(idle + c.sweep.config.active));
    cpu.push_back(*agg.median(series, backend, idle, Metric::server_cpu_ns_per_wait));
    events.push_back(agg.median(series, backend, idle, Metric::events_per_wait).value_or(0));
  }
  const LinearFit line = fit_line(fds, cpu);
  const bool has_base = !idles.empty() && idles.front() == 0;
  const double base = has_base ? cpu.front() : 0.0;
  const LinearFit micro_line = micro_fit(c.micro, backend);
  if (idles.empty() && !micro_line.valid) return std::nullopt;
  const auto [low_events, high_events] = std::minmax_element(events.begin(), events.end());
  const auto per_fd_value = [&](std::uint64_t idle) -> std::optional<double> {
    const auto at_idle = agg.median(series, backend, idle, Metric::server_cpu_ns_per_wait);
    if (!has_base || !at_idle || idle == 0) return std::nullopt;
    return (*at_idle - base) / static_cast<double>(idle);
  };
  const auto per_idle_fd = [&](std::uint64_t idle) -> std::string {
    const auto value = per_fd_value(idle);
    return value ? fmt::format("{:.0f} (at {})", *value, idle) : "-";
  };
  const auto when = [](bool valid, double value) {
    return valid ? std::optional(value) : std::nullopt;
  };
  PerFdCost numbers{series,
                    per_fd_value(1000),
                    idles.empty() ? std::nullopt : std::optional(idles.back()),
                    idles.empty() ? std::nullopt : per_fd_value(idles.back()),
                    when(line.valid, line.slope),
                    when(line.valid, line.r2),
                    when(micro_line.valid, micro_line.slope),
                    when(micro_line.valid, micro_line.r2)};
  const auto fixed = [](bool valid, const char* format, double value) {
    return valid ? fmt::format(fmt::runtime(format), value) : "-";
  };
  std::string md =
      fmt::format("| {} | {} | {} | {} | {} | {} | {} | {} |\n", backend, per_idle_fd(1000),
                  idles.empty() ? "-" : per_idle_fd(idles.back()),
                  fixed(line.valid, "{:.1f}", line.slope), fixed(line.valid, "{:.3f}", line.r2),
                  events.empty() ? "-" : fmt::format("{:.1f}–{:.1f}", *low_events, *high_events),
                  fixed(micro_line.valid, "{:.1f}", micro_line.slope),
                  fixed(micro_line.valid, "{:.3f}", micro_line.r2));
  return Section<PerFdCost>{md, numbers};
}

Section<std::map<std::string, PerFdCost>> per_fd_section(const SummaryContext& c) {
  const std::string series = per_fd_series(c.sweep.config);
  std::string md = "\n## What one more registered descriptor costs\n\n";
  md += fmt::format(
      "Macro (series `{}`): the server's CPU time per wait call, from its stats snapshots around "
      "each window, against the descriptors it watches (idle + active). \"Per idle fd\" is the "
      "extra "
      "CPU per wait call over the 0-idle point divided by the idle count: the cost of one more "
      "idle "
      "connection on every wake-up. The line fit's R² shows how straight the growth is (cache "
      "misses "
      "make large sets cost more per fd). Micro: wait-bench, one call with the last registered "
      "socketpair descriptor ready, fitted as a line.\n\n",
      series);
  md +=
      "| backend | per idle fd at 1000 idle (ns) | per idle fd at the largest idle (ns) | line "
      "fit: ns per fd | R² | events per wait | micro: ns per fd | R² |\n";
  md += "|---|---:|---:|---:|---:|---:|---:|---:|\n";
  std::map<std::string, PerFdCost> numbers;
  for (const auto& backend : raw_wait_backends()) {
    if (auto row = per_fd_row(c, series, backend)) {
      md += row->markdown;
      numbers[backend] = std::move(row->numbers);
    }
  }
  md +=
      "\nFor epoll the per-fd numbers are noise around zero: its wait does not look at idle "
      "descriptors at all. Where events per wait rise well above 1 the server was saturated and "
      "batching, which hides part of the per-fd cost in fewer, longer calls.\n";
  return {md, numbers};
}

// Where the baseline overtakes one scanning backend (CPU per message, closed loop).
std::optional<Section<Overtake>> overtake(const AggregateIndex& agg, const std::string& other) {
  const std::string& closed = kClosedSeries;
  const auto cpu = [&](std::uint64_t idle, const std::string& backend) {
    return agg.median(closed, backend, idle, Metric::server_cpu_us_per_msg);
  };
  const auto idles = agg.idles(closed, other, Metric::server_cpu_us_per_msg);
  bool overtaken = false;  // from `from` on, every measured point is more than 10% worse
  std::uint64_t from = 0, last_within = 0;
  std::size_t compared = 0;
  for (const auto idle : idles) {
    const auto theirs = cpu(idle, other);
    const auto epoll = cpu(idle, kBaseline);
    if (!theirs || !epoll) continue;
    ++compared;
    if (*theirs > *epoll * 1.10) {
      if (!overtaken) from = idle;
      overtaken = true;
    } else {
      overtaken = false;
      last_within = idle;
    }
  }
  if (compared == 0) return std::nullopt;
  const std::uint64_t largest = idles.back();
  Overtake numbers{overtaken ? std::optional(from) : std::nullopt, last_within, largest,
                   std::nullopt, std::nullopt};
  std::string md;
  if (overtaken) {
    const std::string since =
        from == idles.front() ? fmt::format("at every measured idle count, {} included", from)
                              : fmt::format("from {} idle connections on (at {} it was within 10%)",
                                            from, last_within);
    const double theirs = *cpu(largest, other), epoll = *cpu(largest, kBaseline);
    numbers.cpu_us_per_msg = ChangeAtIdle{theirs, epoll, (theirs / epoll - 1) * 100};
    md += fmt::format(
        "- {} spends more than 10% more server CPU per message than {} {}; at {} idle it "
        "spends {} ({:.2f} vs {:.2f} µs per message).\n",
        other, kBaseline, since, largest, percent(theirs / epoll), theirs, epoll);
  } else {
    md += fmt::format(
        "- {} stays within 10% of {}'s CPU per message at every measured idle "
        "count up to {}: no crossover in this run.\n",
        other, kBaseline, largest);
  }
  const auto t_other = agg.median(closed, other, largest, Metric::throughput_msgs_per_s);
  const auto t_epoll = agg.median(closed, kBaseline, largest, Metric::throughput_msgs_per_s);
  if (t_other && t_epoll) {
    numbers.throughput_msgs_per_s =
        ChangeAtIdle{*t_other, *t_epoll, (*t_other / *t_epoll - 1) * 100};
    md += fmt::format("  Throughput at {} idle: {} {:.0f} msg/s, {} {:.0f} msg/s ({}).\n", largest,
                      other, *t_other, kBaseline, *t_epoll, percent(*t_other / *t_epoll));
  }
  return Section<Overtake>{md, numbers};
}

Section<std::map<std::string, Overtake>> overtakes_section(const SummaryContext& c) {
  std::string md = "\n## Where epoll overtakes select and poll\n\n";
  std::map<std::string, Overtake> numbers;
  // The scanning backends, poll first as summary.md has always listed them.
  std::vector<std::string> scanning;
  for (const auto& info : kBackendTable) {
    if (info.family == BackendFamily::scan)
      scanning.insert(scanning.begin(), std::string(info.name));
  }
  for (const auto& other : scanning) {
    if (auto found = overtake(c.agg, other)) {
      md += found->markdown;
      numbers[other] = std::move(found->numbers);
    }
  }
  return {md, numbers};
}

struct LibraryNumbers {
  std::optional<RatioOverIdles> asio_over_epoll_lt;
  std::map<std::string, RatioOverIdles> over_epoll_lt;
  std::optional<RatioOverIdles> et_over_lt;
  std::map<std::string, double> events_per_wait;
};

struct Ratios {
  double median, low, high;
  std::size_t count;
};

// CPU per message of `backend` over the baseline's at each closed-loop idle count both measured.
std::optional<Ratios> ratio_over_idles(const AggregateIndex& agg, const std::string& backend) {
  std::vector<double> ratios;
  for (const auto idle : agg.idles(kClosedSeries, backend, Metric::server_cpu_us_per_msg)) {
    const auto x = agg.median(kClosedSeries, backend, idle, Metric::server_cpu_us_per_msg);
    const auto y = agg.median(kClosedSeries, kBaseline, idle, Metric::server_cpu_us_per_msg);
    if (x && y && *y > 0) ratios.push_back(*x / *y);
  }
  if (ratios.empty()) return std::nullopt;
  return Ratios{median(ratios), *std::min_element(ratios.begin(), ratios.end()),
                *std::max_element(ratios.begin(), ratios.end()), ratios.size()};
}

Section<LibraryNumbers> libraries_section(const SummaryContext& c) {
  std::string md =
      "\n## Libraries (Asio, libuv) and io_uring over raw epoll, edge- over level-triggered\n\n";
  LibraryNumbers numbers;
  struct Comparison {
    std::string_view backend;
    const char* label;
    const char* base_label;
    std::optional<RatioOverIdles>* slot;  // where summary.json keeps it (else over_epoll_lt)
  };
  for (const Comparison& comparison :
       {Comparison{backend_name("asio"), "Asio", "raw epoll-lt", &numbers.asio_over_epoll_lt},
        Comparison{backend_name("uring-poll"), "uring-poll", "raw epoll-lt", nullptr},
        Comparison{backend_name("uring"), "uring", "raw epoll-lt", nullptr},
        // A foreign server muxbench ships (servers/libuv): the loop under Node.js.
        Comparison{"libuv", "libuv", "raw epoll-lt", nullptr},
        Comparison{backend_name("epoll-et"), "epoll-et", "epoll-lt", &numbers.et_over_lt}}) {
    const std::string backend(comparison.backend);
    const auto r = ratio_over_idles(c.agg, backend);
    if (!r) continue;
    const RatioOverIdles percents{(r->median - 1) * 100, (r->low - 1) * 100, (r->high - 1) * 100,
                                  r->count};
    if (comparison.slot) {
      *comparison.slot = percents;
    } else {
      numbers.over_epoll_lt[backend] = percents;
    }
    md += fmt::format(
        "- {} spends {} server CPU per message relative to {} (median over {} idle counts; range "
        "{} to {}).\n",
        comparison.label, percent(r->median), comparison.base_label, r->count, percent(r->low),
        percent(r->high));
  }
  for (const std::string& backend : {kBaseline, std::string(backend_name("epoll-et"))}) {
    const auto idles = c.agg.idles(kClosedSeries, backend, Metric::events_per_wait);
    if (idles.empty()) continue;
    std::vector<double> events;
    for (const auto idle : idles)
      events.push_back(*c.agg.median(kClosedSeries, backend, idle, Metric::events_per_wait));
    numbers.events_per_wait[backend] = median(events);
    md += fmt::format("- {} returned {:.2f} events per wait call (median over idle counts).\n",
                      backend, median(events));
  }
  return {md, numbers};
}

Section<LatencyTable> latency_section(const SummaryContext& c) {
  const SweepConfig& config = c.sweep.config;
  std::string md;
  LatencyTable numbers;
  for (const auto& s : config.series) {
    if (s.load != LoadMode::open) continue;
    md += fmt::format("\n## Latency at {:g} msg/s (`{}`: {} placement, generator {})\n\n",
                      config.rate, s.name, enum_name(s.placement),
                      s.busy_poll ? "busy-polling" : "sleeping");
    md +=
        "| backend | idle | p50 µs | p99 µs | p99.9 µs | flags |\n|---|---:|---:|---:|---:|---|\n";
    for (const auto& backend : config.backends) {
      const auto idles = c.agg.idles(s.name, backend, Metric::latency_p50_ns);
      if (idles.empty()) continue;
      for (const auto idle : std::set<std::uint64_t>{idles.front(), idles.back()}) {
        std::string flags;
        if (const Aggregate* a = c.agg.find(s.name, backend, idle)) {
          if (a->generator_bound) flags += "generator-bound ";
          if (a->fell_behind) flags += "fell behind ";
        }
        const auto us = [&](Metric metric) {
          return c.agg.median(s.name, backend, idle, metric).value_or(0) / 1e3;
        };
        const LatencyMicroseconds latency{us(Metric::latency_p50_ns), us(Metric::latency_p99_ns),
                                          us(Metric::latency_p99_9_ns)};
        numbers[s.name][backend][std::to_string(idle)] = latency;
        md += fmt::format("| {} | {} | {:.1f} | {:.1f} | {:.1f} | {} |\n", backend, idle,
                          latency.p50, latency.p99, latency.p99_9, flags);
      }
    }
  }
  return {md, numbers};
}

struct CaveatNumbers {
  std::size_t generator_bound_points = 0;
  std::size_t aggregate_points = 0;
};

// Generator-bound, failed, overloaded and unsupported points: every point whose numbers no table
// shows is named here.
Section<CaveatNumbers> caveats_section(const SweepDocument& sweep) {
  std::string md = "\n## Caveats\n\n";
  CaveatNumbers numbers;
  for (const auto& a : sweep.aggregates) numbers.generator_bound_points += a.generator_bound;
  numbers.aggregate_points = sweep.aggregates.size();
  md += fmt::format(
      "- {} of {} (series, backend, idle) points were generator-bound: the generator's "
      "CPU was busy more than 90% of the window, so throughput there describes the "
      "generator as much as the server; CPU per message is still the server's own.\n",
      numbers.generator_bound_points, numbers.aggregate_points);
  for (const auto& p : sweep.points) {
    if (p.status == PointStatus::failed || p.status == PointStatus::interrupted ||
        p.status == PointStatus::overloaded) {
      md += fmt::format("- {} {}: {}{}\n", enum_name(p.status), p.id, p.reason.value_or(""),
                        p.status == PointStatus::overloaded
                            ? " (its numbers stay in sweep.json, flagged; no table or chart uses "
                              "them)"
                            : "");
    }
  }
  // Not only select: a backend the machine cannot run (no io_uring) is unsupported too.
  std::map<std::string, std::pair<std::size_t, std::string>> unsupported;  // count, first reason
  for (const auto& p : sweep.points) {
    if (p.status != PointStatus::unsupported) continue;
    auto& [count, reason] = unsupported[p.backend];
    if (count++ == 0) reason = p.reason.value_or("");
  }
  for (const auto& [backend, entry] : unsupported) {
    md += fmt::format("- {} {} points were not run, unsupported here (the first: {}).\n",
                      entry.first, backend, entry.second);
  }
  return {md, numbers};
}

std::string micro_table_section(const std::string& micro_table) {
  return micro_table.empty() ? "" : "\n## Micro-benchmark table\n\n" + micro_table;
}

}  // namespace

std::string without_non_numbers(std::string text) {
  for (const char* token : {"-NaN", "NaN", "-Infinity", "Infinity", "-nan", "nan", "-inf", "inf"}) {
    const std::string value = std::string(": ") + token;
    for (auto at = text.find(value); at != std::string::npos; at = text.find(value, at + 1)) {
      const std::size_t end = at + value.size();
      if (end < text.size() && std::isalnum(static_cast<unsigned char>(text[end]))) continue;
      text.replace(at, value.size(), ": null");
    }
  }
  return text;
}

LinearFit fit_line(const std::vector<double>& x, const std::vector<double>& y) {
  const std::size_t n = std::min(x.size(), y.size());
  if (n < 2) return {};
  double sx = 0, sy = 0;
  for (std::size_t i = 0; i < n; ++i) sx += x[i], sy += y[i];
  const double mx = sx / static_cast<double>(n), my = sy / static_cast<double>(n);
  double sxx = 0, sxy = 0, syy = 0;
  for (std::size_t i = 0; i < n; ++i) {
    sxx += (x[i] - mx) * (x[i] - mx);
    sxy += (x[i] - mx) * (y[i] - my);
    syy += (y[i] - my) * (y[i] - my);
  }
  if (sxx == 0) return {};
  LinearFit fit;
  fit.valid = true;
  fit.slope = sxy / sxx;
  fit.intercept = my - fit.slope * mx;
  fit.r2 = syy > 0 ? (sxy * sxy) / (sxx * syy) : 1.0;
  fit.points = n;
  return fit;
}

double median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const std::size_t mid = values.size() / 2;
  return values.size() % 2 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
}

std::vector<Aggregate> aggregate_points(const std::vector<PointRecord>& points) {
  // The runs of one grid point share everything but the repeat (and a rate fraction's rate).
  using Key =
      std::tuple<std::string, std::string, std::uint64_t, std::uint64_t, std::size_t,
                 std::optional<std::uint64_t>, std::optional<double>, std::optional<double>>;
  std::map<Key, std::vector<const PointRecord*>> groups;
  for (const auto& p : points) {
    groups[{p.series, p.backend, p.idle, p.active, p.size, p.lifetime,
            p.rate_fraction ? std::nullopt : p.rate, p.rate_fraction}]
        .push_back(&p);
  }
  std::vector<Aggregate> out;
  for (const auto& [key, runs] : groups) out.push_back(aggregate_runs(runs));
  return out;
}

AggregateIndex::AggregateIndex(const std::vector<Aggregate>& aggregates) {
  for (const auto& a : aggregates) by_key_.emplace(Key{a.series, a.backend, a.idle}, &a);
}

AggregateIndex::AggregateIndex(const std::vector<Aggregate>& aggregates,
                               const SweepConfig& config) {
  for (const auto& a : aggregates) {
    if (is_base_workload(a, config)) by_key_.emplace(Key{a.series, a.backend, a.idle}, &a);
  }
}

bool is_base_workload(const Aggregate& a, const SweepConfig& config) {
  if (a.active == 0) return true;  // written before the map: the run had one workload
  const bool open = a.rate || a.rate_fraction;
  return a.active == config.active && a.size == config.size && !a.lifetime && !a.rate_fraction &&
         (!open || *a.rate == config.rate);
}

const Aggregate* AggregateIndex::find(const std::string& series, const std::string& backend,
                                      std::uint64_t idle) const {
  const auto it = by_key_.find(Key{series, backend, idle});
  return it == by_key_.end() ? nullptr : it->second;
}

std::optional<double> AggregateIndex::median(const std::string& series, const std::string& backend,
                                             std::uint64_t idle, Metric metric) const {
  const Aggregate* a = find(series, backend, idle);
  if (!a || !a->metrics[metric]) return std::nullopt;
  return a->metrics[metric]->median;
}

std::vector<std::uint64_t> AggregateIndex::idles(const std::string& series,
                                                 const std::string& backend, Metric metric) const {
  std::vector<std::uint64_t> found;
  for (auto it = by_key_.lower_bound(Key{series, backend, 0});
       it != by_key_.end() && std::get<0>(it->first) == series && std::get<1>(it->first) == backend;
       ++it) {
    if (it->second->metrics[metric]) found.push_back(std::get<2>(it->first));
  }
  return found;
}

std::string points_csv(const std::vector<PointRecord>& points) {
  static const std::vector<std::pair<std::string, std::string>> columns = {
      {"id", "/id"},
      {"status", "/status"},
      {"series", "/series"},
      {"load", "/load"},
      {"placement", "/placement"},
      {"busy_poll", "/busy_poll"},
      {"backend", "/backend"},
      {"idle", "/idle"},
      {"active", "/active"},
      {"size", "/size"},
      {"lifetime", "/lifetime"},
      {"rate", "/rate"},
      {"rate_fraction", "/rate_fraction"},
      {"total_fds", "/total_fds"},
      {"repeat", "/repeat"},
      {"throughput_msgs_per_s", "/throughput_msgs_per_s"},
      {"throughput_mb_per_s", "/throughput_mb_per_s"},
      {"latency_p50_ns", "/latency_ns/p50"},
      {"latency_p90_ns", "/latency_ns/p90"},
      {"latency_p99_ns", "/latency_ns/p99"},
      {"latency_p99_9_ns", "/latency_ns/p99_9"},
      {"latency_max_ns", "/latency_ns/max"},
      {"server_cpu_us_per_msg", "/server/cpu_us_per_msg"},
      {"server_cpu_share", "/server/cpu_share"},
      {"server_wait_calls", "/server/wait_calls"},
      {"events_per_wait", "/server/events_per_wait"},
      {"fds_per_wait", "/server/fds_per_wait"},
      {"server_cpu_ns_per_wait", "/server/cpu_ns_per_wait"},
      {"interest_changes_per_msg", "/server/interest_changes_per_msg"},
      {"connections_per_s", "/connections/opened_per_s"},
      {"server_cpu_us_per_conn", "/server/cpu_us_per_conn"},
      {"connect_latency_p50_ns", "/connections/connect_latency_ns/p50"},
      {"connect_latency_p99_ns", "/connections/connect_latency_ns/p99"},
      {"generator_bound", "/generator/bound"},
      {"generator_cpu_share", "/generator/busiest_cpu_share"},
      {"generator_fell_behind", "/generator/fell_behind"},
      {"errors", "/errors"},
      {"idle_alive", "/idle_alive"},
      {"reason", "/reason"}};
  std::string csv;
  for (std::size_t i = 0; i < columns.size(); ++i) csv += (i ? "," : "") + columns[i].first;
  csv += "\n";
  for (const auto& point : points) {
    const Json p = point;  // the cells are the values sweep.json holds
    for (std::size_t i = 0; i < columns.size(); ++i) {
      const Json::json_pointer pointer(columns[i].second);
      if (i) csv += ",";
      csv += p.contains(pointer) ? csv_cell(p.at(pointer)) : "";
    }
    csv += "\n";
  }
  return csv;
}

std::vector<MicroWaitCost> read_micro_wait_costs(const std::string& micro_json) {
  const Json micro = Json::parse(without_non_numbers(micro_json), nullptr, false);
  static const std::string kShape = "socketpair/ready:1/fds:";
  std::vector<MicroWaitCost> costs;
  if (!micro.is_object()) return costs;
  for (const auto& bench : micro.value("benchmarks", Json::array())) {
    const std::string name = bench.value("run_name", bench.value("name", ""));
    const auto slash = name.find('/');
    if (slash == std::string::npos || name.compare(slash + 1, kShape.size(), kShape) != 0 ||
        bench.value("run_type", "") != "iteration" || bench.value("error_occurred", false) ||
        !bench.contains("ns_per_call")) {
      continue;
    }
    // "N/...": stod stops at '/'
    costs.push_back({canonical_backend_name(name.substr(0, slash)),
                     std::stod(name.substr(slash + 1 + kShape.size())),
                     bench["ns_per_call"].get<double>()});
  }
  return costs;
}

Summary summarise(const SweepDocument& sweep, const std::vector<MicroWaitCost>& micro,
                  const std::string& micro_table, const std::string& micro_json,
                  double send_buffer) {
  const AggregateIndex agg(sweep.aggregates, sweep.config);
  const SummaryContext context{sweep, agg, micro};
  auto header = header_section(sweep);
  auto per_fd = per_fd_section(context);
  auto overtakes = overtakes_section(context);
  auto libraries = libraries_section(context);
  auto latency = latency_section(context);
  auto caveats = caveats_section(sweep);
  auto python = python_section(agg, sweep.aggregates, sweep.config.active);
  MapSummary map = map_lines(sweep.aggregates, sweep.config);
  if (!micro_json.empty()) add_predictions(map, sweep.config, micro_json, send_buffer);
  Summary summary;
  summary.markdown = header.markdown + per_fd.markdown + overtakes.markdown + libraries.markdown +
                     latency.markdown + map_markdown(map) + python.markdown + caveats.markdown +
                     micro_table_section(micro_table);
  SweepSummary& numbers = summary.numbers;
  numbers.run_id = sweep.run_id;
  numbers.points = header.numbers;
  numbers.per_fd = std::move(per_fd.numbers);
  numbers.overtakes = std::move(overtakes.numbers);
  numbers.asio_over_epoll_lt = libraries.numbers.asio_over_epoll_lt;
  numbers.over_epoll_lt = std::move(libraries.numbers.over_epoll_lt);
  numbers.et_over_lt = libraries.numbers.et_over_lt;
  numbers.events_per_wait = std::move(libraries.numbers.events_per_wait);
  numbers.latency_us = std::move(latency.numbers);
  numbers.generator_bound_points = caveats.numbers.generator_bound_points;
  numbers.aggregate_points = caveats.numbers.aggregate_points;
  numbers.python = std::move(python.numbers);
  const bool has_map = !map.activity.empty() || !map.churn.empty() || !map.size.empty() ||
                       !map.load.empty() || map.crossover.size() > 0;
  if (has_map) numbers.map = std::move(map);
  return summary;
}

}  // namespace muxbench
