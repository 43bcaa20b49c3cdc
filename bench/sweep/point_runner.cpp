#include "bench/sweep/point_runner.hpp"

#include <fmt/format.h>
#include <signal.h>
#include <sys/select.h>

#include <algorithm>
#include <fstream>
#include <initializer_list>
#include <sstream>
#include <string_view>
#include <thread>

#include "bench/sweep/foreign_servers.hpp"
#include "bench/sweep/window_sampler.hpp"
#include "common/atomic_file.hpp"
#include "common/duration.hpp"
#include "common/exit_codes.hpp"
#include "common/subprocess.hpp"
#include "loadgen/merge.hpp"
#include "model/loadgen_report.hpp"
#include "model/merged_report.hpp"
#include "model/stats_snapshot.hpp"

namespace muxbench {
namespace {

using namespace std::chrono_literals;
using Json = nlohmann::json;

}  // namespace

std::string last_line(const std::string& text) {
  std::istringstream lines(text);
  std::string line, last;
  while (std::getline(lines, line)) {
    if (!line.empty()) last = line;
  }
  return last;
}

// The difference of the two snapshots: counts as counts, everything divided as doubles.
ServerWindow server_window(const StatsSnapshot& before, const StatsSnapshot& after,
                           std::size_t message_size) {
  const auto delta = [](std::uint64_t a, std::uint64_t b) {
    return static_cast<double>(a) - static_cast<double>(b);
  };
  // A counter never goes back; a restarted server would, and its window is no count at all.
  const auto count = [](std::uint64_t a, std::uint64_t b) -> std::optional<std::uint64_t> {
    if (a < b) return std::nullopt;
    return a - b;
  };
  const auto observed_count = [&](const std::optional<std::uint64_t>& a,
                                  const std::optional<std::uint64_t>& b) {
    return a && b ? count(*a, *b) : std::nullopt;
  };
  const auto as_double = [](std::uint64_t n) { return static_cast<double>(n); };
  ServerWindow w;
  w.cpu_us = delta(after.cpu.user_us, before.cpu.user_us) +
             delta(after.cpu.system_us, before.cpu.system_us);
  w.seconds = (static_cast<double>(after.time.monotonic_ns) -
               static_cast<double>(before.time.monotonic_ns)) /
              1e9;
  w.messages = delta(after.counters.bytes_out, before.counters.bytes_out) /
               static_cast<double>(message_size);
  w.wait_calls = observed_count(after.counters.wait_calls, before.counters.wait_calls);
  const auto fds_passed = observed_count(after.counters.fds_passed, before.counters.fds_passed);
  w.events = count(after.counters.events, before.counters.events);
  const bool waits_known = w.wait_calls && *w.wait_calls > 0;
  w.cpu_share = w.seconds > 0 ? w.cpu_us / 1e6 / w.seconds : 0.0;
  // 40273 us per message from 0.097 messages is not a measurement.
  if (w.messages >= static_cast<double>(default_min_echoes(message_size))) {
    w.cpu_us_per_msg = w.cpu_us / w.messages;
    w.interest_changes_per_msg =
        delta(after.counters.interest_changes, before.counters.interest_changes) / w.messages;
  }
  if (waits_known) {
    const double waits = as_double(*w.wait_calls);
    if (w.events) w.events_per_wait = as_double(*w.events) / waits;
    if (fds_passed) w.fds_per_wait = as_double(*fds_passed) / waits;
    w.cpu_ns_per_wait = w.cpu_us * 1e3 / waits;
  }
  w.open_connections = after.gauges.open_connections;
  return w;
}

namespace {

// LoadgenReport and MergedReport share their member paths.
template <class Report>
LoadgenFigures figures_from(const Report& report) {
  LoadgenFigures f{.status = report.status, .problems = report.problems, .measured = {}};
  if (!report.measured) return f;
  const auto& measured = *report.measured;
  const auto& generator = measured.generator;
  f.measured = PointMeasurement{.throughput_msgs_per_s = measured.throughput.messages_per_s,
                                .throughput_mb_per_s = measured.throughput.mb_per_s,
                                .latency_ns = measured.latency_ns,
                                .generator = {generator.bound, generator.busiest_cpu_share,
                                              generator.work_share, generator.fell_behind},
                                .errors = measured.errors.total,
                                .idle_alive = report.connections.idle.alive_at_end,
                                .idle_open_seconds = report.connections.idle.open_seconds,
                                .problems = report.problems,
                                .server = std::nullopt,
                                .server_proc = std::nullopt,
                                .connections = std::nullopt};
  // loadgen --lifetime: the churn section's connections opened in the window and their connects.
  if (const auto& churn = measured.churn) {
    f.measured->connections = PointConnections{.opened = static_cast<std::uint64_t>(churn->opened),
                                               .opened_per_s = churn->opened_per_s,
                                               .connect_latency_ns = churn->connect_latency_ns};
  }
  return f;
}

// A loadgen report (its file, or a remote generator's stdout), if it is one.
std::optional<LoadgenReport> parse_loadgen_report(const std::string& text) {
  const Json json = Json::parse(text, nullptr, false);
  if (!json.is_object()) return std::nullopt;
  try {
    return json.get<LoadgenReport>();
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::optional<LoadgenFigures> read_loadgen_report_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto report = parse_loadgen_report(text);
  if (!report) return std::nullopt;
  return figures_from(*report);
}

// Remote generators' reports merged exactly into one, written where a local loadgen would have
// written its own.
LoadgenFigures merge_generator_reports(const std::vector<LoadgenReport>& reports,
                                       const std::filesystem::path& report_path) {
  const MergedReport merged = merge_reports(reports);
  write_file_atomically(report_path, Json(merged).dump(1) + "\n");
  return figures_from(merged);
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

// Open loop: the point's rate (a fraction is resolved before the point runs), else the run's.
double offered_rate(const PointSpec& point, const SweepConfig& config) {
  return point.workload.rate.value_or(config.rate);
}

std::int64_t wall_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The loadgen options shared by the local and the remote generators.
std::vector<std::string> load_args(const PointSpec& point, const SweepConfig& config,
                                   std::uint64_t idle, std::uint64_t active, double rate) {
  const Workload& w = point.workload;
  std::vector<std::string> args = {
      "--idle",   std::to_string(idle),           "--active",   std::to_string(active),
      "--size",   std::to_string(w.size),         "--duration", format_duration(config.duration),
      "--warmup", format_duration(config.warmup), "--quiet"};
  if (w.lifetime) args.insert(args.end(), {"--lifetime", std::to_string(*w.lifetime)});
  if (point.series.load == LoadMode::open) {
    args.insert(args.end(), {"--rate", fmt::format("{}", rate)});
    // Exit 0 when the rate could not be kept: the report's status (overloaded) decides.
    args.push_back("--allow-overload");
    if (config.late_tolerance) {
      args.insert(args.end(), {"--late-tolerance", format_duration(*config.late_tolerance)});
    }
  } else {
    args.insert(args.end(), {"--depth", std::to_string(config.depth)});
  }
  if (point.series.busy_poll) args.push_back("--busy-poll");
  return args;
}

// How a generator ended when that was not a plain exit 0, e.g. "loadgen was killed by signal 11
// (Segmentation fault)"; empty for exit 0.
std::string generator_end(const Subprocess& child, const std::optional<int>& code,
                          std::chrono::milliseconds budget, const std::string& who) {
  if (!code) {
    return fmt::format("{} was killed by the sweep after {} s: it did not finish in time", who,
                       std::chrono::duration_cast<std::chrono::seconds>(budget).count());
  }
  if (*code == 0) return "";
  return fmt::format("{} {}", who, exit_description(*code, child.terminating_signal()));
}

// One local loadgen, pinned by the placement, that signals the server at its window's edges.
GeneratorOutcome run_local_generator(const PointSpec& point, const SweepConfig& config,
                                     const Tools& tools, const std::vector<pid_t>& signal_pids,
                                     const std::string& target, int generator_cpu,
                                     const std::filesystem::path& report_path,
                                     const std::atomic<bool>& stop) {
  std::vector<std::string> argv = {
      tools.loadgen, "--target",          target, "--cpu", std::to_string(generator_cpu),
      "--json",      report_path.string()};
  for (const pid_t pid : signal_pids)
    argv.insert(argv.end(), {"--signal-pid", std::to_string(pid)});
  // Latency over the window, one HdrHistogram interval per second (stalls, drift).
  auto hlog = report_path;
  argv.insert(argv.end(), {"--hlog", hlog.replace_extension().replace_extension(".hlog").string()});
  const auto args =
      load_args(point, config, point.idle, point.workload.active, offered_rate(point, config));
  argv.insert(argv.end(), args.begin(), args.end());
  SpawnOptions options;
  options.capture_stderr = true;
  auto loadgen = Subprocess::spawn(argv, options);
  const auto budget = std::chrono::duration_cast<std::chrono::milliseconds>(
      config.warmup + config.duration + std::chrono::seconds(90));
  const auto code = wait_for(loadgen, budget, stop);
  GeneratorOutcome outcome;
  outcome.exit_codes = {code};
  outcome.finished = code.has_value();
  outcome.ended = generator_end(loadgen, code, budget, "loadgen");
  outcome.error = last_line(loadgen.drain_stderr(1s));
  outcome.report = read_loadgen_report_file(report_path);
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
  const auto allowance =
      std::chrono::milliseconds(2000 + (point.idle + point.workload.active) / 10);
  const std::int64_t start_at = wall_ns() + std::chrono::nanoseconds(allowance).count();
  std::vector<Subprocess> generators;
  for (std::size_t g = 0; g < count; ++g) {
    const auto share = [&](std::uint64_t total) {
      return total / count + (g < total % count ? 1 : 0);
    };
    auto args = load_args(point, config, share(point.idle), share(point.workload.active),
                          offered_rate(point, config) / static_cast<double>(count));
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
    WindowSampler::edge();
  };
  signal_at(config.warmup);
  signal_at(config.warmup + config.duration);

  GeneratorOutcome outcome;
  outcome.remote = true;
  std::vector<LoadgenReport> reports;
  for (auto& generator : generators) {
    std::string out;
    constexpr auto kBudget = std::chrono::milliseconds(120s);
    const auto code = wait_for(generator, kBudget, stop, &out);
    if (!code) outcome.finished = false;
    const std::string end =
        generator_end(generator, code, kBudget, fmt::format("generator {}", reports.size() + 1));
    if (!end.empty() && outcome.ended.empty()) outcome.ended = end;
    out += generator.drain_stdout(2s);
    outcome.exit_codes.push_back(code);
    const std::string why = last_line(generator.drain_stderr(1s));
    if (!why.empty()) outcome.error += (outcome.error.empty() ? "" : "; ") + why;
    auto report = parse_loadgen_report(out);
    if (!report) {
      outcome.error =
          fmt::format("generator {} wrote no report: {}", reports.size() + 1, outcome.error);
      return outcome;
    }
    reports.push_back(std::move(*report));
  }
  outcome.report = merge_generator_reports(reports, report_path);
  return outcome;
}

// Starts echo-server and reads its "listening" line; without one the point ends here.
struct ServerStart {
  std::optional<Subprocess> server;
  std::string target;  // host:port
  PointStatus status = PointStatus::ok;
  std::string reason;  // why it did not start
};

ServerStart start_server(const PointSpec& point, const SweepConfig& config, const Tools& tools) {
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
  ServerStart start;
  try {
    start.server.emplace(Subprocess::spawn(server_argv, server_options));
  } catch (const std::exception& e) {
    return {std::nullopt, "", PointStatus::failed,
            fmt::format("cannot start echo-server: {}", e.what())};
  }
  const auto announce = start.server->read_line(10s);
  if (!announce || announce->rfind("listening ", 0) != 0) {
    const auto exit_code = start.server->wait(5s);  // it exited, or is killed below
    start.server->send_signal(SIGKILL);
    const std::string why = last_line(start.server->drain_stderr(1s));
    start.status = exit_code == kExitUnsupported ? PointStatus::unsupported : PointStatus::failed;
    start.reason =
        exit_code == kExitUnsupported  // e.g. no io_uring
            ? why
            : fmt::format("echo-server did not start ({}): {}",
                          exit_code
                              ? exit_description(*exit_code, start.server->terminating_signal())
                              : "no listening line within 10 s; killed by the sweep",
                          why);
    return start;
  }
  start.target = announce->substr(std::string("listening ").size());
  return start;
}

// The local generator or the remote ones; an exception is the outcome's error.
GeneratorOutcome run_generators(const PointSpec& point, const SweepConfig& config,
                                const Tools& tools, Subprocess& server, const std::string& target,
                                const std::vector<pid_t>& signal_pids,
                                const std::filesystem::path& report_path,
                                const std::atomic<bool>& stop) {
  const bool shared = point.series.placement == Placement::shared;
  const int generator_cpu = shared ? config.server_cpu : config.generator_cpu;
  try {
    return config.generator_commands.empty()
               ? run_local_generator(point, config, tools, signal_pids, target, generator_cpu,
                                     report_path, stop)
               : run_remote_generators(point, config, tools, server, target, report_path, stop);
  } catch (const std::exception& e) {
    GeneratorOutcome outcome;
    outcome.error = e.what();
    return outcome;
  }
}

// Stops the server and keeps its snapshots: one JSON line per SIGUSR1, and one on exit.
ServerEnd stop_and_collect_snapshots(Subprocess& server) {
  constexpr auto kGrace = 10s;
  ServerEnd end;
  server.send_signal(SIGTERM);
  end.exit_code = server.wait(kGrace);
  if (!end.exit_code) {
    server.send_signal(SIGKILL);
    end.killed_after = kGrace;
    end.exit_code = server.wait(5s);
  }
  end.signal = server.terminating_signal();
  std::istringstream out(server.drain_stdout(2s));
  for (std::string line; std::getline(out, line);) {
    const auto snapshot = Json::parse(line, nullptr, false);
    if (!snapshot.is_object() || snapshot.value("kind", "") != StatsSnapshot::kKind) continue;
    try {
      end.snapshots.push_back(snapshot.get<StatsSnapshot>());
    } catch (const Json::exception&) {
      // not a snapshot this sweep can read: left out, as a line that is not JSON is
    }
  }
  return end;
}

// With churn: the server's CPU per connection loadgen opened in the window.
void add_cost_per_connection(PointMeasurement& m) {
  if (!m.server || !m.connections || m.connections->opened == 0) return;
  m.server->cpu_us_per_conn = m.server->cpu_us / static_cast<double>(m.connections->opened);
}

PointRecord ended(PointRecord record, PointStatus status, std::string reason) {
  record.status = status;
  record.reason = std::move(reason);
  return record;
}

// The problem line that says why loadgen gave `status`: the first that mentions one of `words`,
// else the first; a plain sentence when there is none.
std::string problem_for(const std::vector<std::string>& problems,
                        std::initializer_list<std::string_view> words, std::string_view fallback) {
  for (const auto& problem : problems) {
    for (const auto word : words) {
      if (problem.find(word) != std::string::npos) return problem;
    }
  }
  return problems.empty() ? std::string(fallback) : problems.front();
}

// "insufficient: <why>", once.
std::string with_prefix(std::string_view prefix, std::string text) {
  return text.starts_with(prefix) ? text : std::string(prefix) + text;
}

}  // namespace

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

LoadgenFigures figures_of(const LoadgenReport& report) { return figures_from(report); }

std::string server_end_text(const ServerEnd& end) {
  if (end.killed_after) {
    return fmt::format("echo-server was killed by the sweep after {} s: it did not exit on SIGTERM",
                       end.killed_after->count());
  }
  if (!end.exit_code) return "echo-server did not end, even on SIGKILL";
  return "echo-server " + exit_description(*end.exit_code, end.signal);
}

PointRecord point_record(const PointSpec& point, const SweepConfig& config) {
  const bool shared = point.series.placement == Placement::shared;
  PointRecord record;
  record.id = point.id;
  record.series = point.series.name;
  record.load = point.series.load;
  record.placement = point.series.placement;
  record.busy_poll = point.series.busy_poll;
  record.backend = point.backend;
  record.idle = point.idle;
  record.active = point.workload.active;
  record.size = point.workload.size;
  record.lifetime = point.workload.lifetime;
  if (point.series.load == LoadMode::open) {
    record.rate = point.workload.rate;
    record.rate_fraction = point.workload.rate_fraction;
  }
  record.total_fds = point.idle + point.workload.active;
  record.repeat = point.repeat;
  record.server_cpu = config.server_cpu;
  if (config.generator_commands.empty())
    record.generator_cpu = shared ? config.server_cpu : config.generator_cpu;
  record.generators = std::max<std::size_t>(config.generator_commands.size(), 1);
  return record;
}

PointRecord measured_record(PointRecord record, const GeneratorOutcome& outcome,
                            const ServerEnd& server, bool stopped) {
  record.exits = PointExits{outcome.exit_codes, outcome.remote, server.exit_code};
  if (stopped)
    return ended(std::move(record), PointStatus::interrupted, "the sweep was interrupted");
  if (!outcome.finished) return ended(std::move(record), PointStatus::failed, outcome.ended);
  if (!outcome.report) {
    return ended(
        std::move(record), PointStatus::failed,
        fmt::format("loadgen wrote no report{}: {}",
                    outcome.ended.empty() ? "" : " (" + outcome.ended + ")", outcome.error));
  }
  if (server.exit_code != 0 || server.killed_after) {
    return ended(std::move(record), PointStatus::failed, server_end_text(server));
  }
  std::vector<const StatsSnapshot*> window;
  for (const auto& s : server.snapshots) {
    if (s.at_signal()) window.push_back(&s);
  }
  const LoadgenFigures& report = *outcome.report;
  record.measured = report.measured;
  if (record.measured && window.size() >= 2) {
    record.measured->server = server_window(*window[0], *window[1], record.size);
    add_cost_per_connection(*record.measured);
  }
  if (report.status == LoadgenStatus::insufficient) {
    return ended(std::move(record), PointStatus::failed,
                 with_prefix("insufficient: ",
                             problem_for(report.problems, {"insufficient", "too few"},
                                         "loadgen completed too few echoes in the window")));
  }
  if (report.status != LoadgenStatus::ok && report.status != LoadgenStatus::overloaded) {
    return ended(std::move(record), PointStatus::failed,
                 report.problems.empty() ? fmt::format("loadgen: {}", outcome.error)
                                         : report.problems.front());
  }
  if (window.size() < 2 || !record.measured) {
    return ended(std::move(record), PointStatus::failed,
                 "the server wrote fewer than two window snapshots");
  }
  const ServerWindow& server_part = *record.measured->server;
  if (const auto floor = default_min_echoes(record.size);
      server_part.messages < static_cast<double>(floor)) {
    return ended(std::move(record), PointStatus::failed,
                 fmt::format("insufficient: the server echoed {:.3g} messages of {} bytes in its "
                             "{:.3g} s window, fewer than the {} a window needs",
                             server_part.messages, record.size, server_part.seconds, floor));
  }
  if (report.status == LoadgenStatus::overloaded) {
    return ended(std::move(record), PointStatus::overloaded,
                 problem_for(report.problems, {"overload", "rate", "behind", "late"},
                             "loadgen could not keep the requested rate"));
  }
  record.status = PointStatus::ok;
  return record;
}

std::optional<ProcessWindow> process_window(const std::vector<WindowSampler::Sample>& samples,
                                            const std::optional<PointMeasurement>& measured,
                                            std::size_t message_size) {
  if (samples.size() < 2) return std::nullopt;
  const auto& first = samples.front();
  const auto& last = samples.back();
  ProcessWindow w;
  w.seconds = static_cast<double>(last.monotonic_ns - first.monotonic_ns) / 1e9;
  w.cpu_us = static_cast<double>(last.usage.cpu_ns - first.usage.cpu_ns) / 1e3;
  w.cpu_share = w.seconds > 0 ? w.cpu_us / 1e6 / w.seconds : 0.0;
  if (measured) {
    const double messages = measured->throughput_msgs_per_s * w.seconds;
    if (messages >= static_cast<double>(default_min_echoes(message_size)))
      w.cpu_us_per_msg = w.cpu_us / messages;
  }
  w.rss_bytes = last.usage.rss_bytes;
  w.open_fds = last.usage.open_fds;
  w.threads = last.usage.threads;
  w.processes = last.usage.processes;
  return w;
}

// A foreign server's window as far as it can be seen from outside: CPU from /proc, messages as
// loadgen completed them; every counter only our servers keep is null.
ServerWindow foreign_window(const ProcessWindow& outside, const PointMeasurement& measured) {
  ServerWindow w;
  w.seconds = outside.seconds;
  w.cpu_us = outside.cpu_us;
  w.cpu_share = outside.cpu_share;
  w.messages = measured.throughput_msgs_per_s * outside.seconds;
  w.cpu_us_per_msg = outside.cpu_us_per_msg;
  return w;
}

// Connections a foreign server refused or closed (select-based servers past FD_SETSIZE) make the
// point unsupported by that server, with what was observed; anything else is a failure.
PointRecord foreign_record(PointRecord record, const GeneratorOutcome& outcome,
                           const std::optional<std::string>& stop_problem,
                           const std::optional<ProcessWindow>& outside, bool stopped) {
  record.exits = PointExits{outcome.exit_codes, outcome.remote, std::nullopt};
  if (stopped)
    return ended(std::move(record), PointStatus::interrupted, "the sweep was interrupted");
  if (!outcome.finished) return ended(std::move(record), PointStatus::failed, outcome.ended);
  if (!outcome.report) {
    return ended(std::move(record), PointStatus::failed,
                 fmt::format("loadgen wrote no report: {}", outcome.error));
  }
  const LoadgenFigures& report = *outcome.report;
  record.measured = report.measured;
  if (record.measured && outside) {
    record.measured->server_proc = outside;
    record.measured->server = foreign_window(*outside, *record.measured);
    add_cost_per_connection(*record.measured);
  }
  // A server still running that closed active connections turned them away (python-select
  // past FD_SETSIZE accepts, then closes); one that died is a failure below.
  const auto mentions = [&](std::string_view word) {
    return std::any_of(report.problems.begin(), report.problems.end(),
                       [&](const std::string& p) { return p.find(word) != std::string::npos; });
  };
  const bool refused =
      report.status == LoadgenStatus::connect_failed ||
      (report.status == LoadgenStatus::errors &&
       (problem_for(report.problems, {"dropped", "idle connections"}, "").find("idle") !=
            std::string::npos ||
        (!stop_problem && mentions("active connections were lost"))));
  if (refused) {
    std::string observed;
    for (const auto& problem : report.problems)
      observed += (observed.empty() ? "" : "; ") + problem;
    return ended(std::move(record), PointStatus::unsupported,
                 "the server refused connections: " + observed);
  }
  if (stop_problem) return ended(std::move(record), PointStatus::failed, *stop_problem);
  if (report.status == LoadgenStatus::insufficient) {
    return ended(std::move(record), PointStatus::failed,
                 with_prefix("insufficient: ", problem_for(report.problems, {"insufficient"},
                                                           "too few echoes in the window")));
  }
  if (report.status != LoadgenStatus::ok && report.status != LoadgenStatus::overloaded) {
    return ended(std::move(record), PointStatus::failed,
                 report.problems.empty() ? enum_name(report.status) : report.problems.front());
  }
  if (!record.measured || !outside) {
    return ended(std::move(record), PointStatus::failed,
                 "the server was not sampled at both edges of the window (/proc)");
  }
  if (!record.measured->server->cpu_us_per_msg) {
    return ended(std::move(record), PointStatus::failed,
                 fmt::format("insufficient: fewer than {} messages in the window",
                             default_min_echoes(record.size)));
  }
  if (report.status == LoadgenStatus::overloaded) {
    return ended(std::move(record), PointStatus::overloaded,
                 problem_for(report.problems, {"overload"}, "could not keep the rate"));
  }
  record.status = PointStatus::ok;
  return record;
}

// The processes loadgen signals at its window's edges: echo-server (its snapshots) when the
// server keeps them, and this sweep when a sampler, armed here, measures the server from outside.
std::vector<pid_t> window_signals(WindowSampler* sampler, pid_t server, bool snapshots) {
  std::vector<pid_t> pids;
  if (snapshots) pids.push_back(server);
  if (sampler) {
    sampler->arm(server);
    pids.push_back(::getpid());
  }
  return pids;
}

PointRecord run_foreign_point(PointRecord record, const ForeignServer& server,
                              const PointSpec& point, const SweepConfig& config, const Tools& tools,
                              const std::filesystem::path& points_dir,
                              const std::atomic<bool>& stop, WindowSampler* sampler) {
  auto start = start_foreign_server(server, config.server_cpu, 10s);
  if (!start.process) return ended(std::move(record), PointStatus::failed, *start.reason);
  const auto signal_pids = window_signals(sampler, start.process->pid(), false);
  const auto outcome = run_generators(point, config, tools, *start.process, start.target,
                                      signal_pids, points_dir / (point.id + ".loadgen.json"), stop);
  const auto samples = sampler ? sampler->disarm() : std::vector<WindowSampler::Sample>{};
  const auto stop_problem = stop_foreign_server(*start.process, server.name);
  const auto measured = outcome.report ? outcome.report->measured : std::nullopt;
  return foreign_record(std::move(record), outcome, stop_problem,
                        process_window(samples, measured, point.workload.size), stop.load());
}

PointRecord run_point(const PointSpec& point, const SweepConfig& config, const Tools& tools,
                      const std::filesystem::path& points_dir, const std::atomic<bool>& stop,
                      WindowSampler* sampler) {
  PointRecord record = point_record(point, config);
  if (const auto* foreign = find_server(config.servers, point.backend)) {
    return run_foreign_point(std::move(record), *foreign, point, config, tools, points_dir, stop,
                             sampler);
  }
  const bool churn = point.workload.lifetime.has_value();
  if (point.backend == backend_name("select") &&
      !select_supports(point.idle, point.workload.active, churn)) {
    return ended(std::move(record), PointStatus::unsupported,
                 fmt::format("select cannot watch descriptors >= FD_SETSIZE ({}): {} "
                             "idle + {} active connections need more{}",
                             FD_SETSIZE, point.idle, point.workload.active,
                             churn ? " (with churn a replacement may be accepted before its "
                                     "predecessor's close is seen: twice the active ones)"
                                   : ""));
  }
  ServerStart start = start_server(point, config, tools);
  if (!start.server || start.status != PointStatus::ok)
    return ended(std::move(record), start.status, start.reason);

  const auto signal_pids = window_signals(sampler, start.server->pid(), true);
  const auto outcome = run_generators(point, config, tools, *start.server, start.target,
                                      signal_pids, points_dir / (point.id + ".loadgen.json"), stop);
  const auto samples = sampler ? sampler->disarm() : std::vector<WindowSampler::Sample>{};
  const ServerEnd end = stop_and_collect_snapshots(*start.server);
  const Json snapshots = {
      {"schema_version", 1}, {"kind", "echo-server-snapshots"}, {"snapshots", end.snapshots}};
  write_file_atomically(points_dir / (point.id + ".server.json"), snapshots.dump(1) + "\n");
  auto measured = measured_record(std::move(record), outcome, end, stop.load());
  if (measured.measured) {
    measured.measured->server_proc =
        process_window(samples, measured.measured, point.workload.size);
  }
  return measured;
}

}  // namespace muxbench
