// sweep: every backend x growing idle connection counts; JSON/CSV, summary and charts.
#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "bench/sweep/analysis.hpp"
#include "bench/sweep/foreign_servers.hpp"
#include "bench/sweep/map_model.hpp"
#include "bench/sweep/point_runner.hpp"
#include "bench/sweep/sweep_config.hpp"
#include "bench/sweep/window_sampler.hpp"
#include "common/atomic_file.hpp"
#include "common/backend_table.hpp"
#include "common/command_line.hpp"
#include "common/cpu_affinity.hpp"
#include "common/duration.hpp"
#include "common/environment.hpp"
#include "common/exit_codes.hpp"
#include "common/fd_limit.hpp"
#include "common/output_path.hpp"
#include "common/run_lock.hpp"
#include "common/stop_flag.hpp"
#include "common/subprocess.hpp"
#include "common/usage_error.hpp"
#include "loadgen/message.hpp"
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

// A list naming one value twice would give two points one id: the second would overwrite the
// first's files and the aggregate would count both.
template <class T>
void refuse_repeats(std::string_view option, const std::vector<T>& values) {
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (std::find(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(i), values[i]) !=
        values.begin() + static_cast<std::ptrdiff_t>(i)) {
      throw UsageError(fmt::format("{}: {} is given twice", option, values[i]));
    }
  }
}

// Above zero, said without CLI::PositiveNumber's 300-digit upper bound.
CLI::Validator above_zero() {
  return CLI::Validator(
      [](const std::string& text) -> std::string {
        double value = 0;
        if (CLI::detail::lexical_cast(text, value) && value > 0) return {};
        return "'" + text + "' is not above zero";
      },
      "POSITIVE");
}

// CLI11 hands an empty list ('') to a validator as one empty item; left alone, it would mean
// "the default", i.e. everything.
CLI::Validator named_item() {
  return CLI::Validator(
      [](const std::string& text) -> std::string { return text.empty() ? "an empty name" : ""; },
      "NAME");
}

