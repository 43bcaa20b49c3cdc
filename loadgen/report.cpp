#include "loadgen/report.hpp"

#include <fmt/format.h>

#include <vector>

#include "common/csv.hpp"

namespace muxbench {
namespace {

using Json = nlohmann::json;

// A CSV column: the value of one field as the JSON report holds it (null: an empty cell). The
// table is written once for both report kinds, whose sections have the same field names.
template <class Report>
struct Column {
  const char* name;
  Json (*value)(const Report&);
};

// A field of the sections only a measured report has.
template <class Report, class Field>
Json measured(const Report& r, Field field) {
  return r.measured ? Json(field(*r.measured)) : Json();
}

// The latency summary, when the report has one (a merge of reports without histograms has none).
// A report without a histogram (a merge of reports that had none) has no latency numbers.
template <class Report>
const LatencySummary* latency_of(const Report& r) {
  return r.measured && r.histogram ? &r.measured->latency_ns : nullptr;
}

template <class Report, class Field>
Json latency(const Report& r, Field field) {
  const LatencySummary* l = latency_of(r);
  return l ? Json(field(*l)) : Json();
}

// A field of the open-loop section, when the report has one.
template <class Report, class Field>
Json open_loop(const Report& r, Field field) {
  return r.measured && r.measured->open_loop ? Json(field(*r.measured->open_loop)) : Json();
}

// A field of the churn section (--lifetime), when the report has one.
template <class Report, class Field>
Json churn(const Report& r, Field field) {
  return r.measured && r.measured->churn ? Json(field(*r.measured->churn)) : Json();
}

template <class R>
const std::vector<Column<R>>& columns() {
  // clang-format off
  static const std::vector<Column<R>> all = {
      {"timestamp_utc", [](const R& r) -> Json { return r.environment.timestamp_utc; }},
      {"git_sha", [](const R& r) -> Json { return r.environment.build.git_sha; }},
      {"status", [](const R& r) -> Json { return r.status; }},
      {"target", [](const R& r) -> Json { return r.config.target; }},
      {"idle", [](const R& r) -> Json { return r.config.idle; }},
      {"active", [](const R& r) -> Json { return r.config.active; }},
      {"size", [](const R& r) -> Json { return r.config.size; }},
      {"mode", [](const R& r) -> Json { return r.config.mode; }},
      {"depth", [](const R& r) -> Json { return r.config.depth; }},
      {"requested_rate", [](const R& r) -> Json { return r.config.rate; }},
      {"busy_poll", [](const R& r) -> Json { return r.config.busy_poll; }},
      {"threads", [](const R& r) -> Json { return r.config.threads; }},
      {"cpus", [](const R& r) -> Json { return r.config.cpus_text; }},
      {"window_s", [](const R& r) { return measured(r, [](auto& m) { return m.window.seconds; }); }},
      {"messages", [](const R& r) { return measured(r, [](auto& m) { return m.throughput.messages; }); }},
      {"throughput_msgs_per_s", [](const R& r) { return measured(r, [](auto& m) { return m.throughput.messages_per_s; }); }},
      {"throughput_mb_per_s", [](const R& r) { return measured(r, [](auto& m) { return m.throughput.mb_per_s; }); }},
      {"sent_per_s", [](const R& r) { return measured(r, [](auto& m) { return m.throughput.sent_per_s; }); }},
      {"latency_min_ns", [](const R& r) { return latency(r, [](auto& l) { return l.min; }); }},
      {"latency_mean_ns", [](const R& r) { return latency(r, [](auto& l) { return l.mean; }); }},
      {"latency_stddev_ns", [](const R& r) { return latency(r, [](auto& l) { return l.stddev; }); }},
      {"latency_p50_ns", [](const R& r) { return latency(r, [](auto& l) { return l.p50; }); }},
      {"latency_p90_ns", [](const R& r) { return latency(r, [](auto& l) { return l.p90; }); }},
      {"latency_p99_ns", [](const R& r) { return latency(r, [](auto& l) { return l.p99; }); }},
      {"latency_p99_9_ns", [](const R& r) { return latency(r, [](auto& l) { return l.p99_9; }); }},
      {"latency_p99_99_ns", [](const R& r) { return latency(r, [](auto& l) { return l.p99_99; }); }},
      {"latency_max_ns", [](const R& r) { return latency(r, [](auto& l) { return l.max; }); }},
      {"errors", [](const R& r) { return measured(r, [](auto& m) { return m.errors.total; }); }},
      {"mismatches", [](const R& r) { return measured(r, [](auto& m) { return m.errors.mismatches; }); }},
      {"lost_connections", [](const R& r) { return measured(r, [](auto& m) { return m.errors.lost_connections; }); }},
      {"unanswered", [](const R& r) { return measured(r, [](auto& m) { return m.errors.unanswered; }); }},
      {"idle_opened", [](const R& r) -> Json { return r.connections.idle.opened; }},
      {"idle_alive", [](const R& r) -> Json { return r.connections.idle.alive_at_end; }},
      {"idle_open_s", [](const R& r) -> Json { return r.connections.idle.open_seconds; }},
      {"active_open_s", [](const R& r) -> Json { return r.connections.active.open_seconds; }},
      {"generator_bound", [](const R& r) { return measured(r, [](auto& m) { return m.generator.bound; }); }},
      {"generator_cpu_share", [](const R& r) { return measured(r, [](auto& m) { return m.generator.busiest_cpu_share; }); }},
      {"generator_fell_behind", [](const R& r) { return measured(r, [](auto& m) { return m.generator.fell_behind; }); }},
      {"generator_work_share", [](const R& r) { return measured(r, [](auto& m) { return m.generator.work_share; }); }},
      // Added with the open-loop section (issue 13): empty for closed loop and older reports.
      {"achieved_rate", [](const R& r) { return open_loop(r, [](auto& o) { return o.achieved_rate; }); }},
      {"late_share", [](const R& r) { return open_loop(r, [](auto& o) { return o.late_share; }); }},
      {"lateness_p99_ns", [](const R& r) { return open_loop(r, [](auto& o) { return o.lateness_p99_ns; }); }},
      // Added with connection churn (issue 14, --lifetime): empty for persistent connections.
      {"lifetime", [](const R& r) -> Json { return r.config.lifetime; }},
      {"connections_opened", [](const R& r) { return churn(r, [](auto& c) { return c.opened; }); }},
      {"connections_per_s", [](const R& r) { return churn(r, [](auto& c) { return c.opened_per_s; }); }},
      {"connect_p50_ns", [](const R& r) { return churn(r, [](auto& c) { return c.connect_latency_ns.p50; }); }},
      {"connect_p99_ns", [](const R& r) { return churn(r, [](auto& c) { return c.connect_latency_ns.p99; }); }},
  };
  // clang-format on
  return all;
}

template <class Report>
std::string csv_row(const Report& report) {
  std::string row;
  for (const auto& column : columns<Report>()) row += csv_cell(column.value(report)) + ',';
  row.back() = '\n';
  return row;
}

std::string microseconds(std::uint64_t ns) {
  return fmt::format("{:.1f}us", static_cast<double>(ns) / 1e3);
}

template <class Report>
std::string measured_lines(const Report& r) {
  if (!r.measured) return "";
  const auto& m = *r.measured;
  const auto& g = m.generator;
  std::string text =
      fmt::format("  throughput  {:.0f} msg/s ({:.2f} MB/s) over {:.2f} s\n",
                  m.throughput.messages_per_s, m.throughput.mb_per_s, m.window.seconds);
  const LatencySummary* l = latency_of(r);
  if (r.status == LoadgenStatus::insufficient) {
    text += "  latency     not reported: too few echoes (see problems)\n";
  } else if (l) {
    text += fmt::format("  latency     p50 {}  p90 {}  p99 {}  p99.9 {}  max {}\n",
                        microseconds(l->p50), microseconds(l->p90), microseconds(l->p99),
                        microseconds(l->p99_9), microseconds(l->max));
  } else {
    text += "  latency     none measured\n";
  }
  if (const auto& o = m.open_loop) {
    text += fmt::format(
        "  open loop   requested {:.0f} msg/s, achieved {:.0f} (sent {:.0f}), {:.2f}% of {} due "
        "sends late, lateness p99 {}{}\n",
        o->requested_rate, o->achieved_rate, o->sent_per_s, 100 * o->late_share, o->due,
        microseconds(o->lateness_p99_ns), o->overloaded ? " -- OVERLOADED" : "");
  }
  if (const auto& c = m.churn) {
    text += fmt::format(
        "  churn       lifetime {}: {} connections opened ({:.0f}/s), {} closed, connect p50 {}  "
        "p99 {}  max {}, {} connects failed{}\n",
        c->lifetime, c->opened, c->opened_per_s, c->closed, microseconds(c->connect_latency_ns.p50),
        microseconds(c->connect_latency_ns.p99), microseconds(c->connect_latency_ns.max),
        c->connect_failures, c->port_exhaustion ? " -- PORTS EXHAUSTED" : "");
  }
  return text + fmt::format("  generator   cpu {:.0f}% (busiest CPU), work share {:.0f}%{}\n",
                            100 * g.busiest_cpu_share, 100 * g.work_share,
                            g.bound ? " -- SATURATED: the result is generator-bound" : "");
}

template <class Report>
std::string summary_text(const Report& r) {
  const auto& c = r.config;
  const std::string mode = c.mode == LoadMode::open
                               ? fmt::format("open loop {} msg/s", c.rate.value_or(0))
                               : fmt::format("closed loop depth {}", c.depth.value_or(0));
  std::string text = fmt::format("loadgen: {} | {} idle + {} active | {} B | {} | {}\n", c.target,
                                 c.idle, c.active, c.size, mode, enum_name(r.status)) +
                     measured_lines(r);
  const auto& idle = r.connections.idle;
  text += fmt::format("  connections idle {}/{} opened in {:.2f} s, {}\n", idle.opened,
                      idle.requested, idle.open_seconds,
                      idle.alive_at_end ? fmt::format("{} alive at the end", *idle.alive_at_end)
                                        : std::string("not counted at the end"));
  for (const auto& problem : r.problems) text += "  problem     " + problem + "\n";
  return text;
}

}  // namespace

LatencySummary latency_summary(const LatencyHistogram& h) {
  return {.count = h.count(),
          .min = h.min(),
          .mean = h.mean(),
          .stddev = h.stddev(),
          .p50 = h.percentile(50),
          .p90 = h.percentile(90),
          .p99 = h.percentile(99),
          .p99_9 = h.percentile(99.9),
          .p99_99 = h.percentile(99.99),
          .max = h.max()};
}

std::string loadgen_csv_header() {
  std::string header;
  for (const auto& column : columns<LoadgenReport>()) {
    if (!header.empty()) header.push_back(',');
    header.append(column.name);
  }
  header.push_back('\n');
  return header;
}

std::string loadgen_csv_row(const LoadgenReport& report) { return csv_row(report); }
std::string loadgen_csv_row(const MergedReport& report) { return csv_row(report); }

std::string loadgen_summary_text(const LoadgenReport& report) { return summary_text(report); }
std::string loadgen_summary_text(const MergedReport& report) { return summary_text(report); }

}  // namespace muxbench
