#include "bench/sweep/foreign_servers.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <thread>

#include "common/backend_table.hpp"
#include "common/tcp_client.hpp"
#include "common/usage_error.hpp"

namespace muxbench {
namespace {

using namespace std::chrono_literals;

// A port nobody listens on now (the kernel's choice for an ephemeral bind); the server binds it
// a moment later.
std::optional<std::uint16_t> free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  std::optional<std::uint16_t> port;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    port = ntohs(address.sin_port);
  }
  ::close(fd);
  return port;
}

bool accepts_connections(std::uint16_t port) {
  try {
    ::close(connect_to(port));
    return true;
  } catch (const std::system_error&) {
    return false;
  }
}

bool valid_name(std::string_view name) {
  return !name.empty() && std::isalnum(static_cast<unsigned char>(name.front())) &&
         name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789._-") == std::string::npos;
}

}  // namespace

std::vector<ForeignServer> shipped_servers(const Tools& tools) {
  std::vector<ForeignServer> servers;
  if (std::filesystem::exists(tools.python) && std::filesystem::exists(tools.python_echo_server)) {
    for (const char* mode : {"select", "poll", "epoll", "selectors", "asyncio"}) {
      servers.push_back({fmt::format("python-{}", mode),
                         fmt::format("{} {} --mode {} --port {{port}} --cpu {{cpu}}", tools.python,
                                     tools.python_echo_server, mode)});
    }
  }
  if (!tools.libuv_echo_server.empty() && std::filesystem::exists(tools.libuv_echo_server)) {
    servers.push_back(
        {"libuv", fmt::format("{} --port {{port}} --cpu {{cpu}}", tools.libuv_echo_server)});
  }
  return servers;
}

ForeignServer parse_server_option(std::string_view text) {
  const auto equals = text.find('=');
  if (equals == std::string_view::npos) {
    throw UsageError(fmt::format("--server {}: expected NAME=TEMPLATE", text));
  }
  ForeignServer server{std::string(text.substr(0, equals)), std::string(text.substr(equals + 1))};
  if (!valid_name(server.name)) {
    throw UsageError(fmt::format(
        "--server {}: a name is lower-case letters, digits, '.', '_' and '-'", server.name));
  }
  if (find_backend_info(server.name)) {
    throw UsageError(
        fmt::format("--server {}: that is one of echo-server's backends", server.name));
  }
  if (server.command.find("{port}") == std::string::npos) {
    throw UsageError(fmt::format("--server {}: the template must contain {{port}}", server.name));
  }
  return server;
}

const ForeignServer* find_server(const std::vector<ForeignServer>& servers, std::string_view name) {
  for (const auto& server : servers) {
    if (server.name == name) return &server;
  }
  return nullptr;
}

ForeignStart start_foreign_server(const ForeignServer& server, int cpu,
                                  std::chrono::milliseconds timeout) {
  ForeignStart start;
  const auto port = free_port();
  if (!port) {
    start.reason = fmt::format("no free port for {}: {}", server.name, std::strerror(errno));
    return start;
  }
  SpawnOptions options;
  options.capture_stderr = true;
  options.own_process_group = true;  // a template without exec, a server that forks: all of it
  options.cpu = cpu;                 // pinned here too, whatever the template does
  try {
    start.process.emplace(Subprocess::spawn(
        shell_command(server.command,
                      {{"{port}", std::to_string(*port)}, {"{cpu}", std::to_string(cpu)}}),
        options));
  } catch (const std::exception& e) {
    start.reason = fmt::format("cannot start {}: {}", server.name, e.what());
    return start;
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (accepts_connections(*port)) {
      start.target = fmt::format("127.0.0.1:{}", *port);
      return start;
    }
    if (const auto code = start.process->wait(20ms)) {
      start.reason = fmt::format(
          "{} {} before listening on port {}: {}", server.name,
          exit_description(*code, start.process->terminating_signal()), *port,
          last_line(start.process->drain_stderr(1s) + start.process->drain_stdout(0ms)));
      start.process.reset();
      return start;
    }
  }
  start.reason =
      fmt::format("{} did not accept connections on port {} within {} s", server.name, *port,
                  std::chrono::duration_cast<std::chrono::seconds>(timeout).count());
  start.process->send_signal(SIGKILL);
  start.process->wait(5s);
  start.process.reset();
  return start;
}

std::optional<std::string> stop_foreign_server(Subprocess& process, const std::string& name) {
  constexpr auto kGrace = 10s;
  process.send_signal(SIGTERM);
  auto code = process.wait(kGrace);
  if (!code) {
    process.send_signal(SIGKILL);
    process.wait(5s);
    return fmt::format("{} was killed by the sweep after {} s: it did not exit on SIGTERM", name,
                       kGrace.count());
  }
  if (*code == 0 || process.terminating_signal() == SIGTERM) return std::nullopt;
  return fmt::format("{} {}", name, exit_description(*code, process.terminating_signal()));
}

}  // namespace muxbench
