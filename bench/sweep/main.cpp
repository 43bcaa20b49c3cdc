// sweep: every backend x growing idle connection counts; JSON/CSV, summary and charts.
#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "bench/sweep/analysis.hpp"
#include "bench/sweep/point_runner.hpp"
#include "bench/sweep/sweep_config.hpp"
#include "common/atomic_file.hpp"
#include "common/backend_table.hpp"
#include "common/cpu_affinity.hpp"
#include "common/duration.hpp"
#include "common/environment.hpp"
#include "common/exit_codes.hpp"
#include "common/fd_limit.hpp"
#include "common/stop_flag.hpp"
#include "common/subprocess.hpp"
#include "common/usage_error.hpp"
#include "model/sweep_document.hpp"
#include "model/sweep_json_helpers.hpp"

namespace muxbench {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;

fs::path own_directory() { return fs::read_symlink("/proc/self/exe").parent_path(); }

std::string run_id() {
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  std::string stamp = utc_timestamp();  // 2026-11-22T21:39:28Z -> 20261122T213928Z
  std::erase_if(stamp, [](char c) { return c == '-' || c == ':'; });
  return fmt::format("{}-{}", stamp, host);
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

template <class T>
std::vector<T> parse_list(const std::string& option, const std::string& text) {
  std::vector<T> values;
  for (const auto& item : CLI::detail::split(text, ',')) {
    T value{};
    if (item.empty() || !CLI::detail::lexical_cast(item, value)) {
      throw UsageError(fmt::format("{} {}: cannot read '{}'", option, text, item));
    }
    values.push_back(value);
  }
  return values;
}

std::string clock_text(double seconds) {
  const auto whole = static_cast<long>(seconds + 0.5);
  return whole >= 60 ? fmt::format("{}m{:02}s", whole / 60, whole % 60) : fmt::format("{}s", whole);
}

class ProgressBar {
 public:
  ProgressBar(std::size_t total, std::size_t done)
      : total_(total), done_(done), start_(Clock::now()), started_with_(done) {}
  void show(const std::string& what) {
    const double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
    const std::size_t finished_here = done_ - started_with_;
    const std::string eta = finished_here
                                ? clock_text(elapsed / static_cast<double>(finished_here) *
                                             static_cast<double>(total_ - done_))
                                : "?";
    constexpr int kWidth = 24;
    const int filled = total_ ? static_cast<int>(kWidth * done_ / total_) : kWidth;
    fmt::print(stderr, "{}sweep [{}{}] {}/{} {} | elapsed {} | ETA {}{}", tty_ ? "\r\033[K" : "",
               std::string(static_cast<std::size_t>(filled), '#'),
               std::string(static_cast<std::size_t>(kWidth - filled), '.'), done_, total_, what,
               clock_text(elapsed), eta, tty_ ? "" : "\n");
    std::fflush(stderr);
  }
  void advance() { ++done_; }
  void finish() {
    if (tty_) fmt::print(stderr, "\n");
  }

 private:
  std::size_t total_, done_;
  Clock::time_point start_;
  std::size_t started_with_;
  bool tty_ = ::isatty(STDERR_FILENO) != 0;
};

// The command line as given.
struct Options {
  bool quick = false, full = false, no_plots = false;
  std::string backends, idle, series, out, resume, duration, warmup, micro_filter;
  std::uint64_t active = 0;
  std::size_t size = 0;
  unsigned repeats = 0, depth = 0;
  double rate = 0;
  std::string server_command;
  std::vector<std::string> generator_commands;
  Tools tools;
  std::string command;  // argv joined, recorded in sweep.json

  bool gives_grid() const {
    return !backends.empty() || !idle.empty() || !series.empty() || active || size || depth ||
           repeats || rate > 0 || !duration.empty() || !warmup.empty() || full || !out.empty() ||
           !server_command.empty() || !generator_commands.empty();
  }
};

std::string backend_names() {
  std::string names;
  for (const auto& backend : kBackendTable) {
    if (!names.empty()) names += ',';
    names += backend.name;
  }
  return names;
}

void add_options(CLI::App& app, Options& o) {
  auto* quick_flag = app.add_flag("--quick", o.quick, "the default: a few minutes, one repeat");
  app.add_flag("--full", o.full,
               "3 repeats, 5 s windows, more idle counts and placements, full wait-bench")
      ->excludes(quick_flag);
  app.add_option("--backends", o.backends, "comma-separated: " + backend_names());
  app.add_option("--idle", o.idle,
                 "comma-separated idle connection counts (default: 0 ... fd limit)");
  app.add_option("--active", o.active, "active connections per point (default 10)");
  app.add_option("--size", o.size, "bytes per message (default 64)");
  app.add_option("--depth", o.depth, "closed loop: messages in flight per connection (default 1)");
  app.add_option("--duration", o.duration, "measured window per point (quick 1s, full 3s)");
  app.add_option("--warmup", o.warmup, "warm-up per point (quick 500ms, full 1s)");
  app.add_option("--repeats", o.repeats, "runs per point (quick 1, full 3)");
  app.add_option("--rate", o.rate, "open loop: aggregate msg/s (default 10000)")
      ->check(CLI::PositiveNumber);
  app.add_option("--series", o.series,
                 "comma-separated series: closed-split, open-split-busy, open-split, open-shared");
  app.add_option("--out", o.out, "the run directory (default: results/<UTC time>-<host>)");
  app.add_option("--resume", o.resume,
                 "finish an interrupted run in this directory with its own configuration");
  app.add_option("--micro-filter", o.micro_filter,
                 "wait-bench --benchmark_filter for this run, or 'none'");
  app.add_flag("--no-plots", o.no_plots, "skip plots/plot.py");
  app.add_option("--server-command", o.server_command,
                 "start the server through this shell template, which must exec it: {echo_server} "
                 "{args}, e.g. 'ip netns exec srv {echo_server} --bind 10.0.0.1 {args}'");
  app.add_option("--generator", o.generator_commands,
                 "a load generator on another host (repeat for several): a shell template with "
                 "{loadgen} {port} {args}, e.g. 'ssh client1 /opt/muxbench/loadgen --target "
                 "10.0.0.1:{port} {args}'; each gets its share of the connections and the rate");
  app.add_option("--echo-server", o.tools.echo_server, "the echo-server binary")
      ->capture_default_str();
  app.add_option("--loadgen", o.tools.loadgen, "the loadgen binary")->capture_default_str();
  app.add_option("--wait-bench", o.tools.wait_bench, "the wait-bench binary")
      ->capture_default_str();
}

Tools default_tools() {
  Tools tools;
  const fs::path bin = own_directory();
  tools.echo_server = (bin / "echo-server").string();
  tools.loadgen = (bin / "loadgen").string();
  tools.wait_bench = (bin / "wait-bench").string();
  tools.claims = (bin / "claims").string();
  tools.micro_report = MUXBENCH_SOURCE_DIR "/bench/micro_report.py";
  tools.plot = MUXBENCH_SOURCE_DIR "/plots/plot.py";
  return tools;
}

// What the sweep will do: its directory, its document (new or resumed) and its grid.
struct Plan {
  fs::path dir;
  SweepDocument sweep;
  std::set<std::string> done;  // points already measured (resume)
  std::vector<PointSpec> grid;
};

// The series the options name, in the order given.
std::vector<Series> chosen_series(const std::string& names, std::uint64_t fd_limit) {
  const auto all = default_config(true, fd_limit, allowed_cpus()).series;
  std::vector<Series> chosen;
  for (const auto& name : parse_list<std::string>("--series", names)) {
    const auto it =
        std::find_if(all.begin(), all.end(), [&](const Series& s) { return s.name == name; });
    if (it == all.end()) throw UsageError(fmt::format("--series: unknown series '{}'", name));
    chosen.push_back(*it);
  }
  return chosen;
}

// The grid: the defaults for this machine with the options applied and checked.
SweepConfig configure(const Options& o, const FdLimit& limit) {
  SweepConfig config = default_config(o.full, limit.soft, allowed_cpus());
  if (!o.backends.empty()) config.backends = parse_list<std::string>("--backends", o.backends);
  for (const auto& b : config.backends) {
    if (!find_backend_info(b)) throw UsageError(fmt::format("--backends: unknown backend '{}'", b));
  }
  if (o.active) config.active = o.active;
  if (!o.idle.empty())
    config.idle = parse_list<std::uint64_t>("--idle", o.idle);
  else if (o.active)
    config.idle = default_idle_grid(limit.soft, config.active, o.full);
  const std::uint64_t top = max_idle(limit.soft, config.active);
  for (const auto n : config.idle) {
    if (n > top) {
      throw UsageError(
          fmt::format("--idle {}: the fd limit ({}) allows at most {} idle beside {} "
                      "active; raise it (ulimit -Hn / LimitNOFILE=)",
                      n, limit.soft, top, config.active));
    }
  }
  if (o.size) config.size = o.size;
  if (o.depth) config.depth = o.depth;
  if (o.repeats) config.repeats = o.repeats;
  if (o.rate > 0) config.rate = o.rate;
  if (!o.duration.empty()) config.duration = duration_option("--duration", o.duration, false);
  if (!o.warmup.empty()) config.warmup = duration_option("--warmup", o.warmup, false);
  if (!o.series.empty()) config.series = chosen_series(o.series, limit.soft);
  if (!o.micro_filter.empty()) config.micro_filter = o.micro_filter;
  config.server_command = o.server_command;
  config.generator_commands = o.generator_commands;
  if (!o.generator_commands.empty() && config.active < o.generator_commands.size()) {
    throw UsageError(fmt::format("--active {} is fewer than the {} generators", config.active,
                                 o.generator_commands.size()));
  }
  if (!o.backends.empty() || !o.idle.empty() || !o.series.empty()) config.mode = "custom";
  return config;
}

Plan new_plan(const Options& o, const FdLimit& limit) {
  Plan plan;
  plan.sweep.config = configure(o, limit);
  plan.dir = fs::absolute(o.out.empty() ? fs::path("results") / run_id() : fs::path(o.out));
  if (fs::exists(plan.dir / "sweep.json")) {
    throw UsageError(
        fmt::format("{} already holds a sweep: use --resume or another --out", plan.dir.string()));
  }
  plan.sweep.run_id = plan.dir.filename().string();
  plan.sweep.command = o.command;
  plan.sweep.started_utc = utc_timestamp();
  plan.sweep.environment = describe_environment();
  return plan;
}

// An interrupted (or finished) run, its interrupted points to be measured again.
Plan resumed_plan(const Options& o) {
  if (o.gives_grid()) {
    throw UsageError("--resume takes the run's own configuration; give no grid options with it");
  }
  Plan plan;
  plan.dir = fs::absolute(o.resume);
  std::ifstream in(plan.dir / "sweep.json");
  if (!in) throw UsageError(fmt::format("--resume {}: no sweep.json there", o.resume));
  const Json json = Json::parse(in, nullptr, false);
  if (!json.is_object() || json.value("kind", "") != SweepDocument::kKind) {
    throw UsageError(fmt::format("--resume {}: sweep.json is not a sweep", o.resume));
  }
  try {
    plan.sweep = json.get<SweepDocument>();
  } catch (const Json::exception& e) {
    throw UsageError(fmt::format("--resume {}: cannot read sweep.json: {}", o.resume, e.what()));
  }
  std::erase_if(plan.sweep.points, [](const PointRecord& p) {
    return p.status == PointStatus::interrupted;  // measured again
  });
  for (const auto& p : plan.sweep.points) plan.done.insert(p.id);
  plan.sweep.resumed_utc.push_back(utc_timestamp());
  return plan;
}

void check_tools(const Tools& tools) {
  for (const auto& tool : {tools.echo_server, tools.loadgen}) {
    if (::access(tool.c_str(), X_OK) != 0)
      throw UsageError(fmt::format("{} is not an executable", tool));
  }
}

void save(Plan& plan) {
  plan.sweep.aggregates = aggregate_points(plan.sweep.points);
  write_file_atomically(plan.dir / "sweep.json", Json(plan.sweep).dump(1) + "\n");
  write_file_atomically(plan.dir / "sweep.csv", points_csv(plan.sweep.points));
}

StepOutcome step_outcome(StepStatus status, std::optional<std::string> file = std::nullopt,
                         std::optional<std::string> reason = std::nullopt) {
  return {status, std::move(file), std::move(reason)};
}
StepOutcome step_failed(std::string reason) {
  return step_outcome(StepStatus::failed, std::nullopt, std::move(reason));
}

// wait-bench into micro.json (Google Benchmark's JSON as is), then micro.csv and the table.
StepOutcome run_micro(const Plan& plan, const Tools& tools) {
  const SweepConfig& config = plan.sweep.config;
  if (config.micro_filter == "none") return step_outcome(StepStatus::skipped);
  const fs::path out = plan.dir / "micro.json";
  std::vector<std::string> argv = {
      tools.wait_bench,
      "--cpu",
      std::to_string(config.server_cpu),
      fmt::format("--benchmark_min_time={}", config.micro_min_time),
      fmt::format("--benchmark_repetitions={}", config.micro_repetitions),
      "--benchmark_out=" + (plan.dir / "micro.json.partial").string(),
      "--benchmark_out_format=json"};
  if (!config.micro_filter.empty()) argv.push_back("--benchmark_filter=" + config.micro_filter);
  SpawnOptions options;
  options.capture_stderr = true;
  auto bench = Subprocess::spawn(argv, options);
  std::optional<int> code;
  bool forwarded = false;
  while (!(code = bench.wait(std::chrono::milliseconds(200)))) {
    bench.drain_stdout(std::chrono::milliseconds(0));  // keep its pipe from filling
    if (stop_requested().load() && !forwarded) forwarded = bench.send_signal(SIGINT);
  }
  if (stop_requested().load()) return step_outcome(StepStatus::interrupted);
  if (*code != 0) return step_failed(bench.drain_stderr(std::chrono::seconds(1)));
  fs::rename(plan.dir / "micro.json.partial", out);
  const auto derived = run_command(
      {tools.python, tools.micro_report, out.string(), "--csv", (plan.dir / "micro.csv").string(),
       "--table", (plan.dir / "micro_table.md").string()},
      std::chrono::seconds(60));
  if (derived.exit_code != 0) return step_failed("micro_report.py: " + derived.err);
  return step_outcome(StepStatus::ok, "micro.json");
}

// The tutorial claims measured on this machine (bench/claims.cpp) into claims.json.
StepOutcome run_claims(const Plan& plan, const Tools& tools) {
  const auto result = run_command({tools.claims, "--json", (plan.dir / "claims.json").string(),
                                   "--echo-server", tools.echo_server},
                                  std::chrono::minutes(2));
  if (result.exit_code != 0) return step_failed(result.err);
  return step_outcome(StepStatus::ok, "claims.json");
}

// wait-bench and the claims, unless an earlier attempt of this run did them; true if one failed.
bool run_steps(Plan& plan, const Tools& tools) {
  bool failed = false;
  const SweepConfig& config = plan.sweep.config;
  if (!plan.sweep.micro || plan.sweep.micro->status != StepStatus::ok) {
    fmt::print(stderr, "sweep: wait-bench (micro-benchmarks){}\n",
               config.micro_filter.empty() ? "" : " filtered: " + config.micro_filter);
    plan.sweep.micro = run_micro(plan, tools);
    failed |= plan.sweep.micro->status == StepStatus::failed;
    save(plan);
  }
  if (!stop_requested().load() &&
      (!plan.sweep.claims || plan.sweep.claims->status != StepStatus::ok)) {
    fmt::print(stderr, "sweep: claims (semantics demonstrations)\n");
    plan.sweep.claims = run_claims(plan, tools);
    failed |= plan.sweep.claims->status == StepStatus::failed;
    save(plan);
  }
  return failed;
}

// Every point not measured yet, saving after each; stops at an interrupt.
void run_points(Plan& plan, const Tools& tools) {
  ProgressBar bar(plan.grid.size(), plan.done.size());
  for (const auto& point : plan.grid) {
    if (stop_requested().load()) break;
    if (plan.done.contains(point.id)) continue;
    bar.show(fmt::format("{} {} idle={}", point.series.name, point.backend, point.idle));
    auto record = run_point(point, plan.sweep.config, tools, plan.dir / "points", stop_requested());
    if (record.status == PointStatus::interrupted) break;
    plan.sweep.points.push_back(std::move(record));
    bar.advance();
    save(plan);
  }
  bar.finish();
}

// summary.md and summary.json from the points and wait-bench, the charts, results/latest.
void report(const Plan& plan, const Tools& tools, bool plots) {
  const Summary summary =
      summarise(plan.sweep, read_micro_wait_costs(read_text(plan.dir / "micro.json")),
                read_text(plan.dir / "micro_table.md"));
  write_file_atomically(plan.dir / "summary.md", summary.markdown);
  write_file_atomically(plan.dir / "summary.json", Json(summary.numbers).dump(2) + "\n");
  if (plots) {
    const auto charts = run_command(
        {tools.python, tools.plot, plan.dir.string(), "--echo-server", tools.echo_server},
        std::chrono::minutes(5));
    if (charts.exit_code != 0) {
      fmt::print(stderr, "sweep: plot.py failed (exit {}): {}\n",
                 charts.exit_code ? std::to_string(*charts.exit_code) : "timeout", charts.err);
    }
  }
  // results/latest -> this run, replaced atomically.
  const fs::path latest = plan.dir.parent_path() / "latest";
  const fs::path temp = plan.dir.parent_path() / ".latest.tmp";
  std::error_code ignored;
  fs::remove(temp, ignored);
  fs::create_directory_symlink(plan.dir.filename(), temp, ignored);
  if (!ignored) fs::rename(temp, latest, ignored);
}

// Runs the plan to its end (or an interrupt) and reports; the process's exit code.
int run(Plan& plan, const Tools& tools, bool plots) {
  fs::create_directories(plan.dir / "points");
  write_file_atomically(plan.dir / "env.json", Json(plan.sweep.environment).dump(2) + "\n");
  plan.grid = build_grid(plan.sweep.config);
  plan.sweep.status = SweepStatus::running;
  save(plan);
  fmt::print(stderr, "sweep: {} points into {}\n", plan.grid.size(), plan.dir.string());

  bool failed = run_steps(plan, tools);
  run_points(plan, tools);
  const bool interrupted = stop_requested().load();
  for (const auto& p : plan.sweep.points) failed |= p.status == PointStatus::failed;
  plan.sweep.status = interrupted ? SweepStatus::interrupted
                      : failed    ? SweepStatus::completed_with_failures
                                  : SweepStatus::completed;
  plan.sweep.finished_utc = utc_timestamp();
  save(plan);
  report(plan, tools, plots && !interrupted);
  fmt::print(stderr, "sweep: {} -> {}\n", enum_name(*plan.sweep.status), plan.dir.string());
  if (interrupted)
    fmt::print(stderr, "sweep: finish it with: sweep --resume {}\n", plan.dir.string());
  return interrupted ? kExitInterrupted : failed ? 1 : 0;
}

}  // namespace
}  // namespace muxbench

