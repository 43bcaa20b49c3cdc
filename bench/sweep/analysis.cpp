#include "bench/sweep/analysis.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <tuple>

#include "common/csv.hpp"

namespace muxbench {
namespace {

using Json = nlohmann::json;

// The metrics aggregated per point, by their JSON pointer in a point record.
const std::vector<std::pair<std::string, std::string>>& metrics() {
  static const std::vector<std::pair<std::string, std::string>> all = {
      {"throughput_msgs_per_s", "/throughput_msgs_per_s"},
      {"throughput_mb_per_s", "/throughput_mb_per_s"},
      {"latency_p50_ns", "/latency_ns/p50"},
      {"latency_p99_ns", "/latency_ns/p99"},
      {"latency_p99_9_ns", "/latency_ns/p99_9"},
      {"server_cpu_us_per_msg", "/server/cpu_us_per_msg"},
      {"server_cpu_share", "/server/cpu_share"},
      {"server_cpu_ns_per_wait", "/server/cpu_ns_per_wait"},
      {"events_per_wait", "/server/events_per_wait"},
      {"fds_per_wait", "/server/fds_per_wait"},
      {"generator_cpu_share", "/generator/busiest_cpu_share"},
  };
  return all;
}

std::optional<double> at(const Json& record, const std::string& pointer) {
  const Json::json_pointer p(pointer);
  if (!record.contains(p) || !record.at(p).is_number()) return std::nullopt;
  return record.at(p).get<double>();
}

struct Aggregates {
  const Json& all;
  // The median of a metric for (series, backend, idle), when measured.
  std::optional<double> get(const std::string& series, const std::string& backend,
                            std::uint64_t idle, const std::string& metric) const {
    for (const auto& a : all) {
      if (a["series"] == series && a["backend"] == backend && a["idle"] == idle &&
          a["metrics"].contains(metric)) {
        return a["metrics"][metric]["median"].get<double>();
      }
    }
    return std::nullopt;
  }
  std::vector<std::uint64_t> idles(const std::string& series, const std::string& backend,
                                   const std::string& metric) const {
    std::vector<std::uint64_t> found;
    for (const auto& a : all) {
      if (a["series"] == series && a["backend"] == backend && a["metrics"].contains(metric)) {
        found.push_back(a["idle"]);
      }
    }
    std::sort(found.begin(), found.end());
    return found;
  }
};

std::string percent(double ratio) { return fmt::format("{:+.0f}%", (ratio - 1) * 100); }

// wait-bench: ns per call against registered fds for one family, fitted as a line.
LinearFit micro_fit(const Json& micro, const std::string& family) {
  std::vector<double> x, y;
  for (const auto& bench : micro.value("benchmarks", Json::array())) {
    const std::string name = bench.value("run_name", bench.value("name", ""));
    if (name.rfind(family + "/fds:", 0) != 0 || bench.value("run_type", "") != "iteration" ||
        bench.value("error_occurred", false) || !bench.contains("ns_per_call")) {
      continue;
    }
    x.push_back(std::stod(name.substr(family.size() + 5)));  // "/fds:N/...": stod stops at '/'
    y.push_back(bench["ns_per_call"].get<double>());
  }
  return fit_line(x, y);
}

}  // namespace

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

Json aggregate_points(const Json& points) {
  std::map<std::tuple<std::string, std::string, std::uint64_t>, std::vector<const Json*>> groups;
  for (const auto& p : points) groups[{p["series"], p["backend"], p["idle"]}].push_back(&p);
  Json out = Json::array();
  for (const auto& [key, runs] : groups) {
    const auto& [series, backend, idle] = key;
    Json a = {{"series", series},
              {"backend", backend},
              {"idle", idle},
              {"total_fds", (*runs.front())["total_fds"]},
              {"runs", runs.size()}};
    std::set<std::string> statuses;
    bool bound = false, behind = false;
    std::vector<const Json*> ok;
    for (const Json* run : runs) {
      statuses.insert((*run)["status"].get<std::string>());
      if ((*run)["status"] == "ok") ok.push_back(run);
      if (run->contains("generator")) {
        bound |= (*run)["generator"].value("bound", false);
        behind |= (*run)["generator"].value("fell_behind", false);
      }
      if ((*run)["status"] != "ok" && run->contains("reason")) a["reason"] = (*run)["reason"];
    }
    a["status"] = statuses.size() == 1 ? *statuses.begin() : "mixed";
    a["ok_runs"] = ok.size();
    a["generator_bound"] = bound;
    a["fell_behind"] = behind;
    Json values = Json::object();
    for (const auto& [name, pointer] : metrics()) {
      std::vector<double> found;
      for (const Json* run : ok) {
        if (const auto v = at(*run, pointer)) found.push_back(*v);
      }
      if (found.empty()) continue;
      values[name] = {{"median", median(found)},
                      {"min", *std::min_element(found.begin(), found.end())},
                      {"max", *std::max_element(found.begin(), found.end())}};
    }
    a["metrics"] = values;
    out.push_back(a);
  }
  return out;
}

std::string points_csv(const Json& points) {
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
      {"generator_bound", "/generator/bound"},
      {"generator_cpu_share", "/generator/busiest_cpu_share"},
      {"generator_fell_behind", "/generator/fell_behind"},
      {"errors", "/errors"},
      {"idle_alive", "/idle_alive"},
      {"reason", "/reason"}};
  std::string csv;
  for (std::size_t i = 0; i < columns.size(); ++i) csv += (i ? "," : "") + columns[i].first;
  csv += "\n";
  for (const auto& p : points) {
    for (std::size_t i = 0; i < columns.size(); ++i) {
      const Json::json_pointer pointer(columns[i].second);
      if (i) csv += ",";
      csv += p.contains(pointer) ? csv_cell(p.at(pointer)) : "";
    }
    csv += "\n";
  }
  return csv;
}