CLI::Validator non_empty_path() {
  return CLI::Validator(
      [](const std::string& text) -> std::string { return text.empty() ? "empty path" : ""; },
      "PATH");
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

// The command line as given: an option not given is empty.
struct Options {
  bool quick = false, full = false, no_plots = false;
  std::optional<std::vector<std::string>> backends, series;
  std::optional<std::vector<std::uint64_t>> idle;
  std::optional<std::string> out, resume, duration, warmup, late_tolerance, micro_filter;
  std::optional<std::vector<std::uint64_t>> active;
  std::optional<std::vector<std::size_t>> size;
  std::optional<std::vector<std::string>> lifetime, rates, studies;
  std::vector<std::string> redo;  // steps --resume measures again: "wait-bench", "claims"
  std::optional<unsigned> repeats, depth;
  std::optional<double> rate;
  std::string server_command;
  std::vector<std::string> generator_commands;
  std::vector<std::string> servers;  // --server NAME=TEMPLATE
  Tools tools;
  std::string command;  // argv joined, recorded in sweep.json
  std::string helpers;  // where plot.py, report.py and micro_report.py are (empty: the default)

  bool gives_grid() const {
    return backends || idle || series || active || size || depth || repeats || rate || duration ||
           warmup || late_tolerance || full || out || !server_command.empty() ||
           !generator_commands.empty() || gives_dimensions() || studies;
  }
  // A dimension given on the command line: without --study, the grid is the one study that
  // crosses them; with --study, they replace that dimension in each chosen study.
  bool gives_dimensions() const { return idle || series || active || size || lifetime || rates; }
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
  app.add_flag(
         "--full", o.full,
         "3 repeats, 2 s windows, more idle counts and placements, every study on every backend, "
         "full wait-bench (about two hours on 2 cores)")
      ->excludes(quick_flag);
  // Lists: CLI11 splits them and checks each item; an empty list is refused as a missing value.
  app.add_option("--backends", o.backends, "comma-separated: " + backend_names())
      ->delimiter(',')
      ->check(named_item());
  app.add_option("--idle", o.idle,
                 "comma-separated idle connection counts (default: 0 ... fd limit)")
      ->delimiter(',')
      ->check(decimal_count());
  app.add_option("--active", o.active,
                 "comma-separated active connection counts, crossed with the idle counts "
                 "(default 10)")
      ->delimiter(',')
      ->check(decimal_count())
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1} << 32));
  // loadgen's bounds: its header, then its largest message.
  app.add_option("--size", o.size, "comma-separated bytes per message (default 64)")
      ->delimiter(',')
      ->check(decimal_count())
      ->check(CLI::Range(MessageFormat::kMinSize, std::size_t{16} << 20));
  app.add_option("--lifetime", o.lifetime,
                 "comma-separated echo exchanges per connection before loadgen replaces it, or "
                 "'persistent' (default), e.g. 1,10,100,persistent")
      ->delimiter(',')
      ->check(named_item());
  app.add_option("--rates", o.rates,
                 "open loop: comma-separated offered rates, each msg/s or a percentage of the "
                 "backend's own closed-loop capacity measured in this run (50%), or 'auto' "
                 "(10%,25%,50%,75%,90%,100%,120%); default: --rate")
      ->delimiter(',')
      ->check(named_item());
  app.add_option("--study", o.studies,
                 "comma-separated studies of the default grid (default: all): idle, crossover, "
                 "activity, churn, size, servers, load (--full adds servers-activity); a "
                 "dimension option given beside replaces that dimension in each")
      ->delimiter(',')
      ->check(named_item());
  app.add_option("--depth", o.depth, "closed loop: messages in flight per connection (default 1)")
      ->check(decimal_count())
      ->check(CLI::Range(1u, 1u << 20));
  app.add_option("--duration", o.duration,
                 "measured window per point (quick 1s, full 2s; ns, us, ms, s, m, h)");
  app.add_option("--warmup", o.warmup, "warm-up per point (500ms; ns, us, ms, s, m, h)");
  app.add_option("--late-tolerance", o.late_tolerance,
                 "open loop: a send later than this is late, and a point whose sends are late "
                 "(p99) is overloaded (default: loadgen's, 1ms)");
  app.add_option("--repeats", o.repeats, "runs per point (quick 1, full 3)")
      ->check(decimal_count())
      ->check(CLI::Range(1u, 1000u));
  app.add_option("--rate", o.rate, "open loop: aggregate msg/s (default 10000)")
      ->check(finite_number())
      ->check(above_zero());
  app.add_option("--series", o.series,
                 "comma-separated series: closed-split, open-split-busy, open-split, open-shared")
      ->delimiter(',')
      ->check(named_item());
  app.add_option("--out", o.out,
                 "the run directory (default: results/<UTC time>-<host>; only a run directly "
                 "under results/ moves results/latest)")
      ->check(non_empty_path());
  auto* resume =
      app.add_option("--resume", o.resume,
                     "finish an interrupted run in this directory with its own configuration")
          ->check(non_empty_path());
  app.add_option("--redo", o.redo,
                 "with --resume: measure these steps again with this build (comma-separated: "
                 "wait-bench, claims); sweep.json records when (redone_utc), the step's file "
                 "its build, and the summary is written again")
      ->delimiter(',')
      ->check(CLI::IsMember({"wait-bench", "claims"}))
      ->needs(resume);
  app.add_option("--micro-filter", o.micro_filter,
                 "wait-bench --benchmark_filter for this run, or 'none'");
  app.add_flag("--no-plots", o.no_plots, "skip plots/plot.py");
  app.add_option("--server", o.servers,
                 "measure any TCP echo server as backend NAME (repeat for several): "
                 "NAME=TEMPLATE, a shell command with {port} (and {cpu}) that starts it; it is "
                 "ready when the port accepts a connection and is measured from outside (/proc). "
                 "Shipped ones, usable by name in --backends without this: python-select, "
                 "python-poll, python-epoll, python-selectors, python-asyncio, libuv");
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
  app.add_option("--helpers", o.helpers,
                 "the directory holding plot.py, report.py and micro_report.py (an installed "
                 "share/muxbench or a source tree; default: ../share/muxbench beside this "
                 "binary, else the source tree it was built from)")
      ->check(CLI::ExistingDirectory);
  app.add_option("--wait-bench", o.tools.wait_bench, "the wait-bench binary")
      ->capture_default_str();
}

