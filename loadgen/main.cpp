// loadgen: N idle + M active connections against one echo server; latency, throughput, integrity.
#include <arpa/inet.h>
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <filesystem>

#include "common/atomic_file.hpp"
#include "common/cpu_affinity.hpp"
#include "common/duration.hpp"
#include "common/usage_error.hpp"
#include "loadgen/addresses.hpp"
#include "loadgen/config.hpp"
#include "loadgen/message.hpp"
#include "loadgen/run.hpp"

namespace {

using muxbench::LoadgenConfig;
using muxbench::UsageError;

void check_output_directory(std::string_view option, const std::optional<std::string>& path) {
  if (path && *path != "-") muxbench::require_parent_directory(option, *path);
}

struct RawOptions {
  std::string duration = "5s", warmup = "1s", drain_timeout = "5s", cpus;
  double rate = 0, connect_rate = 0;
  int signal_pid = 0;
  std::int64_t start_at = 0;
  std::string json, csv, hdr;
};

void finish(LoadgenConfig& config, const RawOptions& raw) {
  const auto target = muxbench::parse_target(config.target_text);
  if (!target) {
    throw UsageError(
        fmt::format("--target {}: expected HOST:PORT with an IPv4 host", config.target_text));
  }
  config.target = *target;
  config.duration = muxbench::duration_option("--duration", raw.duration, false);
  config.warmup = muxbench::duration_option("--warmup", raw.warmup, true);
  config.drain_timeout = muxbench::duration_option("--drain-timeout", raw.drain_timeout, true);
  if (raw.rate > 0) config.rate = raw.rate;
  if (raw.connect_rate > 0) config.connect_rate = raw.connect_rate;
  if (raw.signal_pid > 0) config.signal_pid = raw.signal_pid;
  if (raw.start_at > 0) config.start_at_unix_ns = raw.start_at;
  const bool loopback_target = (ntohl(config.target.sin_addr.s_addr) >> 24) == 127;
  if (config.source_ips_text.empty() && loopback_target) {
    // One source address has ~28k ephemeral ports, and connect() slows down badly once about half
    // of them are taken (19,900 connections: 6.4 s from one address, 0.56 s from four).
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
  }
  if (!raw.cpus.empty()) {
    const auto allowed = muxbench::allowed_cpus();
    for (const auto& item : CLI::detail::split(raw.cpus, ',')) {
      int cpu = -1;
      if (!CLI::detail::lexical_cast(item, cpu) ||
          std::find(allowed.begin(), allowed.end(), cpu) == allowed.end()) {
        throw UsageError(fmt::format("--cpu {}: CPU {} is not available (allowed: {})", raw.cpus,
                                     item, muxbench::describe_cpus(allowed)));
      }
      config.cpus.push_back(cpu);
    }
  }
  if (!raw.json.empty()) config.json_path = raw.json;
  if (!raw.csv.empty()) config.csv_path = raw.csv;
  if (!raw.hdr.empty()) config.hdr_path = raw.hdr;
  check_output_directory("--json", config.json_path);
  check_output_directory("--csv", config.csv_path);
  check_output_directory("--hdr", config.hdr_path);
}

}  // namespace

int main(int argc, char** argv) {
  LoadgenConfig config;
  RawOptions raw;
  CLI::App app{
      "Opens N idle and M active connections to an echo server and measures latency and "
      "throughput while the idle ones sit in the server's fd set. Every echoed byte is checked.\n"
      "Exit code: 0 clean, 1 errors (integrity, lost or failed connections), 2 bad usage, "
      "130 interrupted (the reports are still written, marked so).",
      "loadgen"};
  app.add_option("--target", config.target_text, "the echo server, HOST:PORT")->required();
  app.add_option("--idle", config.idle, "connections opened first that never send")
      ->capture_default_str();
  app.add_option("--active", config.active, "connections that send and verify echoes")
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1} << 32))
      ->capture_default_str();
  app.add_option("--size", config.size, "bytes per message")
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
                    ->check(CLI::Range(1u, 1u << 20))
                    ->capture_default_str();
  app.add_option("--rate", raw.rate,
                 "open loop: aggregate messages per second, spread evenly over the active "
                 "connections; latency counts from each message's intended send time")
      ->check(CLI::PositiveNumber)
      ->excludes(depth);
  app.add_option("--source-ips", config.source_ips_text,
                 "local addresses to spread connections over (each brings its own ~28k "
                 "ephemeral ports); default for a loopback target: 127.0.0.1-127.0.0.8, "
                 "otherwise the kernel's choice");
  app.add_option("--connect-rate", raw.connect_rate,
                 "connection attempts per second (default: as fast as possible)")
      ->check(CLI::PositiveNumber);
  app.add_option("--cpu", raw.cpus, "pin worker threads to these CPUs, e.g. 1 or 1,2");
  app.add_option("--threads", config.threads, "worker threads, one epoll loop each")
      ->check(CLI::Range(1u, 256u))
      ->capture_default_str();
  app.add_flag("--busy-poll", config.busy_poll,
               "never sleep: spin on a zero-timeout wait (keeps core wake-up time out of latency)");
  app.add_option(
      "--json", raw.json,
      "write the full report (JSON) here; '-': on stdout (the summary then goes to stderr)");
  app.add_option("--csv", raw.csv, "write one CSV row (with header) here");
  app.add_option("--hdr", raw.hdr, "write HdrHistogram's percentile distribution text here (us)");
  app.add_option("--signal-pid", raw.signal_pid,
                 "send SIGUSR1 to this process when the window starts and when it ends "
                 "(echo-server then writes a stats snapshot)")
      ->check(CLI::PositiveNumber);
  app.add_option(
         "--start-at", raw.start_at,
         "begin the warm-up at this wall-clock time (ns since the epoch) once connected, so "
         "that generators on several hosts share one window (their clocks must agree)")
      ->check(CLI::PositiveNumber);
  app.add_flag("--quiet", config.quiet, "no progress line and no summary");
  try {
    app.parse(argc, argv);
    finish(config, raw);
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