std::string summary_markdown(const Json& sweep, const Json& micro, const std::string& micro_table,
                             Json& numbers) {
  numbers = {{"schema_version", 1}, {"kind", "sweep-summary"}, {"run_id", sweep["run_id"]}};
  const Json& config = sweep["config"];
  const Json& env = sweep["environment"];
  const Json& points = sweep["points"];
  const Aggregates agg{sweep["aggregates"]};
  std::map<std::string, int> statuses;
  for (const auto& p : points) ++statuses[p["status"].get<std::string>()];

  std::string md = "# muxbench sweep summary\n\n";
  md += fmt::format(
      "Run `{}` ({} mode), started {} on {}: {}, {} online CPUs, {}, fd limit {}. Build: {} {}, "
      "git {}{}. Command: `{}`.\n\n",
      sweep["run_id"].get<std::string>(), config["mode"].get<std::string>(),
      sweep["started_utc"].get<std::string>(), env["host"].get<std::string>(),
      env["cpu_model"].get<std::string>(), env["online_cpus"].dump(),
      env["kernel"].get<std::string>(), env["fd_limit"]["soft"].dump(),
      env["build"]["type"].get<std::string>(), env["build"]["compiler"].get<std::string>(),
      env["build"]["git_sha"].get<std::string>(),
      env["build"]["git_dirty"].get<bool>() ? " (uncommitted changes)" : "",
      sweep["command"].get<std::string>());
  md += fmt::format(
      "{} points measured, {} unsupported, {} failed{}. Each point: {} idle + {} active "
      "connections, {}-byte messages, {} s warm-up then a {} s window, {} repeat(s) (medians; "
      "spread min–max in sweep.json). Server pinned to CPU {}, generator to CPU {} (\"split\") or "
      "to the server's CPU (\"shared\").\n\n",
      statuses["ok"], statuses["unsupported"], statuses["failed"],
      statuses["interrupted"] ? fmt::format(", {} interrupted", statuses["interrupted"]) : "", "N",
      config["active"].dump(), config["size"].dump(), config["warmup_s"].dump(),
      config["duration_s"].dump(), config["repeats"].dump(), config["server_cpu"].dump(),
      config["generator_cpu"].dump());
  md += "Series:\n";
  for (const auto& s : config["series"]) {
    md += fmt::format(
        "- `{}`: {} loop{}, {} placement, generator {}.\n", s["name"].get<std::string>(),
        s["load"].get<std::string>(),
        s["load"] == "open"
            ? fmt::format(" at {:g} msg/s", config["rate"].get<double>())
            : fmt::format(" with {} message(s) in flight per connection", config["depth"].dump()),
        s["placement"].get<std::string>(),
        s["busy_poll"].get<bool>() ? "busy-polling" : "sleeping in epoll_wait");
  }

  // 1. The cost of one more registered descriptor.
  const std::string closed = "closed-split";
  const std::vector<std::string> raw = {"select", "poll", "epoll-lt", "epoll-et", "uring-poll"};
  md += "\n## What one more registered descriptor costs\n\n";
  // Open loop at a fixed rate leaves the server slack, so each wake-up handles about one event and
  // CPU per wait call isolates the wait; a saturated closed loop batches more events per call as
  // the server slows, which would be counted as descriptor cost.
  std::string macro_series = closed;
  for (const auto& s : config["series"]) {
    if (s["load"] == "open") {
      macro_series = s["name"];
      break;
    }
  }
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
      macro_series);
  md +=
      "| backend | per idle fd at 1000 idle (ns) | per idle fd at the largest idle (ns) | line "
      "fit: ns per fd | R² | events per wait | micro: ns per fd | R² |\n";
  md += "|---|---:|---:|---:|---:|---:|---:|---:|\n";
  const auto active_count = config["active"].get<std::uint64_t>();
  for (const auto& backend : raw) {
    std::vector<double> fds, cpu, events;
    const auto idles = agg.idles(macro_series, backend, "server_cpu_ns_per_wait");
    for (const auto idle : idles) {
      fds.push_back(static_cast<double>(idle + active_count));
      cpu.push_back(*agg.get(macro_series, backend, idle, "server_cpu_ns_per_wait"));
      events.push_back(agg.get(macro_series, backend, idle, "events_per_wait").value_or(0));
    }
    const LinearFit line = fit_line(fds, cpu);
    const bool has_base = !idles.empty() && idles.front() == 0;
    const double base = has_base ? cpu.front() : 0.0;
    std::string family = backend + "/socketpair/ready:1";  // wait-bench spells '-' as '_'
    std::replace(family.begin(), family.end(), '-', '_');
    const LinearFit micro_line = micro.is_object() ? micro_fit(micro, family) : LinearFit{};
    if (idles.empty() && !micro_line.valid) continue;
    const auto [low_events, high_events] = std::minmax_element(events.begin(), events.end());
    const auto per_fd_value = [&](std::uint64_t idle) -> Json {
      const auto at_idle = agg.get(macro_series, backend, idle, "server_cpu_ns_per_wait");
      if (!has_base || !at_idle || idle == 0) return nullptr;
      return (*at_idle - base) / static_cast<double>(idle);
    };
    const auto per_idle_fd = [&](std::uint64_t idle) -> std::string {
      const Json value = per_fd_value(idle);
      return value.is_null() ? "-" : fmt::format("{:.0f} (at {})", value.get<double>(), idle);
    };
    numbers["per_fd"][backend] = {
        {"series", macro_series},
        {"ns_per_idle_fd_at_1000", per_fd_value(1000)},
        {"largest_idle", idles.empty() ? Json(nullptr) : Json(idles.back())},
        {"ns_per_idle_fd_at_largest", idles.empty() ? Json(nullptr) : per_fd_value(idles.back())},
        {"line_ns_per_fd", line.valid ? Json(line.slope) : Json(nullptr)},
        {"line_r2", line.valid ? Json(line.r2) : Json(nullptr)},
        {"micro_ns_per_fd", micro_line.valid ? Json(micro_line.slope) : Json(nullptr)},
        {"micro_r2", micro_line.valid ? Json(micro_line.r2) : Json(nullptr)}};
    md +=
        fmt::format("| {} | {} | {} | {} | {} | {} | {} | {} |\n", backend, per_idle_fd(1000),
                    idles.empty() ? "-" : per_idle_fd(idles.back()),
                    line.valid ? fmt::format("{:.1f}", line.slope) : "-",
                    line.valid ? fmt::format("{:.3f}", line.r2) : "-",
                    events.empty() ? "-" : fmt::format("{:.1f}–{:.1f}", *low_events, *high_events),
                    micro_line.valid ? fmt::format("{:.1f}", micro_line.slope) : "-",
                    micro_line.valid ? fmt::format("{:.3f}", micro_line.r2) : "-");
  }
  md +=
      "\nFor epoll the per-fd numbers are noise around zero: its wait does not look at idle "
      "descriptors at all. Where events per wait rise well above 1 the server was saturated and "
      "batching, which hides part of the per-fd cost in fewer, longer calls.\n";

  // 2. Where epoll overtakes select and poll (CPU per message, closed loop).
  md += "\n## Where epoll overtakes select and poll\n\n";
  for (const std::string other : {"poll", "select"}) {
    const auto idles = agg.idles(closed, other, "server_cpu_us_per_msg");
    bool overtaken = false;  // from `from` on, every measured point is more than 10% worse
    std::uint64_t from = 0, last_within = 0;
    std::size_t compared = 0;
    for (const auto idle : idles) {
      const auto theirs = agg.get(closed, other, idle, "server_cpu_us_per_msg");
      const auto epoll = agg.get(closed, "epoll-lt", idle, "server_cpu_us_per_msg");
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
    if (compared == 0) continue;
    numbers["overtakes"][other] = {{"from_idle", overtaken ? Json(from) : Json(nullptr)},
                                   {"last_within_10_percent", last_within},
                                   {"largest_idle", idles.back()}};
    const std::string since =
        overtaken && from == idles.front()
            ? fmt::format("at every measured idle count, {} included", from)
            : fmt::format("from {} idle connections on (at {} it was within 10%)", from,
                          last_within);
    if (overtaken) {
      const auto theirs = agg.get(closed, other, idles.back(), "server_cpu_us_per_msg");
      const auto epoll = agg.get(closed, "epoll-lt", idles.back(), "server_cpu_us_per_msg");
      numbers["overtakes"][other]["cpu_us_per_msg"] = *theirs;
      numbers["overtakes"][other]["epoll_lt_cpu_us_per_msg"] = *epoll;
      numbers["overtakes"][other]["cpu_change_percent"] = (*theirs / *epoll - 1) * 100;
      md += fmt::format(
          "- {} spends more than 10% more server CPU per message than epoll-lt {}; at {} idle it "
          "spends {} ({:.2f} vs {:.2f} µs per message).\n",
          other, since, idles.back(), percent(*theirs / *epoll), *theirs, *epoll);
    } else {
      md += fmt::format(
          "- {} stays within 10% of epoll-lt's CPU per message at every measured idle "
          "count up to {}: no crossover in this run.\n",
          other, idles.back());
    }
    const auto t_other = agg.get(closed, other, idles.back(), "throughput_msgs_per_s");
    const auto t_epoll = agg.get(closed, "epoll-lt", idles.back(), "throughput_msgs_per_s");
    if (t_other && t_epoll) {
      numbers["overtakes"][other]["throughput_msgs_per_s"] = *t_other;
      numbers["overtakes"][other]["epoll_lt_throughput_msgs_per_s"] = *t_epoll;
      numbers["overtakes"][other]["throughput_change_percent"] = (*t_other / *t_epoll - 1) * 100;
      md += fmt::format("  Throughput at {} idle: {} {:.0f} msg/s, epoll-lt {:.0f} msg/s ({}).\n",
                        idles.back(), other, *t_other, *t_epoll, percent(*t_other / *t_epoll));
    }
  }

  // 3. Asio over raw epoll, and LT vs ET.
  const auto ratio_over_idles =
      [&](const std::string& a,
          const std::string& b) -> std::optional<std::tuple<double, double, double, std::size_t>> {
    std::vector<double> ratios;
    for (const auto idle : agg.idles(closed, a, "server_cpu_us_per_msg")) {
      const auto x = agg.get(closed, a, idle, "server_cpu_us_per_msg");
      const auto y = agg.get(closed, b, idle, "server_cpu_us_per_msg");
      if (x && y && *y > 0) ratios.push_back(*x / *y);
    }
    if (ratios.empty()) return std::nullopt;
    return std::tuple{median(ratios), *std::min_element(ratios.begin(), ratios.end()),
                      *std::max_element(ratios.begin(), ratios.end()), ratios.size()};
  };
  md += "\n## Asio and io_uring over raw epoll, edge- over level-triggered\n\n";
  struct Comparison {
    const char* backend;
    const char* label;
    const char* base_label;
    const char* slot;  // where summary.json keeps it
  };
  for (const Comparison& c :
       {Comparison{"asio", "Asio", "raw epoll-lt", "/asio_over_epoll_lt"},
        Comparison{"uring-poll", "uring-poll", "raw epoll-lt", "/over_epoll_lt/uring-poll"},
        Comparison{"uring", "uring", "raw epoll-lt", "/over_epoll_lt/uring"},
        Comparison{"epoll-et", "epoll-et", "epoll-lt", "/et_over_lt"}}) {
    const auto r = ratio_over_idles(c.backend, "epoll-lt");
    if (!r) continue;
    const auto [mid, low, high, n] = *r;
    numbers[Json::json_pointer(c.slot)] = {{"median_percent", (mid - 1) * 100},
                                           {"low_percent", (low - 1) * 100},
                                           {"high_percent", (high - 1) * 100},
                                           {"idle_counts", n}};
    md += fmt::format(
        "- {} spends {} server CPU per message relative to {} (median over {} idle counts; range "
        "{} to {}).\n",
        c.label, percent(mid), c.base_label, n, percent(low), percent(high));
  }
  for (const std::string backend : {"epoll-lt", "epoll-et"}) {
    const auto idles = agg.idles(closed, backend, "events_per_wait");
    if (idles.empty()) continue;
    std::vector<double> events;
    for (const auto idle : idles)
      events.push_back(*agg.get(closed, backend, idle, "events_per_wait"));
    numbers["events_per_wait"][backend] = median(events);
    md += fmt::format("- {} returned {:.2f} events per wait call (median over idle counts).\n",
                      backend, median(events));
  }

  // 4. Latency at equal load.
  for (const auto& s : config["series"]) {
    if (s["load"] != "open") continue;
    const std::string name = s["name"];
    md += fmt::format("\n## Latency at {:g} msg/s (`{}`: {} placement, generator {})\n\n",
                      config["rate"].get<double>(), name, s["placement"].get<std::string>(),
                      s["busy_poll"].get<bool>() ? "busy-polling" : "sleeping");
    md +=
        "| backend | idle | p50 µs | p99 µs | p99.9 µs | flags |\n|---|---:|---:|---:|---:|---|\n";
    for (const auto& backend : config["backends"]) {
      const auto idles = agg.idles(name, backend, "latency_p50_ns");
      if (idles.empty()) continue;
      for (const auto idle : std::set<std::uint64_t>{idles.front(), idles.back()}) {
        std::string flags;
        for (const auto& a : sweep["aggregates"]) {
          if (a["series"] == name && a["backend"] == backend && a["idle"] == idle) {
            if (a["generator_bound"].get<bool>()) flags += "generator-bound ";
            if (a["fell_behind"].get<bool>()) flags += "fell behind ";
          }
        }
        numbers["latency_us"][name][backend.get<std::string>()][std::to_string(idle)] = {
            {"p50", *agg.get(name, backend, idle, "latency_p50_ns") / 1e3},
            {"p99", *agg.get(name, backend, idle, "latency_p99_ns") / 1e3},
            {"p99_9", agg.get(name, backend, idle, "latency_p99_9_ns").value_or(0) / 1e3}};
        md +=
            fmt::format("| {} | {} | {:.1f} | {:.1f} | {:.1f} | {} |\n", backend.get<std::string>(),
                        idle, *agg.get(name, backend, idle, "latency_p50_ns") / 1e3,
                        *agg.get(name, backend, idle, "latency_p99_ns") / 1e3,
                        agg.get(name, backend, idle, "latency_p99_9_ns").value_or(0) / 1e3, flags);
      }
    }
  }

  // 5. Caveats: generator-bound, failed and unsupported points.
  md += "\n## Caveats\n\n";
  std::size_t bound = 0;
  for (const auto& a : sweep["aggregates"]) bound += a["generator_bound"].get<bool>();
  numbers["generator_bound_points"] = bound;
  numbers["aggregate_points"] = sweep["aggregates"].size();
  numbers["points"] = {{"ok", statuses["ok"]},
                       {"unsupported", statuses["unsupported"]},
                       {"failed", statuses["failed"]}};
  md += fmt::format(
      "- {} of {} (series, backend, idle) points were generator-bound: the generator's "
      "CPU was busy more than 90% of the window, so throughput there describes the "
      "generator as much as the server; CPU per message is still the server's own.\n",
      bound, sweep["aggregates"].size());
  for (const auto& p : points) {
    if (p["status"] == "failed" || p["status"] == "interrupted") {
      md += fmt::format("- {} {}: {}\n", p["status"].get<std::string>(), p["id"].get<std::string>(),
                        p.value("reason", ""));
    }
  }
  // Not only select: a backend the machine cannot run (no io_uring) is unsupported too.
  std::map<std::string, std::pair<std::size_t, std::string>> unsupported;  // count, first reason
  for (const auto& p : points) {
    if (p["status"] != "unsupported") continue;
    auto& [count, reason] = unsupported[p["backend"].get<std::string>()];
    if (count++ == 0) reason = p.value("reason", "");
  }
  for (const auto& [backend, entry] : unsupported) {
    md += fmt::format("- {} {} points were not run, unsupported here (the first: {}).\n",
                      entry.first, backend, entry.second);
  }
  if (!micro_table.empty()) md += "\n## Micro-benchmark table\n\n" + micro_table;
  return md;
}

}  // namespace muxbench
