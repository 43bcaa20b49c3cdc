#include "bench/sweep/point_runner.hpp"

#include <fmt/format.h>
#include <signal.h>
#include <sys/select.h>

#include <fstream>
#include <sstream>

#include "common/atomic_file.hpp"
#include "common/duration.hpp"
#include "common/subprocess.hpp"

namespace muxbench {
namespace {

using namespace std::chrono_literals;
using Json = nlohmann::json;

std::string last_line(const std::string& text) {
  std::istringstream lines(text);
  std::string line, last;
  while (std::getline(lines, line)) {
    if (!line.empty()) last = line;
  }
  return last;
}

double number(const Json& value) { return value.is_number() ? value.get<double>() : 0.0; }

// What the server did inside the window: the difference of its two snapshots.
Json server_window(const Json& before, const Json& after, std::size_t message_size) {
  const auto delta = [&](const char* section, const char* key) -> Json {
    const auto& a = after[section][key];
    const auto& b = before[section][key];
    if (a.is_null() || b.is_null()) return nullptr;
    return a.get<double>() - b.get<double>();
  };
  const double cpu_us = number(delta("cpu", "user_us")) + number(delta("cpu", "system_us"));
  const double seconds =
      (after["time"]["monotonic_ns"].get<double>() - before["time"]["monotonic_ns"].get<double>()) /
      1e9;
  const double messages =
      number(delta("counters", "bytes_out")) / static_cast<double>(message_size);
  const Json wait_calls = delta("counters", "wait_calls");
  const Json fds_passed = delta("counters", "fds_passed");
  const double events = number(delta("counters", "events"));
  const bool waits_known = wait_calls.is_number() && wait_calls.get<double>() > 0;
  return {
      {"seconds", seconds},
      {"cpu_us", cpu_us},
      {"cpu_share", seconds > 0 ? cpu_us / 1e6 / seconds : 0.0},
      {"messages", messages},
      {"cpu_us_per_msg", messages > 0 ? Json(cpu_us / messages) : Json(nullptr)},
      {"wait_calls", wait_calls},
      {"events", events},
      {"events_per_wait", waits_known ? Json(events / wait_calls.get<double>()) : Json(nullptr)},
      {"fds_per_wait", waits_known && fds_passed.is_number()
                           ? Json(fds_passed.get<double>() / wait_calls.get<double>())
                           : Json(nullptr)},
      {"cpu_ns_per_wait",
       waits_known ? Json(cpu_us * 1e3 / wait_calls.get<double>()) : Json(nullptr)},
      {"open_connections", after["gauges"]["open_connections"]},
  };
}

// Waits for a child, forwarding an interrupt to it as SIGINT; nullopt if it outlived `timeout`.
std::optional<int> wait_for(Subprocess& child, std::chrono::milliseconds timeout,
                            const std::atomic<bool>& stop) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bool forwarded = false;
  while (std::chrono::steady_clock::now() < deadline) {
    if (const auto code = child.wait(100ms)) return code;
    if (stop.load() && !forwarded) {
      child.send_signal(SIGINT);
      forwarded = true;
    }
  }
  child.send_signal(SIGKILL);
  child.wait(5s);
  return std::nullopt;
}

}  // namespace

