#pragma once

// summary.json (results/README.md, `sweep-summary`): every number summary.md states, for documents
// to cite by JSON pointer. Sections with nothing to report are absent.
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "model/json_support.hpp"
#include "model/map_summary.hpp"
#include "model/sweep_json_helpers.hpp"

namespace muxbench {

// Extra server CPU per wait call for one more idle descriptor (ns), macro and micro.
struct PerFdCost {
  std::string series;
  std::optional<double> ns_per_idle_fd_at_1000;
  std::optional<std::uint64_t> largest_idle;
  std::optional<double> ns_per_idle_fd_at_largest;
  std::optional<double> line_ns_per_fd;
  std::optional<double> line_r2;
  std::optional<double> micro_ns_per_fd;
  std::optional<double> micro_r2;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(PerFdCost, series, ns_per_idle_fd_at_1000,
                                                largest_idle, ns_per_idle_fd_at_largest,
                                                line_ns_per_fd, line_r2, micro_ns_per_fd, micro_r2)

// Two backends' values at one idle count and the change in percent.
struct ChangeAtIdle {
  double value = 0;
  double epoll_lt_value = 0;
  double change_percent = 0;
};

// Where epoll-lt overtakes a scanning backend (CPU per message, closed loop).
struct Overtake {
  std::optional<std::uint64_t> from_idle;  // null: no crossover
  std::uint64_t last_within_10_percent = 0;
  std::uint64_t largest_idle = 0;
  std::optional<ChangeAtIdle> cpu_us_per_msg;         // at the largest idle, when overtaken
  std::optional<ChangeAtIdle> throughput_msgs_per_s;  // at the largest idle, when both measured
};

inline void to_json(nlohmann::json& j, const Overtake& o) {
  j = {{"from_idle", o.from_idle},
       {"last_within_10_percent", o.last_within_10_percent},
       {"largest_idle", o.largest_idle}};
  const auto put = [&](const std::optional<ChangeAtIdle>& change, const std::string& name,
                       const std::string& change_key) {
    if (!change) return;
    j[name] = change->value;
    j["epoll_lt_" + name] = change->epoll_lt_value;
    j[change_key] = change->change_percent;
  };
  put(o.cpu_us_per_msg, "cpu_us_per_msg", "cpu_change_percent");
  put(o.throughput_msgs_per_s, "throughput_msgs_per_s", "throughput_change_percent");
}

inline void from_json(const nlohmann::json& j, Overtake& o) {
  j.at("from_idle").get_to(o.from_idle);
  j.at("last_within_10_percent").get_to(o.last_within_10_percent);
  j.at("largest_idle").get_to(o.largest_idle);
  const auto get = [&](const std::string& name,
                       const std::string& change_key) -> std::optional<ChangeAtIdle> {
    if (!j.contains(name)) return std::nullopt;
    return ChangeAtIdle{j.at(name).get<double>(), j.at("epoll_lt_" + name).get<double>(),
                        j.at(change_key).get<double>()};
  };
  o.cpu_us_per_msg = get("cpu_us_per_msg", "cpu_change_percent");
  o.throughput_msgs_per_s = get("throughput_msgs_per_s", "throughput_change_percent");
}

// A ratio of CPU per message over the idle counts, as percent more (or less) than the base.
struct RatioOverIdles {
  double median_percent = 0;
  double low_percent = 0;
  double high_percent = 0;
  std::size_t idle_counts = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(RatioOverIdles, median_percent, low_percent,
                                                high_percent, idle_counts)

// The Python servers the tutorials teach (servers/python/echo_server.py) on the same curves as the
// C backends (summary.json `python`; absent when the run measured none).
// One Python mode (or its C counterpart) at one idle count with many active connections: its CPU
// per message over the epoll loop of its own language (python-epoll; epoll-lt for C).
struct PythonActivityCell {
  std::string backend;
  std::string baseline;  // python-epoll or epoll-lt
  std::uint64_t idle = 0;
  std::uint64_t active = 0;
  double cpu_us_per_msg = 0;
  double baseline_cpu_us_per_msg = 0;
  double ratio = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(PythonActivityCell, backend, baseline, idle, active,
                                                cpu_us_per_msg, baseline_cpu_us_per_msg, ratio)

struct PythonSummary {
  // By backend (python-select, ..., and the C backends they are compared with), then idle count
  // (a decimal string): median server CPU per message, closed loop (µs).
  std::map<std::string, std::map<std::string, double>> cpu_us_per_msg;
  // Where python-select/python-poll cost 10% more per message than python-epoll (level 1.1), and
  // where C's select/poll do against epoll-lt in the same run.
  std::map<std::string, Crossing> crossovers;
  std::map<std::string, Crossing> c_crossovers;
  // Extra CPU per message for one more idle connection (ns): the slope of a line fitted over the
  // idle counts the Python mode measured, keyed by the mode ("python-poll") and by the mode and
  // its C counterpart over the same counts ("python-poll:poll"); the difference: the interpreter's.
  std::map<std::string, double> ns_per_idle_fd_per_msg;
  std::optional<RatioOverIdles> asyncio_over_epoll;
  std::optional<RatioOverIdles> selectors_over_epoll;
  // The activity slice (many active connections, `servers-activity`): python-select, -poll,
  // -selectors, -asyncio over python-epoll, and select, poll over epoll-lt, cell by cell; empty
  // when the run measured none.
  std::vector<PythonActivityCell> activity;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(PythonSummary, cpu_us_per_msg, crossovers,
                                                c_crossovers, ns_per_idle_fd_per_msg,
                                                asyncio_over_epoll, selectors_over_epoll, activity)

struct LatencyMicroseconds {
  double p50 = 0;
  double p99 = 0;
  double p99_9 = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(LatencyMicroseconds, p50, p99, p99_9)

// `overloaded` (open-loop points that could not keep the rate) is written only when there are
// some: runs from before that status have none.
struct PointCounts {
  int ok = 0;
  int unsupported = 0;
  int failed = 0;
  int overloaded = 0;
};

inline void to_json(nlohmann::json& j, const PointCounts& c) {
  j = {{"ok", c.ok}, {"unsupported", c.unsupported}, {"failed", c.failed}};
  if (c.overloaded) j["overloaded"] = c.overloaded;
}

inline void from_json(const nlohmann::json& j, PointCounts& c) {
  c.ok = j.value("ok", 0);
  c.unsupported = j.value("unsupported", 0);
  c.failed = j.value("failed", 0);
  c.overloaded = j.value("overloaded", 0);
}

// By series, backend and idle count (a decimal string, as JSON keys are).
using LatencyTable =
    std::map<std::string, std::map<std::string, std::map<std::string, LatencyMicroseconds>>>;

struct SweepSummary {
  int schema_version = 1;
  std::string kind = "sweep-summary";
  std::string run_id;
  std::map<std::string, PerFdCost> per_fd;  // by backend
  std::map<std::string, Overtake> overtakes;
  std::optional<RatioOverIdles> asio_over_epoll_lt;
  std::map<std::string, RatioOverIdles> over_epoll_lt;  // io_uring backends, libuv
  std::optional<RatioOverIdles> et_over_lt;
  std::map<std::string, double> events_per_wait;
  LatencyTable latency_us;
  std::size_t generator_bound_points = 0;
  std::size_t aggregate_points = 0;
  PointCounts points;
  std::optional<MapSummary> map;  // absent when the run varied nothing but idle connections
  std::optional<PythonSummary> python;
};

namespace summary_json {
template <class Map>
void put_unless_empty(nlohmann::json& j, const std::string& key, const Map& map) {
  if (!map.empty()) j[key] = map;
}
template <class Map>
void get_if_there(const nlohmann::json& j, const std::string& key, Map& map) {
  map = j.contains(key) ? j.at(key).get<Map>() : Map{};
}
}  // namespace summary_json

inline void to_json(nlohmann::json& j, const SweepSummary& s) {
  using summary_json::put_unless_empty;
  j = {{"schema_version", s.schema_version},
       {"kind", s.kind},
       {"run_id", s.run_id},
       {"generator_bound_points", s.generator_bound_points},
       {"aggregate_points", s.aggregate_points},
       {"points", s.points}};
  put_unless_empty(j, "per_fd", s.per_fd);
  put_unless_empty(j, "overtakes", s.overtakes);
  put_if_present(j, "asio_over_epoll_lt", s.asio_over_epoll_lt);
  put_unless_empty(j, "over_epoll_lt", s.over_epoll_lt);
  put_if_present(j, "et_over_lt", s.et_over_lt);
  put_unless_empty(j, "events_per_wait", s.events_per_wait);
  put_unless_empty(j, "latency_us", s.latency_us);
  put_if_present(j, "map", s.map);
  put_if_present(j, "python", s.python);
}

inline void from_json(const nlohmann::json& j, SweepSummary& s) {
  using summary_json::get_if_there;
  j.at("schema_version").get_to(s.schema_version);
  j.at("kind").get_to(s.kind);
  j.at("run_id").get_to(s.run_id);
  j.at("generator_bound_points").get_to(s.generator_bound_points);
  j.at("aggregate_points").get_to(s.aggregate_points);
  j.at("points").get_to(s.points);
  get_if_there(j, "per_fd", s.per_fd);
  get_if_there(j, "overtakes", s.overtakes);
  s.asio_over_epoll_lt = get_if_present<RatioOverIdles>(j, "asio_over_epoll_lt");
  get_if_there(j, "over_epoll_lt", s.over_epoll_lt);
  s.et_over_lt = get_if_present<RatioOverIdles>(j, "et_over_lt");
  get_if_there(j, "events_per_wait", s.events_per_wait);
  get_if_there(j, "latency_us", s.latency_us);
  s.map = get_if_present<MapSummary>(j, "map");
  s.python = get_if_present<PythonSummary>(j, "python");
}

}  // namespace muxbench
