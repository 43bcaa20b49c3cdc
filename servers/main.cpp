// echo-server: one TCP echo server, several readiness backends. See README.md and DESIGN.md §4.
#include <fmt/format.h>
#include <signal.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/backend_table.hpp"
#include "common/command_line.hpp"
#include "common/cpu_affinity.hpp"
#include "common/fd_limit.hpp"
#include "common/output_path.hpp"
#include "servers/backends.hpp"
#include "servers/listener.hpp"
#include "servers/server_context.hpp"
#include "servers/uring_ring.hpp"

namespace {

using muxbench::kExitUsage;
using muxbench::parse_command_line;
using muxbench::ServerConfig;
using muxbench::UsageError;

std::string backend_help() {
  std::string help = "readiness backend (required unless --list-backends):";
  for (const auto& backend : muxbench::kBackendTable) {
    help += fmt::format("\n  {:<9} {}", backend.name, backend.description);
  }
  return help;
}

// --list-backends: the table for scripts (plots/plot.py), one name per line or as JSON.
void list_backends(bool json) {
  if (!json) {
    for (const auto& backend : muxbench::kBackendTable) fmt::print("{}\n", backend.name);
    return;
  }
  auto list = nlohmann::json::array();
  for (const auto& backend : muxbench::kBackendTable) {
    list.push_back({{"name", backend.name},
                    {"description", backend.description},
                    {"family", muxbench::to_string(backend.family)}});
  }
  fmt::print("{}\n", list.dump(2));
}

void validate(ServerConfig& config, const std::optional<std::string>& stats_file) {
  if (stats_file) config.stats_file = muxbench::OutputPath::checked("--stats-file", *stats_file);
  if (config.cpu) {
    if (const auto error = muxbench::pin_to_cpu(*config.cpu)) {
      throw UsageError("--cpu: " + *error);
    }
  }
}

int serve(ServerConfig& config, const std::optional<std::string>& stats_file) {
  validate(config, stats_file);
  ::signal(SIGPIPE, SIG_IGN);  // a peer that vanished must cost an EPIPE, not the process
  config.fd_limit = muxbench::raise_fd_limit_to_hard();
  muxbench::Listener listener(config.bind_address, config.port);
  config.port = listener.port();
  muxbench::ServerContext context{config, listener, [&config] {
                                    fmt::print("listening {}:{}\n", config.bind_address,
                                               config.port);
                                    std::fflush(stdout);
                                  }};
  fmt::print(stderr,
             "echo-server: backend {}, fd limit {} (hard {}), read size {}, max pending {} per "
             "connection and {} in total{}\n",
             config.backend, config.fd_limit.soft, config.fd_limit.hard, config.read_size,
             config.max_pending, config.max_total_pending,
             config.cpu ? fmt::format(", pinned to CPU {}", *config.cpu) : "");
  muxbench::find_run_function(config.backend)(context);
  if (context.snapshots_failed == 0) return 0;
  fmt::print(stderr, "echo-server: {} of {} stats snapshots could not be written\n",
             context.snapshots_failed, context.snapshots_published);
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  ServerConfig config;
  CLI::App app{
      "A TCP echo server whose backends differ only in how they wait for readiness.\n"
      "Prints 'listening ADDRESS:PORT' on stdout once it accepts connections.\n"
      "SIGUSR1 writes a stats snapshot; SIGINT/SIGTERM stop it and write the last one.\n"
      "Exit code: 0 stopped by a signal, 1 fatal error or a stats snapshot that could not be "
      "written, 2 bad usage, 4 the backend is unsupported here (io_uring unavailable).",
      "echo-server"};
  std::vector<std::string> names;
  for (const auto& backend : muxbench::kBackendTable) names.emplace_back(backend.name);
  int port = 0;
  int cpu = -1;
  std::string stats_file;
  bool list = false, list_json = false;
  // Required unless --list-backends: checked once everything is parsed (below).
  app.add_option("--backend", config.backend, backend_help())->check(CLI::IsMember(names));
  auto* list_flag =
      app.add_flag("--list-backends", list, "print the backends' names, one a line, and exit");
  app.add_flag("--json", list_json,
               "with --list-backends: a JSON array of {name, description, family}")
      ->needs(list_flag);
  app.callback([&] {
    if (!list && config.backend.empty()) throw CLI::RequiredError("--backend");
  });
  app.add_option("--bind", config.bind_address, "IPv4 address to listen on")->capture_default_str();
  app.add_option("--port", port, "TCP port; 0 picks a free one")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  app.add_option("--read-size", config.read_size, "bytes asked for by each read")
      ->check(CLI::Range(std::size_t{1}, std::size_t{16} << 20))
      ->capture_default_str();
  app.add_option("--max-pending", config.max_pending,
                 "per-connection cap on unsent echo bytes; reading pauses above it")
      ->transform(muxbench::byte_size())
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 30))
      ->capture_default_str();
  app.add_option("--max-total-pending", config.max_total_pending,
                 "budget of unsent echo bytes over all connections (e.g. 256MiB); above it, "
                 "connections owing more than their share pause reading")
      ->transform(muxbench::byte_size())
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 40))
      ->capture_default_str();
  app.add_option("--cpu", cpu, "pin the server to this CPU")->check(CLI::NonNegativeNumber);
  auto* stats_file_option =
      app.add_option("--stats-file", stats_file,
                     "where SIGUSR1 and exit write the stats JSON (atomically); default or '-': "
                     "stdout, one line per snapshot. Checked before serving");
  muxbench::add_version_flag(app, "echo-server");
  if (const auto exit_code = parse_command_line(app, argc, argv, "echo-server")) return *exit_code;
  if (list) {
    list_backends(list_json);
    return 0;
  }
  config.port = static_cast<std::uint16_t>(port);
  if (cpu >= 0) config.cpu = cpu;

  try {
    return serve(config, stats_file_option->count() > 0 ? std::optional(stats_file) : std::nullopt);
  } catch (const UsageError& error) {
    fmt::print(stderr, "echo-server: {}\n", error.what());
    return kExitUsage;
  } catch (const muxbench::UringUnavailable& error) {
    fmt::print(stderr, "echo-server: backend {} is unsupported here: {}\n", config.backend,
               error.what());
    return muxbench::kExitUnsupported;
  } catch (const std::exception& error) {
    fmt::print(stderr, "echo-server: fatal: {}\n", error.what());
    return 1;
  }
}