int main(int argc, char** argv) {
  using namespace muxbench;
  CLI::App app{
      "Runs every backend over a grid of idle connection counts: echo-server on one CPU, loadgen "
      "on "
      "another, stats snapshots around each measured window, plus wait-bench. Writes "
      "results/<UTC time>-<host>/ (env.json, sweep.json, sweep.csv, micro.json, micro.csv, "
      "summary.md, charts) and points results/latest at it.\n"
      "Exit code: 0 all points ok or unsupported, 1 a point or step failed, 2 bad usage, "
      "130 interrupted (the partial run is valid; finish it with --resume).",
      "sweep"};
  Options options;
  options.tools = default_tools();
  add_options(app, options);
  Plan plan;
  try {
    app.parse(argc, argv);
    for (int i = 0; i < argc; ++i) options.command += (i ? " " : "") + std::string(argv[i]);
    const FdLimit limit = raise_fd_limit_to_hard();
    plan = options.resume.empty() ? new_plan(options, limit) : resumed_plan(options);
    check_tools(options.tools);
  } catch (const CLI::Success& success) {
    return app.exit(success);
  } catch (const CLI::ParseError& error) {
    fmt::print(stderr, "sweep: {} (see --help)\n", error.what());
    return kExitUsage;
  } catch (const UsageError& error) {
    fmt::print(stderr, "sweep: {}\n", error.what());
    return kExitUsage;
  }
  install_stop_handlers();
  try {
    return run(plan, options.tools, !options.no_plots);
  } catch (const std::exception& error) {
    fmt::print(stderr, "sweep: fatal: {}\n", error.what());
    return 1;
  }
}
