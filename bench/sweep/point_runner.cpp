#include "bench/sweep/point_runner.hpp"

#include <fmt/format.h>
#include <signal.h>
#include <sys/select.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "common/atomic_file.hpp"
#include "common/duration.hpp"
#include "common/exit_codes.hpp"
#include "common/subprocess.hpp"
#include "loadgen/merge.hpp"

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

// Waits for a child, forwarding an interrupt to it as SIGINT; nullopt if it outlived `timeout`
// (it is killed). With `out`, its stdout is read meanwhile: a report larger than the pipe must
// not block it.
std::optional<int> wait_for(Subprocess& child, std::chrono::milliseconds timeout,
                            const std::atomic<bool>& stop, std::string* out = nullptr) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bool forwarded = false;
  while (std::chrono::steady_clock::now() < deadline) {
    if (const auto code = child.wait(100ms)) return code;
    if (out) *out += child.drain_stdout(0ms);
    if (stop.load() && !forwarded) {
      child.send_signal(SIGINT);
      forwarded = true;
    }
  }
  child.send_signal(SIGKILL);
  child.wait(5s);
  return std::nullopt;
}

// "sh -c 'exec TEMPLATE'" with the placeholders replaced: the template's program takes the
// shell's place, so the pid held here is the program's (signals reach echo-server through
// `ip netns exec`, which execs too).
std::vector<std::string> shell_command(
    std::string text, const std::vector<std::pair<std::string, std::string>>& values) {
  for (const auto& [placeholder, value] : values) {
    for (auto at = text.find(placeholder); at != std::string::npos;
         at = text.find(placeholder, at + value.size())) {
      text.replace(at, placeholder.size(), value);
    }
  }
  return {"/bin/sh", "-c", "exec " + text};
}

std::string shell_join(const std::vector<std::string>& args) {
  std::string joined;
  for (const auto& arg : args) {
    if (!joined.empty()) joined += ' ';
    joined += '\'';
    for (const char c : arg) joined += c == '\'' ? std::string("'\\''") : std::string(1, c);
    joined += '\'';
  }
  return joined;
}

std::int64_t wall_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The loadgen options shared by the local and the remote generators.
std::vector<std::string> load_args(const PointSpec& point, const SweepConfig& config,
                                   std::uint64_t idle, std::uint64_t active, double rate) {
  std::vector<std::string> args = {
      "--idle",   std::to_string(idle),           "--active",   std::to_string(active),
      "--size",   std::to_string(config.size),    "--duration", format_duration(config.duration),
      "--warmup", format_duration(config.warmup), "--quiet"};
  if (point.series.load == "open") {
    args.insert(args.end(), {"--rate", fmt::format("{}", rate)});
  } else {
    args.insert(args.end(), {"--depth", std::to_string(config.depth)});
  }
  if (point.series.busy_poll) args.push_back("--busy-poll");
  return args;
}

struct GeneratorOutcome {
  Json report;           // loadgen's report, or the merge of several (null: none)
  Json exit_codes;       // one per generator (null: did not finish in time)
  bool finished = true;  // every generator exited on its own
  std::string error;     // the last stderr line(s)
};

// One local loadgen, pinned by the placement, that signals the server at its window's edges.
GeneratorOutcome run_local_generator(const PointSpec& point, const SweepConfig& config,
                                     const Tools& tools, pid_t server_pid,
                                     const std::string& target, int generator_cpu,
                                     const std::filesystem::path& report_path,
                                     const std::atomic<bool>& stop) {
  std::vector<std::string> argv = {tools.loadgen,
                                   "--target",
                                   target,
                                   "--cpu",
                                   std::to_string(generator_cpu),
                                   "--signal-pid",
                                   std::to_string(server_pid),
                                   "--json",
                                   report_path.string()};
  const auto args = load_args(point, config, point.idle, config.active, config.rate);
  argv.insert(argv.end(), args.begin(), args.end());
  SpawnOptions options;
  options.capture_stderr = true;
  auto loadgen = Subprocess::spawn(argv, options);
  const auto budget = config.warmup + config.duration + std::chrono::seconds(90);
  const auto code =
      wait_for(loadgen, std::chrono::duration_cast<std::chrono::milliseconds>(budget), stop);
  GeneratorOutcome outcome;
  outcome.exit_codes = code ? Json(*code) : Json(nullptr);
  outcome.finished = code.has_value();
  outcome.error = last_line(loadgen.drain_stderr(1s));
  if (std::ifstream in(report_path); in) outcome.report = Json::parse(in, nullptr, false);
  if (outcome.report.is_discarded()) outcome.report = nullptr;
  return outcome;
}

