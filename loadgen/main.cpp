// loadgen: N idle + M active connections against one echo server; latency, throughput, integrity.
#include <arpa/inet.h>
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "common/command_line.hpp"
#include "common/cpu_affinity.hpp"
#include "common/duration.hpp"
#include "common/output_path.hpp"
#include "common/usage_error.hpp"
#include "loadgen/addresses.hpp"
#include "loadgen/config.hpp"
#include "loadgen/histogram.hpp"
#include "loadgen/message.hpp"
#include "loadgen/run.hpp"

namespace {

using muxbench::LoadgenConfig;
using muxbench::OutputPath;
using muxbench::UsageError;

// The furthest ahead --start-at may be: a typo (seconds for nanoseconds, a wrong year) must not
// leave a generator waiting for days.
constexpr std::int64_t kLongestStartWaitNs = 3600'000'000'000;
// The most memory --hlog's interval histograms may take (216 KiB per second of window per worker).
constexpr std::uint64_t kMostHlogBytes = std::uint64_t{2} << 30;

// A rate: finite and above zero. CLI::PositiveNumber lets NaN through and answers "0" with
// std::to_string of the largest double (309 digits).
CLI::Validator positive_rate() {
  return CLI::Validator(
      [](const std::string& text) -> std::string {
        double value = 0;
        if (!CLI::detail::lexical_cast(text, value) || !std::isfinite(value) || value <= 0) {
          return "'" + text + "' is not a positive finite number";
        }
        return {};
      },
      "POSITIVE");
}

struct RawOptions {
  std::string duration = "5s", warmup = "1s", drain_timeout = "5s", late_tolerance = "1ms", cpus;
  double rate = 0, connect_rate = 0;
  std::vector<int> signal_pids;
  std::int64_t start_at = 0;
  std::uint64_t min_echoes = 0, lifetime = 0;
  std::string json, csv, hdr, hlog, hdr_unit = "us";
};

std::optional<OutputPath> output(std::string_view option, const std::string& path, bool given) {
  if (!given) return std::nullopt;
  return OutputPath::checked(option, path);
}

std::int64_t wall_clock_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void finish(LoadgenConfig& config, const RawOptions& raw, const CLI::App& app) {
  const auto target = muxbench::parse_target(config.target_text);
  if (!target) {
    throw UsageError(
        fmt::format("--target {}: expected HOST:PORT with an IPv4 host", config.target_text));
  }
  config.target = *target;
  config.duration = muxbench::duration_option("--duration", raw.duration, false);
  config.warmup = muxbench::duration_option("--warmup", raw.warmup, true);
  config.drain_timeout = muxbench::duration_option("--drain-timeout", raw.drain_timeout, true);
  config.late_tolerance = muxbench::duration_option("--late-tolerance", raw.late_tolerance, false);
  if (raw.rate > 0) config.rate = raw.rate;
  if (raw.connect_rate > 0) config.connect_rate = raw.connect_rate;
  config.signal_pids.assign(raw.signal_pids.begin(), raw.signal_pids.end());
  if (raw.start_at > 0) {
    if (raw.start_at - wall_clock_ns() > kLongestStartWaitNs) {
      throw UsageError(fmt::format(
          "--start-at {}: more than 1 h ahead of this host's clock (nanoseconds since the epoch "
          "expected)",
          raw.start_at));
    }
    config.start_at_unix_ns = raw.start_at;
  }
  if (app.count("--min-echoes") > 0) config.min_echoes_option = raw.min_echoes;
  if (app.count("--lifetime") > 0) config.lifetime = raw.lifetime;
  config.hdr_unit_ratio = raw.hdr_unit == "ms" ? 1e6 : 1e3;
  const bool loopback_target = (ntohl(config.target.sin_addr.s_addr) >> 24) == 127;
  if (config.source_ips_text.empty() && loopback_target) {
    // One source address has ~28k ephemeral ports, and connect() slows down once about half of
    // them are taken: __inet_hash_connect tries ports of one parity first (docs/manual.md).
    config.source_ips_text = "127.0.0.1-127.0.0.8";
  }
  if (!config.source_ips_text.empty()) {
    const auto sources = muxbench::parse_source_ips(config.source_ips_text);
    if (!sources) {
      throw UsageError(
          fmt::format("--source-ips {}: expected addresses or ranges such as "
                      "127.0.0.1-127.0.0.8,127.0.1.1",
                      config.source_ips_text));
    }
    config.source_ips = *sources;
    if (const auto foreign = muxbench::first_foreign_source(config.source_ips))
      throw UsageError(fmt::format("--source-ips: {}", *foreign));
  }
  if (app.count("--cpu") > 0) {
    if (raw.cpus.empty()) throw UsageError("--cpu: empty (e.g. 1 or 1,2)");
    const auto allowed = muxbench::allowed_cpus();
    for (const auto& item : CLI::detail::split(raw.cpus, ',')) {
      int cpu = -1;
      if (item.empty() || item.find_first_not_of("0123456789") != std::string::npos ||
          item.size() > 6 || !CLI::detail::lexical_cast(item, cpu)) {
        throw UsageError(fmt::format("--cpu: '{}' is not a CPU number (e.g. 1 or 1,2)", item));
      }
      if (std::find(allowed.begin(), allowed.end(), cpu) == allowed.end()) {
        throw UsageError(fmt::format("--cpu: CPU {} is not available (allowed: {})", cpu,
                                     muxbench::describe_cpus(allowed)));
      }
      config.cpus.push_back(cpu);
    }
  }
  // Every output is checked before any connection is opened; '-' is standard output.
  struct Output {
    std::string_view option;
    const std::string& path;
    std::optional<OutputPath>& into;
  };
  const Output outputs[] = {{"--json", raw.json, config.json},
                            {"--csv", raw.csv, config.csv},
                            {"--hdr", raw.hdr, config.hdr},
                            {"--hlog", raw.hlog, config.hlog}};
  std::vector<std::pair<std::string_view, std::optional<std::string>>> named;
  for (const Output& o : outputs) {
    o.into = output(o.option, o.path, app.count(std::string(o.option)) > 0);
    named.emplace_back(o.option, o.into ? std::optional(o.path) : std::nullopt);
  }
  muxbench::refuse_shared_outputs(named);
  // Each worker keeps a 216 KiB histogram per second of the window, made before the run.
  const std::uint64_t hlog_bytes = std::uint64_t{config.hlog_intervals()} *
                                   std::min<std::uint64_t>(config.threads, config.active) *
                                   sizeof(muxbench::LatencyHistogram);
  if (hlog_bytes > kMostHlogBytes) {
    throw UsageError(fmt::format(
        "--hlog: {} s of window on {} threads needs {} MiB of interval histograms (216 KiB per "
        "second per thread), more than {} MiB: shorten --duration or use fewer --threads",
        config.hlog_intervals(), std::min<std::uint64_t>(config.threads, config.active),
        hlog_bytes >> 20, kMostHlogBytes >> 20));
  }
}

}  // namespace