// The Python helpers of an installed sweep sit in ../share/muxbench beside its bin/; a build
// tree's are in the sources it was built from.
fs::path default_helpers() {
  const fs::path installed = own_directory().parent_path() / "share" / "muxbench";
  if (fs::exists(installed / "plot.py")) return installed;
  return MUXBENCH_SOURCE_DIR;
}

void set_helpers(Tools& tools, const fs::path& helpers) {
  const bool source_tree = fs::exists(helpers / "plots" / "plot.py");
  const fs::path plots = source_tree ? helpers / "plots" : helpers;
  tools.plot = (plots / "plot.py").string();
  tools.report = (plots / "report.py").string();
  tools.micro_report = ((source_tree ? helpers / "bench" : helpers) / "micro_report.py").string();
  tools.python_echo_server = (helpers / "servers" / "python" / "echo_server.py").string();
}

Tools default_tools() {
  Tools tools;
  const fs::path bin = own_directory();
  tools.echo_server = (bin / "echo-server").string();
  tools.loadgen = (bin / "loadgen").string();
  tools.wait_bench = (bin / "wait-bench").string();
  tools.claims = (bin / "claims").string();
  if (fs::exists(bin / "libuv-echo-server"))
    tools.libuv_echo_server = (bin / "libuv-echo-server").string();
  set_helpers(tools, default_helpers());
  return tools;
}

// What the sweep will do: its directory, its document (new or resumed) and its grid.
struct Plan {
  fs::path dir;
  SweepDocument sweep;
  std::set<std::string> done;  // points already measured (resume)
  std::set<std::string> redo;  // steps measured again (--redo): their outcome says when
  std::vector<PointSpec> grid;
};

// The series the options name, in the order given.
std::vector<Series> chosen_series(const std::vector<std::string>& names, std::uint64_t fd_limit) {
  refuse_repeats("--series", names);
  const auto all = default_config(true, fd_limit, allowed_cpus()).series;
  std::vector<Series> chosen;
  for (const auto& name : names) {
    const auto it =
        std::find_if(all.begin(), all.end(), [&](const Series& s) { return s.name == name; });
    if (it == all.end()) throw UsageError(fmt::format("--series: unknown series '{}'", name));
    chosen.push_back(*it);
  }
  return chosen;
}

// CLI11 drops the empty items of a split list ("10,,20" reads as 10,20) and lets a lone ","
// take the next argument as the option's value: both are refused here, before parsing.
void refuse_empty_list_items(int argc, char** argv) {
  static const std::set<std::string> lists = {"--backends", "--idle",  "--active", "--size",
                                              "--lifetime", "--rates", "--study",  "--series"};
  for (int i = 1; i < argc; ++i) {
    std::string option = argv[i];
    std::string value;
    if (const auto eq = option.find('='); eq != std::string::npos) {
      value = option.substr(eq + 1);
      option.resize(eq);
    } else if (lists.contains(option) && i + 1 < argc) {
      value = argv[++i];
    }
    if (!lists.contains(option) || value.empty()) continue;
    if (value.front() == ',' || value.back() == ',' || value.find(",,") != std::string::npos) {
      throw UsageError(fmt::format("{} '{}': an empty item in the list", option, value));
    }
  }
}

// --lifetime: counts of exchanges, or persistent.
std::vector<std::optional<std::uint64_t>> lifetimes(const std::vector<std::string>& texts) {
  refuse_repeats("--lifetime", texts);
  std::vector<std::optional<std::uint64_t>> values;
  for (const auto& text : texts) {
    if (text == "persistent") {
      values.emplace_back();
      continue;
    }
    std::uint64_t k = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), k);
    if (error != std::errc() || end != text.data() + text.size() || k == 0 || text[0] == '0' ||
        k > (std::uint64_t{1} << 32)) {
      throw UsageError(
          fmt::format("--lifetime: '{}' is neither a count of exchanges (1 to 2^32) nor "
                      "'persistent'",
                      text));
    }
    values.emplace_back(k);
  }
  return values;
}

