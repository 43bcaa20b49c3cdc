#include "tests/support/foreign_server_process.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <thread>

#include "common/tcp_client.hpp"

namespace muxbench::testing {
namespace {

constexpr const char* kPython = "/usr/bin/python3";  // Debian's, not the pyenv one on PATH

bool executable(const std::string& path) {
  return !path.empty() && ::access(path.c_str(), X_OK) == 0;
}

Subprocess start(std::vector<std::string> argv, std::uint16_t port, const SpawnOptions& options) {
  argv.insert(argv.end(), {"--port", std::to_string(port)});
  return Subprocess::spawn(argv, options);
}

}  // namespace

std::vector<ForeignServer> foreign_servers() {
  std::vector<ForeignServer> servers;
  const std::string script = MUXBENCH_PYTHON_ECHO_SERVER;
  for (const char* mode : {"select", "poll", "epoll", "selectors", "asyncio", "asyncio-streams"}) {
    ForeignServer server{"python_" + std::string(mode), {kPython, script, "--mode", mode}, {}};
    for (char& c : server.name) {
      if (c == '-') c = '_';
    }
    if (!executable(kPython)) server.missing = std::string(kPython) + " is not installed";
    servers.push_back(std::move(server));
  }
  const std::string libuv = MUXBENCH_LIBUV_ECHO_SERVER;
  servers.push_back({"libuv",
                     {libuv},
                     executable(libuv) ? "" : "libuv-echo-server was not built (no libuv found)"});
  return servers;
}

ForeignServer foreign_server(const std::string& name) {
  for (auto& server : foreign_servers()) {
    if (server.name == name) return server;
  }
  throw std::invalid_argument("no foreign server named " + name);
}

ForeignServerProcess::ForeignServerProcess(const std::vector<std::string>& argv, std::uint16_t port,
                                           SpawnOptions options)
    : process_(start(argv, port, options)), port_(port) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  if (port == 0) {
    const auto line = process_.read_line(std::chrono::seconds(10));
    const std::string prefix = "listening ";
    if (!line || line->rfind(prefix, 0) != 0) {
      throw std::runtime_error("the server did not announce itself: " + line.value_or("<nothing>") +
                               "\n" + stderr_text());
    }
    port_ = static_cast<std::uint16_t>(std::stoi(line->substr(line->rfind(':') + 1)));
    return;
  }
  // Readiness as the sweep detects it for a server that prints nothing: the port accepts.
  for (;;) {
    try {
      ::close(connect_to(port_));
      return;
    } catch (const std::system_error&) {
      if (std::chrono::steady_clock::now() >= deadline || !running()) {
        throw std::runtime_error("the server never accepted on port " + std::to_string(port_) +
                                 "\n" + stderr_text());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
}

std::optional<int> ForeignServerProcess::stop(int signal_number) {
  process_.send_signal(signal_number);
  return process_.wait(std::chrono::seconds(20));
}

std::string ForeignServerProcess::stderr_text() {
  stderr_ += process_.drain_stderr(std::chrono::milliseconds(running() ? 50 : 2000));
  return stderr_;
}

std::uint64_t ForeignServerProcess::rss_bytes() const {
  std::ifstream status("/proc/" + std::to_string(pid()) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6)) * 1024;  // "N kB"
  }
  throw std::runtime_error("no VmRSS for process " + std::to_string(pid()));
}

std::size_t ForeignServerProcess::open_fds() const {
  std::size_t count = 0;
  for ([[maybe_unused]] const auto& entry :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid()) + "/fd")) {
    ++count;
  }
  return count;
}

std::chrono::nanoseconds ForeignServerProcess::cpu_time() const {
  std::chrono::nanoseconds total{0};
  for (const auto& task :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid()) + "/task")) {
    std::ifstream schedstat(task.path() / "schedstat");
    std::uint64_t on_cpu_ns = 0;
    if (schedstat >> on_cpu_ns) total += std::chrono::nanoseconds(on_cpu_ns);
  }
  return total;
}

}  // namespace muxbench::testing