int main(int argc, char** argv) {
  LoadgenConfig config;
  RawOptions raw;
  CLI::App app{
      "Opens N idle and M active connections to an echo server and measures latency and "
      "throughput while the idle ones sit in the server's fd set. Every echoed byte is checked.\n"
      "Exit code: 0 clean, 1 errors (integrity, lost or failed connections), too few echoes "
      "(insufficient), an open loop that fell behind (overloaded; 0 with --allow-overload) or "
      "a report that could not be written, 2 bad usage, 130 interrupted (the reports are "
      "still written, marked so).",
      "loadgen"};
  muxbench::add_version_flag(app, "loadgen");
  app.add_option("--target", config.target_text, "the echo server, HOST:PORT")->required();
  const auto count = muxbench::decimal_count();
  app.add_option("--idle", config.idle, "connections opened first that never send")
      ->check(count)
      ->capture_default_str();
  app.add_option("--active", config.active, "connections that send and verify echoes")
      ->check(count)
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1} << 32))
      ->capture_default_str();
  app.add_option("--size", config.size, "bytes per message")
      ->check(count)
      ->check(CLI::Range(muxbench::MessageFormat::kMinSize, std::size_t{16} << 20))
      ->capture_default_str();
  app.add_option("--duration", raw.duration, "measured window (5s, 500ms, 2m)")
      ->capture_default_str();
  app.add_option("--warmup", raw.warmup, "load before the window, not measured")
      ->capture_default_str();
  app.add_option("--drain-timeout", raw.drain_timeout,
                 "after the window, how long to wait for echoes still in flight")
      ->capture_default_str();
  auto* depth = app.add_option("--depth", config.depth,
                               "closed loop: messages in flight per active connection")
                    ->check(count)
                    ->check(CLI::Range(1u, 1u << 20))
                    ->capture_default_str();
  app.add_option("--rate", raw.rate,
                 "open loop: aggregate messages per second, spread evenly over the active "
                 "connections; latency counts from each message's intended send time")
      ->check(positive_rate())
      ->excludes(depth);
  app.add_option("--late-tolerance", raw.late_tolerance,
                 "open loop: a send that leaves later than this after its intended time is late; "
                 "a lateness p99 beyond it (or an achieved rate below 98% of --rate) makes the "
                 "run overloaded")
      ->capture_default_str();
  app.add_flag("--allow-overload", config.allow_overload,
               "open loop: an overloaded run exits 0 (its status still says overloaded), for "
               "latency-vs-load series that go past capacity on purpose");
  app.add_option("--min-echoes", raw.min_echoes,
                 "a window with fewer completed echoes is insufficient (exit 1) [default: 100; "
                 "1 for --size of 1 MiB or more]")
      ->check(count);
  app.add_option(
         "--lifetime", raw.lifetime,
         "connection churn: each active connection carries K echo exchanges (closed loop: at "
         "most min(--depth, what is left of K) in flight), then loadgen closes it and at once "
         "connects a replacement from the same worker (open loop: sends due meanwhile wait for "
         "it, late as usual). loadgen closes first, so TIME_WAIT stays on its side: each closed "
         "connection holds a local port for 60 s unless net.ipv4.tcp_tw_reuse (2: loopback "
         "only, the default) lets connect() reuse it, and each --source-ips address has the "
         "ports of net.ipv4.ip_local_port_range. A connect that finds no free port is reported "
         "as port exhaustion (status errors), other failed connects as problems (the slot "
         "retries after 1-100 ms). Reports connections opened per second and connect latency "
         "(connect() to established). Idle connections stay open. Default: persistent "
         "connections")
      ->check(count)
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1} << 32));
  app.add_option("--source-ips", config.source_ips_text,
                 "local addresses to spread connections over (each brings its own ~28k "
                 "ephemeral ports); default for a loopback target: 127.0.0.1-127.0.0.8, "
                 "otherwise the kernel's choice; an address this host does not have is refused "
                 "(exit 2)");
  app.add_option("--connect-rate", raw.connect_rate,
                 "connection attempts per second (default: as fast as possible)")
      ->check(positive_rate());
  app.add_option("--cpu", raw.cpus, "pin worker threads to these CPUs, e.g. 1 or 1,2");
  app.add_option("--threads", config.threads, "worker threads, one epoll loop each")
      ->check(count)
      ->check(CLI::Range(1u, 256u))
      ->capture_default_str();
  app.add_flag("--busy-poll", config.busy_poll,
               "never sleep: spin on a zero-timeout wait (keeps core wake-up time out of latency)");
  app.add_option(
      "--json", raw.json,
      "write the full report (JSON) here; '-': on stdout (the summary then goes to stderr)");
  app.add_option("--csv", raw.csv, "write one CSV row (with header) here ('-': on stdout)");
  app.add_option("--hdr", raw.hdr,
                 "write HdrHistogram's percentile distribution text here (values in --hdr-unit; "
                 "'-': on stdout)");
  app.add_option("--hlog", raw.hlog,
                 "write HdrHistogram's interval log (.hlog) here: one latency histogram per second "
                 "of the window, by send (open loop: intended) time ('-': on stdout)");
  app.add_option("--hdr-unit", raw.hdr_unit,
                 "unit of the --hdr text: us or ms (wrk2 writes ms; a plot applies one unit to "
                 "every file)")
      ->check(CLI::IsMember({"us", "ms"}))
      ->capture_default_str();
  app.add_option("--signal-pid", raw.signal_pids,
                 "send SIGUSR1 to this process when the window starts and when it ends "
                 "(echo-server then writes a stats snapshot); repeat for several")
      ->check(count)
      ->check(CLI::Range(1, std::numeric_limits<int>::max()));
  app.add_option(
         "--start-at", raw.start_at,
         "begin the warm-up at this wall-clock time (ns since the epoch) once connected, so "
         "that generators on several hosts share one window (their clocks must agree); at most "
         "1 h ahead, and Ctrl-C ends the wait")
      ->check(count);
  app.add_flag("--quiet", config.quiet, "no progress line and no summary");
  try {
    app.parse(argc, argv);
    finish(config, raw, app);
  } catch (const CLI::Success& success) {
    return app.exit(success);
  } catch (const CLI::ParseError& error) {
    fmt::print(stderr, "loadgen: {} (see --help)\n", error.what());
    return muxbench::kExitUsage;
  } catch (const UsageError& error) {
    fmt::print(stderr, "loadgen: {}\n", error.what());
    return muxbench::kExitUsage;
  }
  try {
    return muxbench::run_loadgen(config);
  } catch (const UsageError& error) {
    fmt::print(stderr, "loadgen: {}\n", error.what());
    return muxbench::kExitUsage;
  } catch (const std::exception& error) {
    fmt::print(stderr, "loadgen: fatal: {}\n", error.what());
    return 1;
  }
}
