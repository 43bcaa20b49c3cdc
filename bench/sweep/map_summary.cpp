#include "bench/sweep/map_summary.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <set>

#include "common/backend_table.hpp"

namespace muxbench {
namespace {

const std::string kClosedSeries = "closed-split";
const std::string kBaseline(backend_name("epoll-lt"));

// The ok runs' median, else the overloaded runs' (flagged by the aggregate's status).
std::optional<double> measured_median(const Aggregate& a, Metric m) {
  if (const auto ok = median_of(a, m)) return ok;
  if (!a.overloaded_metrics || !(*a.overloaded_metrics)[m]) return std::nullopt;
  return (*a.overloaded_metrics)[m]->median;
}

// The value of one dimension of an aggregate (nullopt: a persistent connection's lifetime).
using Dimension = std::function<std::optional<double>(const Aggregate&)>;

struct LineSpec {
  std::string name;  // idle, active, lifetime, size
  Dimension x;
  // The aggregates that belong on such a line: the other dimensions at the run's base.
  std::function<bool(const Aggregate&)> fixed;
  double level;
};

std::vector<LineSpec> line_specs(const SweepConfig& c) {
  const auto base_size = [&c](const Aggregate& a) { return a.size == c.size; };
  return {
      {"idle", [](const Aggregate& a) { return std::optional<double>(double(a.idle)); },
       [&c, base_size](const Aggregate& a) {
         return a.active == c.active && base_size(a) && !a.lifetime;
       },
       1.1},
      {"active", [](const Aggregate& a) { return std::optional<double>(double(a.active)); },
       [base_size](const Aggregate& a) { return base_size(a) && !a.lifetime; }, 1.0},
      {"lifetime",
       [](const Aggregate& a) -> std::optional<double> {
         if (!a.lifetime) return std::nullopt;
         return double(*a.lifetime);
       },
       [&c, base_size](const Aggregate& a) { return a.active == c.active && base_size(a); }, 1.0},
      {"size", [](const Aggregate& a) { return std::optional<double>(double(a.size)); },
       [&c](const Aggregate& a) { return a.active == c.active && !a.lifetime; }, 1.0},
  };
}

// Persistent (nullopt) after every count.
bool x_before(const std::optional<double>& a, const std::optional<double>& b) {
  if (!a) return false;
  if (!b) return true;
  return *a < *b;
}

MapCell cell_of(const Aggregate& backend, const Aggregate& baseline, std::optional<double> x) {
  MapCell cell;
  cell.x = x;
  cell.cpu_us_per_msg = *median_of(backend, Metric::server_cpu_us_per_msg);
  cell.epoll_lt_cpu_us_per_msg = *median_of(baseline, Metric::server_cpu_us_per_msg);
  cell.ratio = cell.cpu_us_per_msg / cell.epoll_lt_cpu_us_per_msg;
  cell.events_per_wait = median_of(backend, Metric::events_per_wait);
  const auto fds = median_of(backend, Metric::fds_per_wait);
  if (cell.events_per_wait && fds && *fds > 0) cell.ready_share = *cell.events_per_wait / *fds;
  cell.cpu_us_per_conn = median_of(backend, Metric::server_cpu_us_per_conn);
  cell.interest_changes_per_msg = median_of(backend, Metric::interest_changes_per_msg);
  cell.epoll_lt_events_per_wait = median_of(baseline, Metric::events_per_wait);
  return cell;
}

// The lines of one dimension: per backend and fixed idle count (along idle: one per backend),
// the cells where both it and epoll-lt measured CPU per message; two cells at least.
std::vector<MapLine> lines_along(const std::vector<Aggregate>& aggregates, const LineSpec& spec) {
  using Key = std::pair<std::string, std::uint64_t>;  // backend, fixed idle
  std::map<Key, std::vector<const Aggregate*>> groups;
  std::map<std::pair<std::uint64_t, std::optional<double>>, const Aggregate*> baseline;
  const bool along_idle = spec.name == "idle";
  for (const auto& a : aggregates) {
    if (a.series != kClosedSeries || a.active == 0 || !spec.fixed(a) ||
        !median_of(a, Metric::server_cpu_us_per_msg))
      continue;
    // The shipped Python servers are compared with python-epoll in "Does it matter in Python?";
    // over epoll-lt their ratio would only say that the interpreter costs more than C.
    if (a.backend.starts_with("python-")) continue;
    const std::uint64_t fixed_idle = along_idle ? 0 : a.idle;
    if (a.backend == kBaseline) {
      baseline[{fixed_idle, spec.x(a)}] = &a;
    } else {
      groups[{a.backend, fixed_idle}].push_back(&a);
    }
  }
  std::vector<MapLine> lines;
  for (auto& [key, members] : groups) {
    std::sort(members.begin(), members.end(), [&](const Aggregate* a, const Aggregate* b) {
      return x_before(spec.x(*a), spec.x(*b));
    });
    MapLine line{kClosedSeries, key.first, spec.name, key.second, {}, {}, {}, {}, {}, {}};
    line.crossing.level = spec.level;
    for (const Aggregate* a : members) {
      const auto base = baseline.find({key.second, spec.x(*a)});
      if (base == baseline.end()) continue;
      line.cells.push_back(cell_of(*a, *base->second, spec.x(*a)));
    }
    if (line.cells.size() < 2) continue;
    std::vector<std::optional<double>> xs;
    std::vector<double> ratios;
    for (const auto& cell : line.cells) {
      xs.push_back(cell.x);
      ratios.push_back(cell.ratio);
    }
    line.crossing = find_crossing(xs, ratios, spec.level);
    if (spec.name == "size") {
      std::vector<double> relative;
      for (const double r : ratios) relative.push_back(r / ratios.front());
      line.rise = find_crossing(xs, relative, 1.1);
    }
    lines.push_back(std::move(line));
  }
  return lines;
}

// Open-loop curves: a backend at an idle count measured at three offered rates or more.
std::vector<LoadCurve> load_curves(const std::vector<Aggregate>& aggregates) {
  using Key = std::tuple<std::string, std::string, std::uint64_t, std::uint64_t, std::size_t>;
  std::map<Key, std::vector<const Aggregate*>> groups;
  // The closed-loop throughput of the same backend and workload.
  using Workload = std::tuple<std::string, std::uint64_t, std::uint64_t, std::size_t>;
  std::map<Workload, double> capacity;
  for (const auto& a : aggregates) {
    if (a.active == 0 || a.lifetime) continue;
    if (!a.rate && !a.rate_fraction) {
      if (a.series == kClosedSeries) {
        if (const auto t = median_of(a, Metric::throughput_msgs_per_s))
          capacity[{a.backend, a.idle, a.active, a.size}] = *t;
      }
      continue;
    }
    groups[{a.series, a.backend, a.idle, a.active, a.size}].push_back(&a);
  }
  std::vector<LoadCurve> curves;
  for (const auto& [key, members] : groups) {
    LoadCurve curve{std::get<0>(key), std::get<1>(key), std::get<2>(key), {}, {}, {}, {}};
    const Aggregate& first = *members.front();
    if (const auto it = capacity.find({first.backend, first.idle, first.active, first.size});
        it != capacity.end())
      curve.closed_loop_msgs_per_s = it->second;
    for (const Aggregate* a : members) {
      // An overloaded point keeps its measurement, flagged by its status.
      const auto offered = a->rate ? a->rate : measured_median(*a, Metric::offered_rate_msgs_per_s);
      const auto achieved = measured_median(*a, Metric::throughput_msgs_per_s);
      const auto p50 = measured_median(*a, Metric::latency_p50_ns);
      const auto p99 = measured_median(*a, Metric::latency_p99_ns);
      if (!offered || !achieved || !p50 || !p99) continue;
      curve.points.push_back(
          {a->rate_fraction, *offered, *achieved, *p50 / 1e3, *p99 / 1e3, a->status});
    }
    if (curve.points.size() < 3) continue;
    std::sort(curve.points.begin(), curve.points.end(), [](const LoadPoint& a, const LoadPoint& b) {
      return a.offered_msgs_per_s < b.offered_msgs_per_s;
    });
    for (const auto& p : curve.points) {
      if (p.status == "ok" && !curve.first_overloaded_offered)
        curve.highest_ok_offered = p.offered_msgs_per_s;
      if (p.status != "ok" && !curve.first_overloaded_offered)
        curve.first_overloaded_offered = p.offered_msgs_per_s;
    }
    curves.push_back(std::move(curve));
  }
  return curves;
}

std::string x_text(const std::optional<double>& x) {
  if (!x) return "persistent";
  return *x == std::floor(*x) && *x < 1e15 ? fmt::format("{:.0f}", *x) : fmt::format("{:.3g}", *x);
}

std::string crossing_text(const Crossing& c, std::string_view unit, bool measured = true) {
  if (c.side == "crosses") {
    const auto& b = *c.between;
    const std::string noisy = c.changes > 1 ? fmt::format(", the last of {} crossings{}", c.changes,
                                                          measured ? ": noise near the level" : "")
                                            : "";
    if (!c.at)
      return fmt::format("between {} and {} {}{}", x_text(b[0]), x_text(b[1]), unit, noisy);
    return fmt::format("≈{:.3g} {} (between {} and {}{})", *c.at, unit, x_text(b[0]), x_text(b[1]),
                       noisy);
  }
  return c.side == "below" ? fmt::format("none: below {:g}× everywhere measured", c.level)
                           : fmt::format("none: above {:g}× everywhere measured", c.level);
}

struct DimensionText {
  std::string_view name, title, unit, meaning;
};

constexpr DimensionText kTexts[] = {
    {"idle", "Idle connections (the fine grid)", "idle",
     "the idle count from which the backend costs 10% more CPU per message than epoll-lt"},
    {"active", "All connections busy (activity)", "active",
     "the active count at which the backend ties epoll-lt"},
    {"lifetime", "Short connections (churn)", "exchanges",
     "the exchanges per connection at which the backend ties epoll-lt (shorter: "
     "epoll_ctl ADD/DEL per connection counts more)"},
    {"size", "Large messages (interest changes)", "bytes",
     "the size at which the backend ties epoll-lt; 'rise' is where its ratio grows 10% "
     "above the smallest size's"},
};

std::string lines_markdown(const std::vector<MapLine>& lines, const DimensionText& text) {
  if (lines.empty()) return "";
  std::string md = fmt::format(
      "\n### {}\n\nServer CPU per message over epoll-lt's (`{}`, closed loop; below 1 the "
      "backend is cheaper). Boundary: {}.\n\n",
      text.title, kClosedSeries, text.meaning);
  for (const auto& line : lines) {
    md += fmt::format("- **{}**{}: ", line.backend,
                      text.name == "idle" ? "" : fmt::format(" at {} idle", line.idle));
    std::string cells;
    for (const auto& cell : line.cells) {
      cells += fmt::format("{}{} {} {:.2f}×", cells.empty() ? "" : ", ", x_text(cell.x), text.unit,
                           cell.ratio);
      if (cell.ready_share && text.name == "active")
        cells += fmt::format(" ({:.0f}% ready per wait)", *cell.ready_share * 100);
      if (cell.interest_changes_per_msg && text.name == "size")
        cells += fmt::format(" ({:.2g} interest changes/msg)", *cell.interest_changes_per_msg);
    }
    md += cells + fmt::format(". Boundary: {}", crossing_text(line.crossing, text.unit));
    if (line.rise) md += fmt::format("; rise: {}", crossing_text(*line.rise, text.unit));
    if (line.predicted_sleeping && line.predicted_busy) {
      md += fmt::format("; model: {} (waits sleeping), {} (waits busy)",
                        crossing_text(*line.predicted_sleeping, text.unit, false),
                        crossing_text(*line.predicted_busy, text.unit, false));
    }
    if (!line.model_note.empty()) md += fmt::format(" ({})", line.model_note);
    md += ".\n";
  }
  return md;
}

std::string model_markdown(const std::optional<ModelRecord>& model) {
  if (!model) return "";
  if (!model->why_not.empty()) {
    return fmt::format(
        "\nNo cost-model predictions: this run's wait-bench lacks rows the model needs ({}).\n",
        model->why_not);
  }
  return "\nEach line ends with the cost model's prediction (docs/cost-model.md), computed from "
         "this run's wait-bench rows alone and the line's workload (its counts and the events "
         "per wait it measured); its coefficients are in summary.json (`map.model`). Where model "
         "and measurement differ by more than 2× the line says so.\n";
}

std::string load_markdown(const std::vector<LoadCurve>& curves) {
  if (curves.empty()) return "";
  std::string md =
      "\n### Latency against offered load\n\nOpen loop at rates given as fractions of each "
      "backend's own closed-loop throughput in this run (or fixed rates). The closed loop keeps "
      "one message in flight per connection, so it is bound by round trips as much as by the "
      "server: an open loop can go past 100% of it.\n\n";
  for (const auto& c : curves) {
    md += fmt::format("- **{}** `{}` at {} idle{}: ", c.backend, c.series, c.idle,
                      c.closed_loop_msgs_per_s
                          ? fmt::format(" (closed loop {:.0f} msg/s)", *c.closed_loop_msgs_per_s)
                          : "");
    std::string points;
    for (const auto& p : c.points) {
      points += fmt::format("{}{:.0f} msg/s{}: p50 {:.1f} µs, p99 {:.1f} µs{}",
                            points.empty() ? "" : "; ", p.offered_msgs_per_s,
                            p.rate_fraction ? fmt::format(" ({:g}%)", *p.rate_fraction * 100) : "",
                            p.p50_us, p.p99_us, p.status == "ok" ? "" : " [" + p.status + "]");
    }
    md += points + ".\n";
  }
  return md;
}

}  // namespace

Crossing find_crossing(const std::vector<std::optional<double>>& x,
                       const std::vector<double>& ratios, double level) {
  Crossing c;
  c.level = level;
  for (std::size_t i = 0; i + 1 < ratios.size(); ++i) {
    const bool below = ratios[i] < level, next_below = ratios[i + 1] < level;
    if (below == next_below) continue;
    ++c.changes;
    c.side = "crosses";
    c.between = {x[i], x[i + 1]};
    c.at.reset();
    if (x[i] && x[i + 1]) {
      const double t = (level - ratios[i]) / (ratios[i + 1] - ratios[i]);
      c.at = *x[i] > 0 ? *x[i] * std::pow(*x[i + 1] / *x[i], t) : *x[i] + t * (*x[i + 1] - *x[i]);
    }
  }
  if (c.changes) return c;
  c.side = std::all_of(ratios.begin(), ratios.end(), [&](double r) { return r < level; }) ? "below"
                                                                                          : "above";
  return c;
}

MapSummary map_lines(const std::vector<Aggregate>& aggregates, const SweepConfig& config) {
  MapSummary map;
  for (const auto& spec : line_specs(config)) {
    auto lines = lines_along(aggregates, spec);
    if (spec.name == "idle") map.crossover = std::move(lines);
    if (spec.name == "active") map.activity = std::move(lines);
    if (spec.name == "lifetime") map.churn = std::move(lines);
    if (spec.name == "size") map.size = std::move(lines);
  }
  map.load = load_curves(aggregates);
  return map;
}

std::string map_markdown(const MapSummary& map) {
  const std::string body = lines_markdown(map.crossover, kTexts[0]) +
                           lines_markdown(map.activity, kTexts[1]) +
                           lines_markdown(map.churn, kTexts[2]) +
                           lines_markdown(map.size, kTexts[3]) + load_markdown(map.load);
  if (body.empty()) return "";
  return "\n## The map: where epoll-lt wins, ties and loses\n" + model_markdown(map.model) + body;
}

}  // namespace muxbench
