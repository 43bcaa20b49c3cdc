// sweep: every backend x growing idle connection counts; JSON/CSV, summary and charts.
#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "bench/sweep/analysis.hpp"
#include "bench/sweep/point_runner.hpp"
#include "bench/sweep/sweep_config.hpp"
#include "common/atomic_file.hpp"
#include "common/cpu_affinity.hpp"
#include "common/duration.hpp"
#include "common/environment.hpp"
#include "common/fd_limit.hpp"
#include "common/subprocess.hpp"
#include "common/usage_error.hpp"

namespace muxbench {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;

std::atomic<bool> g_stop{false};

extern "C" void on_stop_signal(int) {
  if (g_stop.exchange(true)) ::_exit(kExitInterrupted);
}

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

// Google Benchmark writes bare NaN/Infinity in aggregate rows, which is not JSON: read them as
// null.
std::string without_non_numbers(std::string text) {
  for (const char* token : {"-NaN", "NaN", "-Infinity", "Infinity", "-nan", "nan", "-inf", "inf"}) {
    const std::string value = std::string(": ") + token;
    for (auto at = text.find(value); at != std::string::npos; at = text.find(value, at + 1)) {
      const std::size_t end = at + value.size();
      if (end < text.size() && std::isalnum(static_cast<unsigned char>(text[end]))) continue;
      text.replace(at, value.size(), ": null");
    }
  }
  return text;
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

struct Run {
  fs::path dir;
  Json sweep;  // the sweep.json document
  std::vector<PointSpec> grid;
};

void save(Run& run) {
  run.sweep["aggregates"] = aggregate_points(run.sweep["points"]);
  write_file_atomically(run.dir / "sweep.json", run.sweep.dump(1) + "\n");
  write_file_atomically(run.dir / "sweep.csv", points_csv(run.sweep["points"]));
}

// wait-bench into micro.json (Google Benchmark's JSON as is), then micro.csv and the table.
Json run_micro(Run& run, const SweepConfig& config, const Tools& tools) {
  if (config.micro_filter == "none") return {{"status", "skipped"}};
  const fs::path out = run.dir / "micro.json";
  std::vector<std::string> argv = {
      tools.wait_bench,
      "--cpu",
      std::to_string(config.server_cpu),
      fmt::format("--benchmark_min_time={}", config.micro_min_time),
      fmt::format("--benchmark_repetitions={}", config.micro_repetitions),
      "--benchmark_out=" + (run.dir / "micro.json.partial").string(),
      "--benchmark_out_format=json"};
  if (!config.micro_filter.empty()) argv.push_back("--benchmark_filter=" + config.micro_filter);
  SpawnOptions options;
  options.capture_stderr = true;
  auto bench = Subprocess::spawn(argv, options);
  std::optional<int> code;
  bool forwarded = false;
  while (!(code = bench.wait(std::chrono::milliseconds(200)))) {
    bench.drain_stdout(std::chrono::milliseconds(0));  // keep its pipe from filling
    if (g_stop.load() && !forwarded) forwarded = bench.send_signal(SIGINT);
  }
  if (g_stop.load()) return {{"status", "interrupted"}};
  if (*code != 0)
    return {{"status", "failed"}, {"reason", bench.drain_stderr(std::chrono::seconds(1))}};
  fs::rename(run.dir / "micro.json.partial", out);
  const auto derived = run_command(
      {tools.python, tools.micro_report, out.string(), "--csv", (run.dir / "micro.csv").string(),
       "--table", (run.dir / "micro_table.md").string()},
      std::chrono::seconds(60));
  if (derived.exit_code != 0)
    return {{"status", "failed"}, {"reason", "micro_report.py: " + derived.err}};
  return {{"status", "ok"}, {"file", "micro.json"}};
}

// The tutorial claims measured on this machine (bench/claims.cpp) into claims.json.
Json run_claims(Run& run, const Tools& tools) {
  const auto result = run_command({tools.claims, "--json", (run.dir / "claims.json").string(),
                                   "--echo-server", tools.echo_server},
                                  std::chrono::minutes(2));
  if (result.exit_code != 0) return {{"status", "failed"}, {"reason", result.err}};
  return {{"status", "ok"}, {"file", "claims.json"}};
}

void finish_outputs(Run& run, const Tools& tools, bool plots) {
  const Json micro =
      Json::parse(without_non_numbers(read_text(run.dir / "micro.json")), nullptr, false);
  Json numbers;
  write_file_atomically(
      run.dir / "summary.md",
      summary_markdown(run.sweep, micro, read_text(run.dir / "micro_table.md"), numbers));
  write_file_atomically(run.dir / "summary.json", numbers.dump(2) + "\n");
  if (plots) {
    const auto charts =
        run_command({tools.python, tools.plot, run.dir.string()}, std::chrono::minutes(5));
    if (charts.exit_code != 0) {
      fmt::print(stderr, "sweep: plot.py failed (exit {}): {}\n",
                 charts.exit_code ? std::to_string(*charts.exit_code) : "timeout", charts.err);
    }
  }
  // results/latest -> this run, replaced atomically.
  const fs::path latest = run.dir.parent_path() / "latest";
  const fs::path temp = run.dir.parent_path() / ".latest.tmp";
  std::error_code ignored;
  fs::remove(temp, ignored);
  fs::create_directory_symlink(run.dir.filename(), temp, ignored);
  if (!ignored) fs::rename(temp, latest, ignored);
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
  bool quick = false, full = false, no_plots = false;
  std::string backends, idle, series, out, resume, duration, warmup, micro_filter;
  std::uint64_t active = 0;
  std::size_t size = 0;
  unsigned repeats = 0, depth = 0;
  double rate = 0;
  Tools tools;
  const fs::path bin = own_directory();
  tools.echo_server = (bin / "echo-server").string();
  tools.loadgen = (bin / "loadgen").string();
  tools.wait_bench = (bin / "wait-bench").string();
  tools.claims = (bin / "claims").string();
  tools.micro_report = MUXBENCH_SOURCE_DIR "/bench/micro_report.py";
  tools.plot = MUXBENCH_SOURCE_DIR "/plots/plot.py";
  auto* quick_flag = app.add_flag("--quick", quick, "the default: a few minutes, one repeat");
  app.add_flag("--full", full,
               "3 repeats, 5 s windows, more idle counts and placements, full wait-bench")
      ->excludes(quick_flag);
  app.add_option("--backends", backends,
                 "comma-separated: select,poll,epoll-lt,epoll-et,asio,uring-poll,uring");
  app.add_option("--idle", idle,
                 "comma-separated idle connection counts (default: 0 ... fd limit)");
  app.add_option("--active", active, "active connections per point (default 10)");
  app.add_option("--size", size, "bytes per message (default 64)");
  app.add_option("--depth", depth, "closed loop: messages in flight per connection (default 1)");
  app.add_option("--duration", duration, "measured window per point (quick 1s, full 3s)");
  app.add_option("--warmup", warmup, "warm-up per point (quick 500ms, full 1s)");
  app.add_option("--repeats", repeats, "runs per point (quick 1, full 3)");
  app.add_option("--rate", rate, "open loop: aggregate msg/s (default 10000)")
      ->check(CLI::PositiveNumber);
  app.add_option("--series", series,
                 "comma-separated series: closed-split, open-split-busy, open-split, open-shared");
  app.add_option("--out", out, "the run directory (default: results/<UTC time>-<host>)");
  app.add_option("--resume", resume,
                 "finish an interrupted run in this directory with its own configuration");
  app.add_option("--micro-filter", micro_filter,
                 "wait-bench --benchmark_filter for this run, or 'none'");
  app.add_flag("--no-plots", no_plots, "skip plots/plot.py");
  std::string server_command;
  std::vector<std::string> generator_commands;
  app.add_option("--server-command", server_command,
                 "start the server through this shell template, which must exec it: {echo_server} "
                 "{args}, e.g. 'ip netns exec srv {echo_server} --bind 10.0.0.1 {args}'");
  app.add_option("--generator", generator_commands,
                 "a load generator on another host (repeat for several): a shell template with "
                 "{loadgen} {port} {args}, e.g. 'ssh client1 /opt/muxbench/loadgen --target "
                 "10.0.0.1:{port} {args}'; each gets its share of the connections and the rate");
  app.add_option("--echo-server", tools.echo_server, "the echo-server binary")
      ->capture_default_str();
  app.add_option("--loadgen", tools.loadgen, "the loadgen binary")->capture_default_str();
  app.add_option("--wait-bench", tools.wait_bench, "the wait-bench binary")->capture_default_str();

  Run run;
  SweepConfig config;
  std::set<std::string> done;
  try {
    app.parse(argc, argv);
    const FdLimit limit = raise_fd_limit_to_hard();
    if (!resume.empty()) {
      if (!backends.empty() || !idle.empty() || !series.empty() || active || size || depth ||
          repeats || rate > 0 || !duration.empty() || !warmup.empty() || full || !out.empty() ||
          !server_command.empty() || !generator_commands.empty()) {
        throw UsageError(
            "--resume takes the run's own configuration; give no grid options with it");
      }
      run.dir = fs::absolute(resume);
      std::ifstream in(run.dir / "sweep.json");
      if (!in) throw UsageError(fmt::format("--resume {}: no sweep.json there", resume));
      run.sweep = Json::parse(in, nullptr, false);
      if (!run.sweep.is_object() || run.sweep.value("kind", "") != "sweep") {
        throw UsageError(fmt::format("--resume {}: sweep.json is not a sweep", resume));
      }
      config = config_from_json(run.sweep["config"]);
      Json kept = Json::array();
      for (const auto& p : run.sweep["points"]) {
        if (p["status"] == "interrupted") continue;  // measured again
        done.insert(p["id"].get<std::string>());
        kept.push_back(p);
      }
      run.sweep["points"] = kept;
      run.sweep["resumed_utc"].push_back(utc_timestamp());
    } else {
      config = default_config(full, limit.soft, allowed_cpus());
      if (!backends.empty()) config.backends = parse_list<std::string>("--backends", backends);
      for (const auto& b : config.backends) {
        if (!std::set<std::string>{"select", "poll", "epoll-lt", "epoll-et", "asio", "uring-poll",
                                   "uring"}
                 .contains(b)) {
          throw UsageError(fmt::format("--backends: unknown backend '{}'", b));
        }
      }
      if (active) config.active = active;
      if (!idle.empty())
        config.idle = parse_list<std::uint64_t>("--idle", idle);
      else if (active)
        config.idle = default_idle_grid(limit.soft, config.active, full);
      const std::uint64_t top = max_idle(limit.soft, config.active);
      for (const auto n : config.idle) {
        if (n > top) {
          throw UsageError(
              fmt::format("--idle {}: the fd limit ({}) allows at most {} idle beside {} "
                          "active; raise it (ulimit -Hn / LimitNOFILE=)",
                          n, limit.soft, top, config.active));
        }
      }
      if (size) config.size = size;
      if (depth) config.depth = depth;
      if (repeats) config.repeats = repeats;
      if (rate > 0) config.rate = rate;
      if (!duration.empty()) config.duration = duration_option("--duration", duration, false);
      if (!warmup.empty()) config.warmup = duration_option("--warmup", warmup, false);
      if (!series.empty()) {
        const auto all = default_config(true, limit.soft, allowed_cpus()).series;
        std::vector<Series> chosen;
        for (const auto& name : parse_list<std::string>("--series", series)) {
          const auto it =
              std::find_if(all.begin(), all.end(), [&](const Series& s) { return s.name == name; });
          if (it == all.end()) throw UsageError(fmt::format("--series: unknown series '{}'", name));
          chosen.push_back(*it);
        }
        config.series = chosen;
      }
      if (!micro_filter.empty()) config.micro_filter = micro_filter;
      config.server_command = server_command;
      config.generator_commands = generator_commands;
      if (!generator_commands.empty() && config.active < generator_commands.size()) {
        throw UsageError(fmt::format("--active {} is fewer than the {} generators", config.active,
                                     generator_commands.size()));
      }
      if (!backends.empty() || !idle.empty() || !series.empty()) config.mode = "custom";
      run.dir = fs::absolute(out.empty() ? fs::path("results") / run_id() : fs::path(out));
      if (fs::exists(run.dir / "sweep.json")) {
        throw UsageError(fmt::format("{} already holds a sweep: use --resume or another --out",
                                     run.dir.string()));
      }
      std::string command;
      for (int i = 0; i < argc; ++i) command += (i ? " " : "") + std::string(argv[i]);
      run.sweep = {{"schema_version", 1},
                   {"kind", "sweep"},
                   {"run_id", run.dir.filename().string()},
                   {"command", command},
                   {"started_utc", utc_timestamp()},
                   {"config", to_json(config)},
                   {"environment", describe_environment()},
                   {"points", Json::array()},
                   {"resumed_utc", Json::array()}};
    }
    for (const auto& tool : {tools.echo_server, tools.loadgen}) {
      if (::access(tool.c_str(), X_OK) != 0)
        throw UsageError(fmt::format("{} is not an executable", tool));
    }
  } catch (const CLI::Success& success) {
    return app.exit(success);
  } catch (const CLI::ParseError& error) {
    fmt::print(stderr, "sweep: {} (see --help)\n", error.what());
    return kExitUsage;
  } catch (const UsageError& error) {
    fmt::print(stderr, "sweep: {}\n", error.what());
    return kExitUsage;
  }

  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGINT, &action, nullptr);
  ::sigaction(SIGTERM, &action, nullptr);

  try {
    fs::create_directories(run.dir / "points");
    write_file_atomically(run.dir / "env.json", run.sweep["environment"].dump(2) + "\n");
    run.grid = build_grid(config);
    run.sweep["status"] = "running";
    save(run);
    fmt::print(stderr, "sweep: {} points into {}\n", run.grid.size(), run.dir.string());

    bool failed = false;
    if (!run.sweep.contains("micro") || run.sweep["micro"].value("status", "") != "ok") {
      fmt::print(stderr, "sweep: wait-bench (micro-benchmarks){}\n",
                 config.micro_filter.empty() ? "" : " filtered: " + config.micro_filter);
      run.sweep["micro"] = run_micro(run, config, tools);
      failed |= run.sweep["micro"]["status"] == "failed";
      save(run);
    }
    if (!g_stop.load() && run.sweep.value("claims", Json::object()).value("status", "") != "ok") {
      fmt::print(stderr, "sweep: claims (semantics demonstrations)\n");
      run.sweep["claims"] = run_claims(run, tools);
      failed |= run.sweep["claims"]["status"] == "failed";
      save(run);
    }
    ProgressBar bar(run.grid.size(), done.size());
    for (const auto& point : run.grid) {
      if (g_stop.load()) break;
      if (done.contains(point.id)) continue;
      bar.show(fmt::format("{} {} idle={}", point.series.name, point.backend, point.idle));
      auto record = run_point(point, config, tools, run.dir / "points", g_stop);
      if (record["status"] == "interrupted") break;
      run.sweep["points"].push_back(std::move(record));
      bar.advance();
      save(run);
    }
    bar.finish();
    const bool interrupted = g_stop.load();
    for (const auto& p : run.sweep["points"]) failed |= p["status"] == "failed";
    run.sweep["status"] = interrupted ? "interrupted"
                          : failed    ? "completed_with_failures"
                                      : "completed";
    run.sweep["finished_utc"] = utc_timestamp();
    save(run);
    finish_outputs(run, tools, !no_plots && !interrupted);
    fmt::print(stderr, "sweep: {} -> {}\n", run.sweep["status"].get<std::string>(),
               run.dir.string());
    if (interrupted)
      fmt::print(stderr, "sweep: finish it with: sweep --resume {}\n", run.dir.string());
    return interrupted ? kExitInterrupted : failed ? 1 : 0;
  } catch (const std::exception& error) {
    fmt::print(stderr, "sweep: fatal: {}\n", error.what());
    return 1;
  }
}