// --rates: msg/s, percentages of the closed-loop capacity, or auto.
struct OfferedRates {
  std::vector<double> rates, fractions;
};
OfferedRates offered_rates(const std::vector<std::string>& texts) {
  refuse_repeats("--rates", texts);
  OfferedRates offered;
  for (const auto& text : texts) {
    if (text == "auto") {
      for (const double f : {0.1, 0.25, 0.5, 0.75, 0.9, 1.0, 1.2}) offered.fractions.push_back(f);
      continue;
    }
    const bool percent = text.ends_with('%');
    const std::string number = percent ? text.substr(0, text.size() - 1) : text;
    double value = 0;
    const auto [end, error] = std::from_chars(number.data(), number.data() + number.size(), value);
    const double top = percent ? 1000 : 1e9;
    // Below 1 msg/s no window holds enough echoes.
    const bool too_low = percent ? value <= 0 : value < 1;
    if (number.empty() || error != std::errc() || end != number.data() + number.size() ||
        !std::isfinite(value) || too_low || value > top) {
      throw UsageError(fmt::format(
          "--rates: '{}' is not a rate (msg/s from 1 to 1e9, a percentage up to 1000%, or auto)",
          text));
    }
    (percent ? offered.fractions : offered.rates).push_back(percent ? value / 100 : value);
  }
  return offered;
}

// A study with the dimensions the command line gives put in place of its own.
Study with_dimensions(Study study, const Options& o, const SweepConfig& config) {
  if (o.idle) study.idle = config.idle;
  if (o.series) study.series = config.series;
  if (o.active) study.active = *o.active;
  if (o.size) study.size = *o.size;
  if (o.lifetime) study.lifetime = lifetimes(*o.lifetime);
  if (o.rates) {
    const auto offered = offered_rates(*o.rates);
    study.rates = offered.rates;
    study.rate_fractions = offered.fractions;
  }
  return study;
}

// The default studies, those --study names, or the one study the given dimensions cross.
std::vector<Study> chosen_studies(const Options& o, const SweepConfig& config) {
  const auto defaults = default_studies(config, o.full);
  if (!o.studies) {
    if (!o.gives_dimensions()) return defaults;
    Study custom = with_dimensions(config.idle_study(), o, config);
    custom.name = "custom";
    return {custom};
  }
  refuse_repeats("--study", *o.studies);
  std::vector<Study> chosen;
  for (const auto& name : *o.studies) {
    const auto it = std::find_if(defaults.begin(), defaults.end(),
                                 [&](const Study& s) { return s.name == name; });
    if (it == defaults.end() && name == "load") {
      throw UsageError(
          "--study load: the load study needs an open-loop series beside a closed "
          "one (e.g. --series closed-split,open-split-busy)");
    }
    if (it == defaults.end()) {
      std::string known;
      for (const auto& s : defaults) known += (known.empty() ? "" : ", ") + s.name;
      throw UsageError(fmt::format("--study: unknown study '{}' (known here: {})", name, known));
    }
    chosen.push_back(with_dimensions(*it, o, config));
  }
  return chosen;
}

// What the default studies leave out quietly is refused when the command line asked for it: a
// rate fraction without a closed series to measure the capacity, and an idle count beside an
// active count that the fd limit cannot hold.
void check_studies(const Options& o, const SweepConfig& config, const FdLimit& limit) {
  for (const auto& study : config.studies) {
    const bool closed = std::any_of(study.series.begin(), study.series.end(),
                                    [](const Series& s) { return s.load == LoadMode::closed; });
    if (o.rates && !study.rate_fractions.empty() && !closed) {
      throw UsageError(
          "--rates: a percentage is of the closed-loop throughput, and no closed-loop series is "
          "measured beside it (add closed-split to --series)");
    }
    if (!o.gives_dimensions()) continue;
    for (const auto active : study.active) {
      if (active + 64 > limit.soft) {
        throw UsageError(fmt::format(
            "--active {}: the fd limit ({}) leaves too few descriptors for loadgen's own", active,
            limit.soft));
      }
      for (const auto idle : study.idle) {
        if (idle > 0 && idle > max_idle(limit.soft, active)) {
          throw UsageError(fmt::format(
              "study {}: {} idle beside {} active connections do not fit the fd limit ({}); "
              "give --idle too",
              study.name, idle, active, limit.soft));
        }
      }
    }
  }
}

