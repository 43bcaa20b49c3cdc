#pragma once

#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/subprocess.hpp"

namespace muxbench::testing {

// A server that is not our echo-server: only its argv is known, and it says nothing beyond the
// echo contract. What the tests learn about it, they learn from outside (/proc, the sockets).
struct ForeignServer {
  std::string name;               // test-name safe: python_select, ..., libuv
  std::vector<std::string> argv;  // without --port
  std::string missing;            // non-empty: cannot run here, and why
};

// The shipped foreign servers: the Python modes under /usr/bin/python3 and libuv-echo-server.
std::vector<ForeignServer> foreign_servers();
ForeignServer foreign_server(const std::string& name);

// Starts `argv --port 0` and reads its 'listening ADDRESS:PORT' line; or, given a port, starts
// `argv --port PORT` and polls connect() until it accepts. Throws if it is not ready in 10 s.
// Killed if still running at the end of the test.
class ForeignServerProcess {
 public:
  explicit ForeignServerProcess(const std::vector<std::string>& argv, std::uint16_t port = 0,
                                SpawnOptions options = default_options());

  std::uint16_t port() const { return port_; }
  pid_t pid() const { return process_.pid(); }
  bool running() { return !process_.wait(std::chrono::milliseconds(0)); }

  // Sends the signal and waits for the exit; returns the exit code (nullopt: did not exit).
  std::optional<int> stop(int signal_number = SIGTERM);
  // Everything it wrote on stderr (complete once it has stopped).
  std::string stderr_text();

  // VmRSS from /proc/PID/status, in bytes.
  std::uint64_t rss_bytes() const;
  // Entries in /proc/PID/fd: the server's open descriptors, sockets included.
  std::size_t open_fds() const;
  // User + system CPU time of all its threads, from /proc/PID/task/*/schedstat.
  std::chrono::nanoseconds cpu_time() const;

  static SpawnOptions default_options() {
    SpawnOptions options;
    options.capture_stderr = true;
    return options;
  }

 private:
  Subprocess process_;
  std::uint16_t port_ = 0;
  std::string stderr_;
};

}  // namespace muxbench::testing
