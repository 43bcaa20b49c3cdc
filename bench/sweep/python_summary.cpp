#include "bench/sweep/python_summary.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>
#include <tuple>
#include <utility>

#include "bench/sweep/map_summary.hpp"
#include "common/backend_table.hpp"

namespace muxbench {
namespace {

const std::string kClosedSeries = "closed-split";

// Each Python mode and the C backend doing the same wait (selectors and asyncio use epoll).
struct Mode {
  std::string python, c;
};
// Each language's epoll loop: what the other modes are compared with.
const std::string kPythonEpoll = "python-epoll";
const std::string kCEpoll(backend_name("epoll-lt"));
const Mode kModes[] = {{"python-select", std::string(backend_name("select"))},
                       {"python-poll", std::string(backend_name("poll"))},
                       {kPythonEpoll, kCEpoll},
                       {"python-selectors", kCEpoll},
                       {"python-asyncio", kCEpoll}};

std::optional<double> cpu(const AggregateIndex& agg, const std::string& backend,
                          std::uint64_t idle) {
  return agg.median(kClosedSeries, backend, idle, Metric::server_cpu_us_per_msg);
}

// Where `backend` becomes 10% dearer per message than `baseline` along the idle counts both
// measured; nullopt with fewer than two.
std::optional<Crossing> crossover(const AggregateIndex& agg, const std::string& backend,
                                  const std::string& baseline) {
  std::vector<std::optional<double>> xs;
  std::vector<double> ratios;
  for (const auto idle : agg.idles(kClosedSeries, backend, Metric::server_cpu_us_per_msg)) {
    const auto mine = cpu(agg, backend, idle);
    const auto theirs = cpu(agg, baseline, idle);
    if (!mine || !theirs || *theirs <= 0) continue;
    xs.emplace_back(static_cast<double>(idle));
    ratios.push_back(*mine / *theirs);
  }
  if (ratios.size() < 2) return std::nullopt;
  return find_crossing(xs, ratios, 1.1);
}

std::optional<RatioOverIdles> over(const AggregateIndex& agg, const std::string& backend,
                                   const std::string& baseline) {
  std::vector<double> ratios;
  for (const auto idle : agg.idles(kClosedSeries, backend, Metric::server_cpu_us_per_msg)) {
    const auto mine = cpu(agg, backend, idle);
    const auto theirs = cpu(agg, baseline, idle);
    if (mine && theirs && *theirs > 0) ratios.push_back(*mine / *theirs);
  }
  if (ratios.empty()) return std::nullopt;
  const auto [low, high] = std::minmax_element(ratios.begin(), ratios.end());
  return RatioOverIdles{(median(ratios) - 1) * 100, (*low - 1) * 100, (*high - 1) * 100,
                        ratios.size()};
}

// The slope of CPU per message over the idle counts `backend` measured among `idles`, in ns per
// idle connection (a Python mode and its C counterpart over the same counts: the C backends reach
// idle counts where the per-descriptor cost grows faster than linearly).
std::optional<double> per_idle_fd(const AggregateIndex& agg, const std::string& backend,
                                  const std::vector<std::uint64_t>& idles) {
  std::vector<double> x, y;
  for (const auto idle : idles) {
    const auto value = cpu(agg, backend, idle);
    if (!value) continue;
    x.push_back(static_cast<double>(idle));
    y.push_back(*value * 1e3);
  }
  const LinearFit line = fit_line(x, y);
  if (!line.valid) return std::nullopt;
  return line.slope;
}

std::string crossing_words(const Crossing& c) {
  if (c.side == "crosses" && c.at) return fmt::format("from ≈{:.0f} idle", *c.at);
  if (c.side == "crosses") return "between two measured idle counts";
  return c.side == "above" ? "already at the fewest idle connections measured"
                           : "at no idle count measured";
}

// Closed loop, persistent connections, more active connections than the base workload: each
// mode over its language's epoll loop at the same idle and active counts.
std::vector<PythonActivityCell> activity_cells(const std::vector<Aggregate>& aggregates,
                                               std::uint64_t base_active) {
  using Cell = std::tuple<std::string, std::uint64_t, std::uint64_t>;  // backend, idle, active
  std::map<Cell, double> cpu_us;
  for (const auto& a : aggregates) {
    const auto value = median_of(a, Metric::server_cpu_us_per_msg);
    if (a.series != kClosedSeries || a.lifetime || a.active == base_active || !value) continue;
    cpu_us[{a.backend, a.idle, a.active}] = *value;
  }
  // Each mode over its language's epoll loop: the Python modes over python-epoll, then the C
  // scans over epoll-lt.
  std::vector<std::pair<std::string, std::string>> over_epoll;
  for (const auto& mode : kModes)
    if (mode.python != kPythonEpoll) over_epoll.emplace_back(mode.python, kPythonEpoll);
  for (const auto& mode : kModes)
    if (mode.c != kCEpoll) over_epoll.emplace_back(mode.c, kCEpoll);
  std::vector<PythonActivityCell> out;
  for (const auto& [backend, baseline] : over_epoll) {
    for (const auto& [key, mine] : cpu_us) {
      const auto& [name, idle, active] = key;
      if (name != backend) continue;
      const auto theirs = cpu_us.find({baseline, idle, active});
      if (theirs == cpu_us.end() || theirs->second <= 0) continue;
      out.push_back({backend, baseline, idle, active, mine, theirs->second, mine / theirs->second});
    }
  }
  // Only where a Python mode was measured: the C rows are there to compare with.
  const bool any_python = std::any_of(out.begin(), out.end(), [](const PythonActivityCell& c) {
    return c.baseline == kPythonEpoll;
  });
  if (!any_python) out.clear();
  return out;
}

std::string activity_markdown(const std::vector<PythonActivityCell>& cells) {
  if (cells.empty()) return "";
  std::string md =
      "\nWith many active connections (`servers-activity`), each mode over its own language's "
      "epoll loop (below 1: cheaper than epoll):\n\n"
      "| backend | over | idle | active | µs/message | ratio |\n"
      "|---|---|---:|---:|---:|---:|\n";
  for (const auto& c : cells) {
    md += fmt::format("| {} | {} | {} | {} | {:.1f} | {:.2f} |\n", c.backend, c.baseline, c.idle,
                      c.active, c.cpu_us_per_msg, c.ratio);
  }
  return md;
}

std::string table(const PythonSummary& p) {
  std::set<std::uint64_t> idles;
  for (const auto& [backend, by_idle] : p.cpu_us_per_msg) {
    for (const auto& [idle, value] : by_idle) idles.insert(std::stoull(idle));
  }
  std::string md = "| server CPU µs/message |";
  for (const auto idle : idles) md += fmt::format(" {} idle |", idle);
  md += "\n|---|";
  for (std::size_t i = 0; i < idles.size(); ++i) md += "---:|";
  md += "\n";
  for (const auto& [backend, by_idle] : p.cpu_us_per_msg) {
    md += fmt::format("| {} |", backend);
    for (const auto idle : idles) {
      const auto it = by_idle.find(std::to_string(idle));
      md += it == by_idle.end() ? " – |" : fmt::format(" {:.1f} |", it->second);
    }
    md += "\n";
  }
  return md;
}

}  // namespace

PythonSection python_section(const AggregateIndex& agg, const std::vector<Aggregate>& aggregates,
                             std::uint64_t base_active) {
  PythonSummary p;
  for (const auto& mode : kModes) {
    for (const auto* backend : {&mode.python, &mode.c}) {
      for (const auto idle : agg.idles(kClosedSeries, *backend, Metric::server_cpu_us_per_msg))
        p.cpu_us_per_msg[*backend][std::to_string(idle)] = *cpu(agg, *backend, idle);
    }
  }
  const bool any_python = std::any_of(std::begin(kModes), std::end(kModes), [&](const Mode& m) {
    return p.cpu_us_per_msg.contains(m.python);
  });
  if (!any_python) return {};
  for (const auto& mode : {kModes[0], kModes[1]}) {
    if (auto c = crossover(agg, mode.python, kPythonEpoll)) p.crossovers[mode.python] = *c;
    if (auto c = crossover(agg, mode.c, kCEpoll)) p.c_crossovers[mode.c] = *c;
  }
  for (const auto& mode : kModes) {
    const auto idles = agg.idles(kClosedSeries, mode.python, Metric::server_cpu_us_per_msg);
    const auto python_slope = per_idle_fd(agg, mode.python, idles);
    const auto c_slope = per_idle_fd(agg, mode.c, idles);
    if (!python_slope || !c_slope) continue;
    p.ns_per_idle_fd_per_msg[mode.python] = *python_slope;
    p.ns_per_idle_fd_per_msg[mode.python + ":" + mode.c] = *c_slope;
  }
  p.asyncio_over_epoll = over(agg, "python-asyncio", kPythonEpoll);
  p.selectors_over_epoll = over(agg, "python-selectors", kPythonEpoll);
  p.activity = activity_cells(aggregates, base_active);

  std::string md =
      "\n## Does it matter in Python?\n\nThe servers of servers/python/echo_server.py (standard "
      "library; `select.select`, `select.poll`, `select.epoll`, `selectors.DefaultSelector`, "
      "asyncio) beside the C backends doing the same wait, closed loop (`closed-split`), measured "
      "from outside (/proc).\n\n" +
      table(p) + "\n";
  for (const auto& [backend, c] : p.crossovers) {
    const auto& c_backend = backend == "python-select" ? "select" : "poll";
    md += fmt::format("- {} costs 10% more per message than python-epoll {}", backend,
                      crossing_words(c));
    if (const auto it = p.c_crossovers.find(c_backend); it != p.c_crossovers.end())
      md += fmt::format("; in C, {} against epoll-lt {}", c_backend, crossing_words(it->second));
    md += ".\n";
  }
  for (const auto& mode : {kModes[0], kModes[1]}) {  // the scans: epoll's slope is noise around 0
    const auto py = p.ns_per_idle_fd_per_msg.find(mode.python);
    const auto c = p.ns_per_idle_fd_per_msg.find(mode.python + ":" + mode.c);
    if (py == p.ns_per_idle_fd_per_msg.end() || c == p.ns_per_idle_fd_per_msg.end()) continue;
    md += fmt::format(
        "- {}: {:.0f} ns more CPU per message for each idle connection; {} in C over the same idle "
        "counts: {:.0f} ns, so the interpreter's part is {:+.0f} ns.\n",
        mode.python, py->second, mode.c, c->second, py->second - c->second);
  }
  for (const auto& [label, ratio] : {std::pair{"asyncio", p.asyncio_over_epoll},
                                     std::pair{"selectors", p.selectors_over_epoll}}) {
    if (!ratio) continue;
    md += fmt::format(
        "- python-{} spends {:+.0f}% server CPU per message relative to a raw select.epoll loop "
        "(median over {} idle counts; range {:+.0f}% to {:+.0f}%).\n",
        label, ratio->median_percent, ratio->idle_counts, ratio->low_percent, ratio->high_percent);
  }
  md += activity_markdown(p.activity);
  return {md, p};
}

}  // namespace muxbench