Json run_point(const PointSpec& point, const SweepConfig& config, const Tools& tools,
               const std::filesystem::path& points_dir, const std::atomic<bool>& stop) {
  const bool shared = point.series.placement == "shared";
  const int generator_cpu = shared ? config.server_cpu : config.generator_cpu;
  Json record = {{"id", point.id},
                 {"series", point.series.name},
                 {"load", point.series.load},
                 {"placement", point.series.placement},
                 {"busy_poll", point.series.busy_poll},
                 {"backend", point.backend},
                 {"idle", point.idle},
                 {"active", config.active},
                 {"total_fds", point.idle + config.active},
                 {"repeat", point.repeat},
                 {"server_cpu", config.server_cpu},
                 {"generator_cpu", generator_cpu}};
  const auto fail = [&](const std::string& status, const std::string& reason) {
    record["status"] = status;
    record["reason"] = reason;
    return record;
  };
  if (point.backend == "select" && !select_supports(point.idle, config.active)) {
    return fail("unsupported", fmt::format("select cannot watch descriptors >= FD_SETSIZE ({}): {} "
                                           "idle + {} active connections need more",
                                           FD_SETSIZE, point.idle, config.active));
  }

  SpawnOptions server_options;
  server_options.capture_stderr = true;
  std::optional<Subprocess> server;
  try {
    server.emplace(Subprocess::spawn(
        {tools.echo_server, "--backend", point.backend, "--cpu", std::to_string(config.server_cpu)},
        server_options));
  } catch (const std::exception& e) {
    return fail("failed", fmt::format("cannot start echo-server: {}", e.what()));
  }
  const auto announce = server->read_line(10s);
  if (!announce || announce->rfind("listening ", 0) != 0) {
    server->send_signal(SIGKILL);
    const auto exit_code = server->wait(5s);
    return fail("failed", fmt::format("echo-server did not start (exit {}): {}",
                                      exit_code ? std::to_string(*exit_code) : "none",
                                      last_line(server->drain_stderr(1s))));
  }
  const std::string target = announce->substr(std::string("listening ").size());

  const auto loadgen_json = points_dir / (point.id + ".loadgen.json");
  std::vector<std::string> argv = {tools.loadgen,
                                   "--target",
                                   target,
                                   "--idle",
                                   std::to_string(point.idle),
                                   "--active",
                                   std::to_string(config.active),
                                   "--size",
                                   std::to_string(config.size),
                                   "--duration",
                                   format_duration(config.duration),
                                   "--warmup",
                                   format_duration(config.warmup),
                                   "--cpu",
                                   std::to_string(generator_cpu),
                                   "--signal-pid",
                                   std::to_string(server->pid()),
                                   "--json",
                                   loadgen_json.string(),
                                   "--quiet"};
  if (point.series.load == "open") {
    argv.insert(argv.end(), {"--rate", fmt::format("{}", config.rate)});
  } else {
    argv.insert(argv.end(), {"--depth", std::to_string(config.depth)});
  }
  if (point.series.busy_poll) argv.push_back("--busy-poll");
  SpawnOptions loadgen_options;
  loadgen_options.capture_stderr = true;
  auto loadgen = Subprocess::spawn(argv, loadgen_options);
  const auto budget = config.warmup + config.duration + std::chrono::seconds(90);
  const auto loadgen_exit =
      wait_for(loadgen, std::chrono::duration_cast<std::chrono::milliseconds>(budget), stop);
  const std::string loadgen_error = last_line(loadgen.drain_stderr(1s));

  // The server printed a snapshot per SIGUSR1 and one on exit, one JSON line each.
  server->send_signal(SIGTERM);
  auto server_exit = server->wait(10s);
  if (!server_exit) {
    server->send_signal(SIGKILL);
    server_exit = server->wait(5s);
  }
  std::vector<Json> snapshots;
  std::istringstream out(server->drain_stdout(2s));
  for (std::string line; std::getline(out, line);) {
    auto snapshot = Json::parse(line, nullptr, false);
    if (snapshot.is_object()) snapshots.push_back(std::move(snapshot));
  }
  write_file_atomically(points_dir / (point.id + ".server.json"), Json(snapshots).dump(1) + "\n");

  record["loadgen_exit"] = loadgen_exit ? Json(*loadgen_exit) : Json(nullptr);
  record["server_exit"] = server_exit ? Json(*server_exit) : Json(nullptr);
  Json report;
  if (std::ifstream in(loadgen_json); in) report = Json::parse(in, nullptr, false);
  if (stop.load()) return fail("interrupted", "the sweep was interrupted");
  if (!loadgen_exit) return fail("failed", "loadgen did not finish in time");
  if (!report.is_object()) {
    return fail("failed",
                fmt::format("loadgen wrote no report (exit {}): {}", *loadgen_exit, loadgen_error));
  }
  if (server_exit != 0) {
    return fail("failed", fmt::format("echo-server exited with {} (crashed?)",
                                      server_exit ? std::to_string(*server_exit) : "no exit"));
  }

  std::vector<Json> window;
  for (const auto& s : snapshots) {
    if (s.value("reason", "") == "signal") window.push_back(s);
  }
  record["throughput_msgs_per_s"] = report["throughput"]["messages_per_s"];
  record["throughput_mb_per_s"] = report["throughput"]["mb_per_s"];
  record["latency_ns"] = report["latency_ns"];
  record["generator"] = {{"bound", report["generator"]["bound"]},
                         {"busiest_cpu_share", report["generator"]["busiest_cpu_share"]},
                         {"work_share", report["generator"]["work_share"]},
                         {"fell_behind", report["generator"]["fell_behind"]}};
  record["errors"] = report["errors"]["total"];
  record["idle_alive"] = report["connections"]["idle"]["alive_at_end"];
  record["idle_open_seconds"] = report["connections"]["idle"]["open_seconds"];
  record["problems"] = report["problems"];
  if (window.size() >= 2) {
    record["server"] = server_window(window[0], window[1], config.size);
  } else {
    record["server"] = nullptr;
  }
  if (*loadgen_exit != 0) {
    return fail("failed",
                fmt::format("loadgen exit {}: {}", *loadgen_exit,
                            report["problems"].empty() ? loadgen_error
                                                       : report["problems"][0].get<std::string>()));
  }
  if (window.size() < 2) return fail("failed", "the server wrote fewer than two window snapshots");
  record["status"] = "ok";
  return record;
}

}  // namespace muxbench