// Several generators started from their templates, each with its share of the connections and
// of the rate, all beginning their warm-up at one agreed wall-clock time (--start-at); this
// process signals the server at the window's edges and merges their reports exactly.
GeneratorOutcome run_remote_generators(const PointSpec& point, const SweepConfig& config,
                                       const Tools& tools, Subprocess& server,
                                       const std::string& target,
                                       const std::filesystem::path& report_path,
                                       const std::atomic<bool>& stop) {
  const std::size_t count = config.generator_commands.size();
  const std::string port = target.substr(target.rfind(':') + 1);
  const auto allowance = std::chrono::milliseconds(2000 + (point.idle + config.active) / 10);
  const std::int64_t start_at = wall_ns() + std::chrono::nanoseconds(allowance).count();
  std::vector<Subprocess> generators;
  for (std::size_t g = 0; g < count; ++g) {
    const auto share = [&](std::uint64_t total) {
      return total / count + (g < total % count ? 1 : 0);
    };
    auto args = load_args(point, config, share(point.idle), share(config.active),
                          config.rate / static_cast<double>(count));
    args.insert(args.end(), {"--start-at", std::to_string(start_at), "--json", "-"});
    SpawnOptions options;
    options.capture_stderr = true;
    generators.push_back(Subprocess::spawn(
        shell_command(
            config.generator_commands[g],
            {{"{loadgen}", tools.loadgen}, {"{port}", port}, {"{args}", shell_join(args)}}),
        options));
  }
  const auto signal_at = [&](std::chrono::nanoseconds after_start) {
    const auto wait = std::chrono::nanoseconds(start_at - wall_ns()) + after_start;
    if (wait.count() > 0) std::this_thread::sleep_for(wait);
    server.send_signal(SIGUSR1);
  };
  signal_at(config.warmup);
  signal_at(config.warmup + config.duration);

  GeneratorOutcome outcome;
  outcome.exit_codes = Json::array();
  std::vector<Json> reports;
  for (auto& generator : generators) {
    std::string out;
    const auto code = wait_for(generator, 120s, stop, &out);
    if (!code) outcome.finished = false;
    out += generator.drain_stdout(2s);
    outcome.exit_codes.push_back(code ? Json(*code) : Json(nullptr));
    const std::string why = last_line(generator.drain_stderr(1s));
    if (!why.empty()) outcome.error += (outcome.error.empty() ? "" : "; ") + why;
    auto report = Json::parse(out, nullptr, false);
    if (!report.is_object()) {
      outcome.error =
          fmt::format("generator {} wrote no report: {}", reports.size() + 1, outcome.error);
      return outcome;
    }
    reports.push_back(std::move(report));
  }
  outcome.report = merge_reports(reports);
  write_file_atomically(report_path, outcome.report.dump(1) + "\n");
  return outcome;
}

