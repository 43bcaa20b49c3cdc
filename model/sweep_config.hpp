#pragma once

// The sweep's grid (results/README.md, sweep.json `config`).
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "model/json_support.hpp"
#include "model/load_mode.hpp"

namespace muxbench {

enum class Placement {
  split,   // server and generator on different CPUs
  shared,  // both on the server's CPU
};
MUXBENCH_JSON_ENUM(Placement, {{Placement::split, "split"}, {Placement::shared, "shared"}})

// A series is one way of loading the servers: closed loop (throughput, CPU per message) or open
// loop at a fixed rate (latency at equal load), with a placement of the two processes.
struct Series {
  std::string name;  // "closed-split", "open-split-busy", ...
  LoadMode load = LoadMode::closed;
  Placement placement = Placement::split;
  bool busy_poll = false;  // the generator spins instead of sleeping
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Series, name, load, placement, busy_poll)

// A server that is not one of echo-server's backends, started from a shell template in which
// {port} and {cpu} are replaced (the sweep also pins it to the server CPU). It needs to print
// nothing: it is ready when its port accepts a connection, and it is measured from outside.
struct ForeignServer {
  std::string name;
  std::string command;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(ForeignServer, name, command)

// What the load generator does at a point beyond the idle count: how many connections are
// active, how big a message is, how long a connection lives, and (open loop) how fast messages
// are offered — either a fixed aggregate rate or a fraction of the backend's own closed-loop
// capacity measured earlier in the same run.
struct Workload {
  std::uint64_t active = 10;
  std::size_t size = 64;
  std::optional<std::uint64_t> lifetime;  // echo exchanges per connection; nullopt: persistent
  std::optional<double> rate;             // open loop: aggregate msg/s
  std::optional<double> rate_fraction;    // open loop: of the closed-loop capacity (0.5 = 50%)
  bool operator==(const Workload&) const = default;
};

// One study of the map (README "The whole map"): the series it runs and the values of each
// dimension, crossed. The grid is the union of the studies' points, each point measured once.
struct Study {
  std::string name;  // idle, activity, churn, size, load (or custom)
  std::vector<Series> series;
  std::vector<std::uint64_t> idle;
  std::vector<std::uint64_t> active;
  std::vector<std::size_t> size;
  std::vector<std::optional<std::uint64_t>> lifetime;  // nullopt: persistent
  std::vector<double> rates;                           // open loop, msg/s
  std::vector<double> rate_fractions;                  // open loop, of the closed-loop capacity
  // Only these backends (empty: the run's); a quick slice runs the new studies on fewer.
  std::vector<std::string> backends;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Study, name, series, idle, active, size, lifetime,
                                                rates, rate_fractions, backends)

struct SweepConfig {
  std::string mode = "quick";  // quick or full (or custom when the grid was given)
  std::vector<std::string> backends;
  std::vector<std::uint64_t> idle;
  std::uint64_t active = 10;
  std::size_t size = 64;
  std::uint32_t depth = 1;
  double rate = 10'000;
  std::chrono::nanoseconds duration = std::chrono::seconds(1);
  std::chrono::nanoseconds warmup = std::chrono::milliseconds(500);
  unsigned repeats = 1;
  std::vector<Series> series;
  int server_cpu = 0;
  int generator_cpu = 1;
  std::string micro_filter;  // empty: every wait-bench benchmark
  double micro_min_time = 0.1;
  unsigned micro_repetitions = 1;
  std::uint64_t fd_limit = 0;  // the soft limit the sweep ran with
  // Beyond one machine (README "Bigger than one machine"): a shell template that starts the
  // server in place ({echo_server} {args}; it must exec it, e.g. through `ip netns exec`), and one
  // template per load generator ({loadgen} {port} {args}, e.g. over ssh). Empty: all local.
  std::string server_command;
  std::vector<std::string> generator_commands;
  // Open loop: loadgen's --late-tolerance (a send later than this is late; too many late sends
  // make a point overloaded). nullopt: loadgen's default, recorded in each point's report.
  std::optional<std::chrono::nanoseconds> late_tolerance;
  // The backends above that are foreign servers, with their templates (--server NAME=TEMPLATE or
  // the ones muxbench ships: Python's, libuv's).
  std::vector<ForeignServer> servers;
  // The studies the grid is made of. Runs recorded before studies existed have one: the idle
  // study above (series x idle x backends at active, size, rate), which from_json fills in.
  std::vector<Study> studies;