// The grid: the defaults for this machine with the options applied and checked.
SweepConfig configure(const Options& o, const FdLimit& limit) {
  SweepConfig config = default_config(o.full, limit.soft, allowed_cpus());
  if (o.backends) config.backends = *o.backends;
  std::vector<ForeignServer> given;
  for (const auto& text : o.servers) {
    given.push_back(parse_server_option(text));
    if (find_server(std::vector(given.begin(), given.end() - 1), given.back().name)) {
      throw UsageError(fmt::format("--server {}: given twice", given.back().name));
    }
  }
  const auto shipped = shipped_servers(o.tools);
  for (const auto& b : config.backends) {
    if (find_backend_info(b)) continue;
    const ForeignServer* server = find_server(given, b);
    if (!server) server = find_server(shipped, b);
    if (!server) {
      throw UsageError(fmt::format(
          "--backends: unknown backend '{}' (echo-server's: {}; or give --server {}=TEMPLATE)", b,
          backend_names(), b));
    }
    config.servers.push_back(*server);
  }
  for (const auto& server : given) {
    if (!find_server(config.servers, server.name)) config.backends.push_back(server.name);
    if (!find_server(config.servers, server.name)) config.servers.push_back(server);
  }
  if (!config.servers.empty() && (!o.server_command.empty() || !o.generator_commands.empty())) {
    throw UsageError(
        "--server and the shipped foreign servers run on this host only: not with "
        "--server-command or --generator");
  }
  refuse_repeats("--backends", config.backends);
  if (o.active) {
    refuse_repeats("--active", *o.active);
    config.active = o.active->front();
  }
  const std::uint64_t most_active =
      o.active ? *std::max_element(o.active->begin(), o.active->end()) : config.active;
  if (o.idle) {
    refuse_repeats("--idle", *o.idle);
    config.idle = *o.idle;
  } else if (o.active) {
    config.idle = default_idle_grid(limit.soft, most_active, o.full);
  }
  const std::uint64_t top = max_idle(limit.soft, most_active);
  for (const auto n : config.idle) {
    if (n > top) {
      throw UsageError(
          fmt::format("--idle {}: the fd limit ({}) allows at most {} idle beside {} "
                      "active; raise it (ulimit -Hn / LimitNOFILE=)",
                      n, limit.soft, top, most_active));
    }
  }
  if (o.size) {
    refuse_repeats("--size", *o.size);
    config.size = o.size->front();
  }
  if (o.depth) config.depth = *o.depth;
  if (o.repeats) config.repeats = *o.repeats;
  if (o.rate) config.rate = *o.rate;
  if (o.duration) config.duration = duration_option("--duration", *o.duration, false);
  if (o.warmup) config.warmup = duration_option("--warmup", *o.warmup, false);
  if (o.late_tolerance) {
    config.late_tolerance = duration_option("--late-tolerance", *o.late_tolerance, false);
  }
  if (o.series) config.series = chosen_series(*o.series, limit.soft);
  if (o.micro_filter) config.micro_filter = *o.micro_filter;
  config.server_command = o.server_command;
  config.generator_commands = o.generator_commands;
  if (!o.generator_commands.empty() && config.active < o.generator_commands.size()) {
    throw UsageError(fmt::format("--active {} is fewer than the {} generators", config.active,
                                 o.generator_commands.size()));
  }
  config.studies = chosen_studies(o, config);
  const bool open_series =
      std::any_of(config.studies.begin(), config.studies.end(), [](const Study& s) {
        return std::any_of(s.series.begin(), s.series.end(),
                           [](const Series& series) { return series.load == LoadMode::open; });
      });
  if (o.rates && !open_series) {
    throw UsageError(
        "--rates: offered rates need an open-loop series (e.g. --series "
        "closed-split,open-split-busy)");
  }
  check_studies(o, config, limit);
  // The `servers` study measures the shipped foreign servers this machine can run, unless the
  // command line chose the backends (then only those it named, as above).
  const bool servers_study =
      std::any_of(config.studies.begin(), config.studies.end(),
                  [](const Study& s) { return s.name.starts_with("servers"); });
  if (servers_study && !o.backends && config.server_command.empty() &&
      config.generator_commands.empty()) {
    for (const auto& server : shipped) {
      if (!find_server(config.servers, server.name)) config.servers.push_back(server);
    }
  }
  if (o.backends || o.gives_dimensions() || o.studies) config.mode = "custom";
  return config;
}