std::vector<Json> stop_and_collect_snapshots(Subprocess& server, std::optional<int>& exit_code) {
  server.send_signal(SIGTERM);
  exit_code = server.wait(10s);
  if (!exit_code) {
    server.send_signal(SIGKILL);
    exit_code = server.wait(5s);
  }
  std::vector<Json> snapshots;  // one JSON line per SIGUSR1, and one on exit
  std::istringstream out(server.drain_stdout(2s));
  for (std::string line; std::getline(out, line);) {
    auto snapshot = Json::parse(line, nullptr, false);
    if (snapshot.is_object()) snapshots.push_back(std::move(snapshot));
  }
  return snapshots;
}

}  // namespace

Json run_point(const PointSpec& point, const SweepConfig& config, const Tools& tools,
               const std::filesystem::path& points_dir, const std::atomic<bool>& stop) {
  const bool shared = point.series.placement == "shared";
  const int generator_cpu = shared ? config.server_cpu : config.generator_cpu;
  Json record = {
      {"id", point.id},
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
      {"generator_cpu", config.generator_commands.empty() ? Json(generator_cpu) : Json(nullptr)},
      {"generators", std::max<std::size_t>(config.generator_commands.size(), 1)}};
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

  const std::vector<std::string> server_args = {"--backend", point.backend, "--cpu",
                                                std::to_string(config.server_cpu)};
  std::vector<std::string> server_argv = {tools.echo_server};
  server_argv.insert(server_argv.end(), server_args.begin(), server_args.end());
  if (!config.server_command.empty()) {
    server_argv = shell_command(config.server_command, {{"{echo_server}", tools.echo_server},
                                                        {"{args}", shell_join(server_args)}});
  }
  SpawnOptions server_options;
  server_options.capture_stderr = true;
  std::optional<Subprocess> server;
  try {
    server.emplace(Subprocess::spawn(server_argv, server_options));
  } catch (const std::exception& e) {
    return fail("failed", fmt::format("cannot start echo-server: {}", e.what()));
  }
  const auto announce = server->read_line(10s);
  if (!announce || announce->rfind("listening ", 0) != 0) {
    const auto exit_code = server->wait(5s);  // it exited, or is killed below
    server->send_signal(SIGKILL);
    const std::string why = last_line(server->drain_stderr(1s));
    if (exit_code == kExitUnsupported) return fail("unsupported", why);  // e.g. no io_uring
    return fail("failed", fmt::format("echo-server did not start (exit {}): {}",
                                      exit_code ? std::to_string(*exit_code) : "none", why));
  }
  const std::string target = announce->substr(std::string("listening ").size());

  const auto report_path = points_dir / (point.id + ".loadgen.json");
  GeneratorOutcome outcome;
  try {
    outcome = config.generator_commands.empty()
                  ? run_local_generator(point, config, tools, server->pid(), target, generator_cpu,
                                        report_path, stop)
                  : run_remote_generators(point, config, tools, *server, target, report_path, stop);
  } catch (const std::exception& e) {
    outcome.error = e.what();
  }
  std::optional<int> server_exit;
  const auto snapshots = stop_and_collect_snapshots(*server, server_exit);
  write_file_atomically(points_dir / (point.id + ".server.json"), Json(snapshots).dump(1) + "\n");

  record["loadgen_exit"] = outcome.exit_codes;
  record["server_exit"] = server_exit ? Json(*server_exit) : Json(nullptr);
  const Json& report = outcome.report;
  if (stop.load()) return fail("interrupted", "the sweep was interrupted");
  if (!outcome.finished) return fail("failed", "loadgen did not finish in time");
  if (!report.is_object())
    return fail("failed", fmt::format("loadgen wrote no report: {}", outcome.error));
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
  record["server"] =
      window.size() >= 2 ? server_window(window[0], window[1], config.size) : Json(nullptr);
  if (report["status"] != "ok") {
    return fail("failed", report["problems"].empty() ? fmt::format("loadgen: {}", outcome.error)
                                                     : report["problems"][0].get<std::string>());
  }
  if (window.size() < 2) return fail("failed", "the server wrote fewer than two window snapshots");
  record["status"] = "ok";
  return record;
}

}  // namespace muxbench
