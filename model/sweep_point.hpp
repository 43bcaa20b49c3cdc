#pragma once

// One measured point of a sweep (results/README.md, sweep.json `points`). Fields a point did not
// get that far to have are absent from the JSON, not null: an unsupported point has no exit
// codes, a point whose loadgen wrote no report has no measurement.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "model/json_support.hpp"
#include "model/latency_summary.hpp"
#include "model/sweep_config.hpp"
#include "model/sweep_json_helpers.hpp"

namespace muxbench {

// overloaded: an open loop that could not keep the configured rate (loadgen's status). Its
// measurement is kept, flagged, but never counted among the ok runs.
enum class PointStatus { ok, unsupported, failed, interrupted, overloaded };
MUXBENCH_JSON_ENUM(PointStatus, {{PointStatus::ok, "ok"},
                                 {PointStatus::unsupported, "unsupported"},
                                 {PointStatus::failed, "failed"},
                                 {PointStatus::interrupted, "interrupted"},
                                 {PointStatus::overloaded, "overloaded"}})

// What the server did inside the window: the difference of its two snapshots, or for a foreign
// server what /proc shows (CPU) and loadgen counted (messages). Null: not observable (asio's wait
// calls; every counter only our servers keep, for a foreign server) or nothing to divide by.
struct ServerWindow {
  double seconds = 0;
  double cpu_us = 0;
  double cpu_share = 0;
  double messages = 0;
  std::optional<double> cpu_us_per_msg;
  std::optional<std::uint64_t> wait_calls;
  std::optional<std::uint64_t> events;
  std::optional<double> events_per_wait;
  std::optional<double> fds_per_wait;
  std::optional<double> cpu_ns_per_wait;
  std::optional<std::uint64_t> open_connections;
  // Interest changes (epoll_ctl MOD, pollfd/fd_set edits) per message: large messages that fill
  // the socket buffer make the server arm and disarm write interest.
  std::optional<double> interest_changes_per_msg;
  // With connection churn: server CPU per connection loadgen opened in the window.
  std::optional<double> cpu_us_per_conn;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(ServerWindow, seconds, cpu_us, cpu_share, messages,
                                                cpu_us_per_msg, wait_calls, events, events_per_wait,
                                                fds_per_wait, cpu_ns_per_wait, open_connections,
                                                interest_changes_per_msg, cpu_us_per_conn)

// With connection churn (loadgen --lifetime): the connections opened inside the window and how
// long their connects took.
struct PointConnections {
  std::uint64_t opened = 0;
  double opened_per_s = 0;
  LatencySummary connect_latency_ns;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(PointConnections, opened, opened_per_s,
                                                connect_latency_ns)

// The server as seen from outside over the same window, the same way for every server (ours and
// foreign ones): CPU of all its threads from /proc/PID/task/*/schedstat, and at the window's end
// its resident memory, descriptors and threads. For our servers a cross-check of getrusage.
struct ProcessWindow {
  double seconds = 0;
  double cpu_us = 0;
  double cpu_share = 0;
  std::optional<double> cpu_us_per_msg;  // per message loadgen completed in the window
  std::uint64_t rss_bytes = 0;
  std::uint64_t open_fds = 0;
  std::uint64_t threads = 0;
  std::uint64_t processes = 1;  // the server and its descendants (forked workers, a shell's child)
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(ProcessWindow, seconds, cpu_us, cpu_share,
                                                cpu_us_per_msg, rss_bytes, open_fds, threads,
                                                processes)

// The generator's own state: whether the numbers describe it as much as the server.
struct PointGenerator {
  bool bound = false;
  double busiest_cpu_share = 0;
  double work_share = 0;
  bool fell_behind = false;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(PointGenerator, bound, busiest_cpu_share,
                                                work_share, fell_behind)

// How the processes ended: present once the server started. `loadgen_exit` is one code for the
// local generator, a list for remote ones; null for one that did not finish in time.
struct PointExits {
  std::vector<std::optional<int>> loadgen;  // one per generator
  bool several_generators = false;          // written as a list
  std::optional<int> server;
};

// What loadgen reported, present once it wrote a report.
struct PointMeasurement {
  double throughput_msgs_per_s = 0;
  double throughput_mb_per_s = 0;
  LatencySummary latency_ns;  // loadgen's, of the window
  PointGenerator generator;
  std::uint64_t errors = 0;
  std::optional<std::uint64_t> idle_alive;
  double idle_open_seconds = 0;
  std::vector<std::string> problems;
  std::optional<ServerWindow> server;           // null without two window snapshots
  std::optional<ProcessWindow> server_proc;     // absent in runs made before it was measured
  std::optional<PointConnections> connections;  // with churn only
};

struct PointRecord {
  std::string id;
  PointStatus status = PointStatus::ok;
  std::optional<std::string> reason;  // absent when ok
  std::string series;
  LoadMode load = LoadMode::closed;
  Placement placement = Placement::split;
  bool busy_poll = false;
  std::string backend;
  std::uint64_t idle = 0;
  std::uint64_t active = 0;
  std::size_t size = 0;
  std::optional<std::uint64_t> lifetime;  // exchanges per connection; null: persistent
  std::optional<double> rate;             // open loop: the offered aggregate msg/s
  std::optional<double> rate_fraction;    // the rate as a fraction of the closed-loop capacity
  std::uint64_t total_fds = 0;
  unsigned repeat = 1;
  int server_cpu = 0;
  std::optional<int> generator_cpu;  // null with remote generators
  std::size_t generators = 1;
  std::optional<PointExits> exits;
  std::optional<PointMeasurement> measured;
};

inline void to_json(nlohmann::json& j, const PointRecord& p) {
  j = {{"id", p.id},
       {"status", p.status},
       {"series", p.series},
       {"load", p.load},
       {"placement", p.placement},
       {"busy_poll", p.busy_poll},
       {"backend", p.backend},
       {"idle", p.idle},
       {"active", p.active},
       {"size", p.size},
       {"lifetime", p.lifetime},
       {"rate", p.rate},
       {"rate_fraction", p.rate_fraction},
       {"total_fds", p.total_fds},
       {"repeat", p.repeat},
       {"server_cpu", p.server_cpu},
       {"generator_cpu", p.generator_cpu},
       {"generators", p.generators}};
  put_if_present(j, "reason", p.reason);
  if (const auto& e = p.exits) {
    if (e->several_generators) {
      j["loadgen_exit"] = e->loadgen;
    } else {
      j["loadgen_exit"] = e->loadgen.empty() ? std::nullopt : e->loadgen.front();
    }
    j["server_exit"] = e->server;
  }
  if (const auto& m = p.measured) {
    j["throughput_msgs_per_s"] = m->throughput_msgs_per_s;
    j["throughput_mb_per_s"] = m->throughput_mb_per_s;
    j["latency_ns"] = m->latency_ns;
    j["generator"] = m->generator;
    j["errors"] = m->errors;
    j["idle_alive"] = m->idle_alive;
    j["idle_open_seconds"] = m->idle_open_seconds;
    j["problems"] = m->problems;
    j["server"] = m->server;
    if (m->server_proc) j["server_proc"] = *m->server_proc;
    if (m->connections) j["connections"] = *m->connections;
  }
}

inline void from_json(const nlohmann::json& j, PointRecord& p) {
  j.at("id").get_to(p.id);
  j.at("status").get_to(p.status);
  p.reason = get_if_present<std::string>(j, "reason");
  j.at("series").get_to(p.series);
  j.at("load").get_to(p.load);
  j.at("placement").get_to(p.placement);
  j.at("busy_poll").get_to(p.busy_poll);
  j.at("backend").get_to(p.backend);
  j.at("idle").get_to(p.idle);
  j.at("active").get_to(p.active);
  // Runs before the map: the run's one size (SweepDocument fills it in), persistent, its rate.
  p.size = j.value("size", std::size_t{0});
  p.lifetime = get_nullable<std::uint64_t>(j, "lifetime");
  p.rate = get_nullable<double>(j, "rate");
  p.rate_fraction = get_nullable<double>(j, "rate_fraction");
  j.at("total_fds").get_to(p.total_fds);
  j.at("repeat").get_to(p.repeat);
  j.at("server_cpu").get_to(p.server_cpu);
  j.at("generator_cpu").get_to(p.generator_cpu);
  p.generators = j.value("generators", std::size_t{1});
  p.exits.reset();
  if (j.contains("loadgen_exit")) {
    PointExits e;
    const auto& codes = j["loadgen_exit"];
    e.several_generators = codes.is_array();
    if (e.several_generators) {
      codes.get_to(e.loadgen);
    } else {
      e.loadgen = {codes.get<std::optional<int>>()};
    }
    e.server = j.value("server_exit", nlohmann::json()).get<std::optional<int>>();
    p.exits = std::move(e);
  }
  p.measured.reset();
  if (j.contains("throughput_msgs_per_s")) {
    PointMeasurement m;
    j.at("throughput_msgs_per_s").get_to(m.throughput_msgs_per_s);
    j.at("throughput_mb_per_s").get_to(m.throughput_mb_per_s);
    j.at("latency_ns").get_to(m.latency_ns);
    j.at("generator").get_to(m.generator);
    j.at("errors").get_to(m.errors);
    j.at("idle_alive").get_to(m.idle_alive);
    j.at("idle_open_seconds").get_to(m.idle_open_seconds);
    j.at("problems").get_to(m.problems);
    j.at("server").get_to(m.server);
    m.server_proc = get_if_present<ProcessWindow>(j, "server_proc");
    m.connections = get_if_present<PointConnections>(j, "connections");
    p.measured = std::move(m);
  }
}

}  // namespace muxbench