// The directory where runs land by default; only a run directly in it moves its `latest`.
fs::path results_directory() { return fs::weakly_canonical(fs::absolute("results")); }

// The run directory locked for this process (two sweeps on one directory would overwrite each
// other's files and share pinned CPUs), and checked writable, before any work.
DirectoryLock lock_run_directory(const fs::path& dir, std::string_view option) {
  auto lock = [&] {
    try {
      return DirectoryLock::try_acquire(dir);
    } catch (const std::system_error& error) {
      throw UsageError(fmt::format("{} {}: {}", option, dir.string(), error.what()));
    }
  }();
  if (!lock) {
    throw UsageError(
        fmt::format("{} {}: another sweep is running in this directory ({} is "
                    "locked); wait for it to end",
                    option, dir.string(), (dir / ".lock").string()));
  }
  OutputPath::checked(option, (dir / "sweep.json").string());
  return std::move(*lock);
}

Plan new_plan(const Options& o, const FdLimit& limit, std::optional<DirectoryLock>& lock) {
  Plan plan;
  plan.sweep.config = configure(o, limit);
  plan.dir = fs::absolute(o.out ? fs::path(*o.out) : fs::path("results") / run_id());
  std::error_code error;
  if (fs::exists(plan.dir, error) && !fs::is_directory(plan.dir, error)) {
    throw UsageError(fmt::format("--out {}: exists and is not a directory", plan.dir.string()));
  }
  if (fs::create_directories(plan.dir, error); error) {
    throw UsageError(
        fmt::format("--out {}: cannot create it: {}", plan.dir.string(), error.message()));
  }
  lock.emplace(lock_run_directory(plan.dir, "--out"));
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
Plan resumed_plan(const Options& o, std::optional<DirectoryLock>& lock) {
  if (o.gives_grid()) {
    throw UsageError("--resume takes the run's own configuration; give no grid options with it");
  }
  Plan plan;
  const std::string& resume = *o.resume;
  plan.dir = fs::absolute(resume);
  if (!fs::exists(plan.dir / "sweep.json"))
    throw UsageError(fmt::format("--resume {}: no sweep.json there", resume));
  lock.emplace(lock_run_directory(plan.dir, "--resume"));
  std::ifstream in(plan.dir / "sweep.json");
  if (!in) throw UsageError(fmt::format("--resume {}: cannot read sweep.json", resume));
  const Json json = Json::parse(in, nullptr, false);
  if (!json.is_object() || json.value("kind", "") != SweepDocument::kKind) {
    throw UsageError(fmt::format("--resume {}: sweep.json is not a sweep", resume));
  }
  try {
    plan.sweep = json.get<SweepDocument>();
  } catch (const Json::exception& e) {
    throw UsageError(fmt::format("--resume {}: cannot read sweep.json: {}", resume, e.what()));
  }
  std::erase_if(plan.sweep.points, [](const PointRecord& p) {
    return p.status == PointStatus::interrupted;  // measured again
  });
  for (const auto& p : plan.sweep.points) plan.done.insert(p.id);
  plan.sweep.resumed_utc.push_back(utc_timestamp());
  for (const auto& step : o.redo) {
    (step == "claims" ? plan.sweep.claims : plan.sweep.micro).reset();  // run_steps runs it
    plan.redo.insert(step);
  }
  return plan;
}

void check_tools(Tools& tools) {
  for (const auto& tool : {tools.echo_server, tools.loadgen}) {
    if (::access(tool.c_str(), X_OK) != 0)
      throw UsageError(fmt::format("{} is not an executable", tool));
  }
  for (const auto& helper : {tools.plot, tools.report, tools.micro_report}) {
    if (!fs::exists(helper)) {
      throw UsageError(
          fmt::format("{} is missing: point --helpers at the directory that holds "
                      "plot.py, report.py and micro_report.py",
                      helper));
    }
  }
}

void save(Plan& plan) {
  plan.sweep.aggregates = aggregate_points(plan.sweep.points);
  write_file_atomically(plan.dir / "sweep.json", Json(plan.sweep).dump(1) + "\n");
  write_file_atomically(plan.dir / "sweep.csv", points_csv(plan.sweep.points));
}

StepOutcome step_outcome(StepStatus status, std::optional<std::string> file = std::nullopt,
                         std::optional<std::string> reason = std::nullopt) {
  return {status, std::move(file), std::move(reason), std::nullopt};
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
  if (*code != 0) {
    // "wait-bench killed by signal 11 (Segmentation fault): <its last words>"
    const std::string said = last_line(bench.drain_stderr(std::chrono::seconds(1)));
    return step_failed(fmt::format("wait-bench {}{}",
                                   exit_description(*code, bench.terminating_signal()),
                                   said.empty() ? "" : ": " + said));
  }
  // Google Benchmark writes bare NaN (the spread of a constant counter): strict JSON has null.
  const std::string written = read_text(plan.dir / "micro.json.partial");
  const std::string strict = without_non_numbers(written);
  if (!Json::accept(strict)) return step_failed("wait-bench wrote a micro.json that is not JSON");
  if (strict != written) write_file_atomically(plan.dir / "micro.json.partial", strict);
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
  if (result.exit_code != 0) {
    return step_failed(fmt::format("claims {}: {}",
                                   result.exit_code
                                       ? exit_description(*result.exit_code, result.signal)
                                       : "was killed by the sweep after 2 minutes",
                                   result.err));
  }
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
    if (plan.redo.contains("wait-bench")) plan.sweep.micro->redone_utc = utc_timestamp();
    failed |= plan.sweep.micro->status == StepStatus::failed;
    save(plan);
  }
  if (!stop_requested().load() &&
      (!plan.sweep.claims || plan.sweep.claims->status != StepStatus::ok)) {
    fmt::print(stderr, "sweep: claims (semantics demonstrations)\n");
    plan.sweep.claims = run_claims(plan, tools);
    if (plan.redo.contains("claims")) plan.sweep.claims->redone_utc = utc_timestamp();
    failed |= plan.sweep.claims->status == StepStatus::failed;
    save(plan);
  }
  return failed;
}