  // The workload of the idle study: every point of an older run, and the charts' base.
  Workload base_workload(LoadMode load) const {
    Workload w{active, size, std::nullopt, std::nullopt, std::nullopt};
    if (load == LoadMode::open) w.rate = rate;
    return w;
  }
  Study idle_study() const {
    return {"idle", series, idle, {active}, {size}, {std::nullopt}, {rate}, {}, {}};
  }
};

namespace sweep_config_json {
inline double seconds(std::chrono::nanoseconds d) {
  return std::chrono::duration<double>(d).count();
}
inline std::chrono::nanoseconds from_seconds(double s) {
  return std::chrono::nanoseconds(static_cast<std::int64_t>(s * 1e9 + 0.5));
}
}  // namespace sweep_config_json

// Durations are written as seconds (`duration_s`, `warmup_s`).
inline void to_json(nlohmann::json& j, const SweepConfig& c) {
  using sweep_config_json::seconds;
  j = {{"mode", c.mode},
       {"backends", c.backends},
       {"idle", c.idle},
       {"active", c.active},
       {"size", c.size},
       {"depth", c.depth},
       {"rate", c.rate},
       {"duration_s", seconds(c.duration)},
       {"warmup_s", seconds(c.warmup)},
       {"repeats", c.repeats},
       {"series", c.series},
       {"server_cpu", c.server_cpu},
       {"generator_cpu", c.generator_cpu},
       {"micro_filter", c.micro_filter},
       {"micro_min_time", c.micro_min_time},
       {"micro_repetitions", c.micro_repetitions},
       {"fd_limit", c.fd_limit},
       {"server_command", c.server_command},
       {"generator_commands", c.generator_commands}};
  if (c.late_tolerance) j["late_tolerance_s"] = seconds(*c.late_tolerance);
  if (!c.servers.empty()) j["servers"] = c.servers;
  j["studies"] = c.studies;
}

// Runs recorded before remote generators existed have no server_command / generator_commands.
inline void from_json(const nlohmann::json& j, SweepConfig& c) {
  using sweep_config_json::from_seconds;
  j.at("mode").get_to(c.mode);
  j.at("backends").get_to(c.backends);
  j.at("idle").get_to(c.idle);
  j.at("active").get_to(c.active);
  j.at("size").get_to(c.size);
  j.at("depth").get_to(c.depth);
  j.at("rate").get_to(c.rate);
  c.duration = from_seconds(j.at("duration_s").get<double>());
  c.warmup = from_seconds(j.at("warmup_s").get<double>());
  j.at("repeats").get_to(c.repeats);
  j.at("series").get_to(c.series);
  j.at("server_cpu").get_to(c.server_cpu);
  j.at("generator_cpu").get_to(c.generator_cpu);
  j.at("micro_filter").get_to(c.micro_filter);
  j.at("micro_min_time").get_to(c.micro_min_time);
  j.at("micro_repetitions").get_to(c.micro_repetitions);
  j.at("fd_limit").get_to(c.fd_limit);
  c.server_command = j.value("server_command", "");
  c.generator_commands = j.value("generator_commands", std::vector<std::string>{});
  c.late_tolerance.reset();
  if (j.contains("late_tolerance_s")) c.late_tolerance = from_seconds(j["late_tolerance_s"]);
  c.servers = j.value("servers", std::vector<ForeignServer>{});
  c.studies = j.contains("studies") ? j.at("studies").get<std::vector<Study>>()
                                    : std::vector<Study>{c.idle_study()};
}

}  // namespace muxbench