// "closed-split poll idle=100 active=1000 k=1": what the progress line shows of a point.
std::string point_label(const PointSpec& point, const SweepConfig& config) {
  const Workload& w = point.workload;
  std::string label = fmt::format("{} {} idle={}", point.series.name, point.backend, point.idle);
  if (w.active != config.active) label += fmt::format(" active={}", w.active);
  if (w.size != config.size) label += fmt::format(" size={}", w.size);
  if (w.lifetime) label += fmt::format(" lifetime={}", *w.lifetime);
  if (w.rate_fraction) label += fmt::format(" load={:g}%", *w.rate_fraction * 100);
  return label;
}

// Every point not measured yet, saving after each; stops at an interrupt.
void run_points(Plan& plan, const Tools& tools) {
  ProgressBar bar(plan.grid.size(), plan.done.size());
  WindowSampler sampler;  // every server is also measured from outside, at loadgen's edges
  for (const auto& point : plan.grid) {
    if (stop_requested().load()) break;
    if (plan.done.contains(point.id)) continue;
    bar.show(point_label(point, plan.sweep.config));
    PointSpec spec = point;
    PointRecord record;
    if (auto unresolved = resolve_rate_fraction(spec, plan.sweep.points)) {
      record = point_record(spec, plan.sweep.config);
      record.status = unresolved->status;
      record.reason = unresolved->reason;
    } else {
      record = run_point(spec, plan.sweep.config, tools, plan.dir / "points", stop_requested(),
                         &sampler);
    }
    if (record.status == PointStatus::interrupted) break;
    plan.sweep.points.push_back(std::move(record));
    bar.advance();
    save(plan);
  }
  bar.finish();
}

// summary.md and summary.json from the points and wait-bench, the charts, results/latest.
void report(const Plan& plan, const Tools& tools, bool plots) {
  const std::string micro = read_text(plan.dir / "micro.json");
  const Summary summary =
      summarise(plan.sweep, read_micro_wait_costs(micro), read_text(plan.dir / "micro_table.md"),
                micro, largest_send_buffer());
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
  // index.html: the summary, the charts there are, the environment and links to every file.
  const auto page =
      run_command({tools.python, tools.report, plan.dir.string()}, std::chrono::minutes(1));
  if (page.exit_code != 0) {
    fmt::print(stderr, "sweep: report.py failed (exit {}): {}\n",
               page.exit_code ? std::to_string(*page.exit_code) : "timeout", page.err);
  }
  // results/latest -> this run, replaced atomically; a run elsewhere (--out) leaves it alone and
  // creates no `latest` beside itself.
  std::error_code error;
  if (fs::weakly_canonical(plan.dir.parent_path(), error) != results_directory()) return;
  const fs::path latest = plan.dir.parent_path() / "latest";
  const fs::path temp = plan.dir.parent_path() / ".latest.tmp";
  std::error_code ignored;
  fs::remove(temp, ignored);
  fs::create_directory_symlink(plan.dir.filename(), temp, ignored);
  if (!ignored) fs::rename(temp, latest, ignored);
}

// Runs the plan to its end (or an interrupt) and reports; the process's exit code.
int run(Plan& plan, const Tools& tools, bool plots) {
  fs::create_directories(plan.dir / "points");  // the directory itself exists (and is locked)
  // The environment as every report carries it, plus the kind and version every file has.
  Json environment = plan.sweep.environment;
  environment["schema_version"] = 1;
  environment["kind"] = "environment";
  write_file_atomically(plan.dir / "env.json", environment.dump(2) + "\n");
  plan.grid = build_grid(plan.sweep.config);
  plan.sweep.status = SweepStatus::running;
  save(plan);
  fmt::print(stderr, "sweep: {} points into {}\n", plan.grid.size(), plan.dir.string());

  bool failed = run_steps(plan, tools);
  const std::size_t measured_before = plan.sweep.points.size();
  run_points(plan, tools);
  const bool interrupted = stop_requested().load();
  for (const auto& p : plan.sweep.points) failed |= p.status == PointStatus::failed;
  plan.sweep.status = interrupted ? SweepStatus::interrupted
                      : failed    ? SweepStatus::completed_with_failures
                                  : SweepStatus::completed;
  // A resume that only redid a step leaves the points' end time alone (redone_utc says when).
  if (!plan.sweep.finished_utc || plan.sweep.points.size() != measured_before)
    plan.sweep.finished_utc = utc_timestamp();
  save(plan);
  report(plan, tools, plots && !interrupted);
  fmt::print(stderr, "sweep: {} -> {}\n", enum_name(*plan.sweep.status), plan.dir.string());
  if (interrupted)
    fmt::print(stderr, "sweep: finish it with: sweep --resume {}\n", plan.dir.string());
  if (!interrupted && stop_requested().load()) {
    // Every point was measured; the summary or a chart may be missing.
    fmt::print(stderr,
               "sweep: interrupted while writing the summary and charts; the points are complete: "
               "sweep --resume {} writes them again\n",
               plan.dir.string());
    return kExitInterrupted;
  }
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
      "summary.md, charts) and points results/latest at it (a run given --out elsewhere leaves "
      "latest alone).\n"
      "Exit code: 0 all points ok or unsupported, 1 a point or step failed, 2 bad usage, "
      "130 interrupted (the partial run is valid; finish it with --resume).",
      "sweep"};
  add_version_flag(app, "sweep");
  Options options;
  options.tools = default_tools();
  add_options(app, options);
  Plan plan;
  std::optional<DirectoryLock> lock;  // on the run directory, until the process ends
  try {
    refuse_empty_list_items(argc, argv);
    app.parse(argc, argv);
    for (int i = 0; i < argc; ++i) options.command += (i ? " " : "") + std::string(argv[i]);
    const FdLimit limit = raise_fd_limit_to_hard();
    if (!options.helpers.empty()) set_helpers(options.tools, options.helpers);
    check_tools(options.tools);
    // Everything the run needs is checked by here; the run directory is made (and locked) last.
    plan = options.resume ? resumed_plan(options, lock) : new_plan(options, limit, lock);
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
