#pragma once

#include <signal.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/subprocess.hpp"

namespace muxbench::testing {

// A directory under /tmp removed with everything in it when the object goes.
class TempDir {
 public:
  TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

std::string echo_server_path();

// An echo-server child started on a free port with a stats file; killed if still running at the
// end of the test.
class EchoServerProcess {
 public:
  explicit EchoServerProcess(const std::string& backend, std::vector<std::string> extra_args = {},
                             std::optional<std::uint64_t> fd_limit = std::nullopt);

  std::uint16_t port() const { return port_; }
  pid_t pid() const { return process_.pid(); }
  bool running() { return !process_.wait(std::chrono::milliseconds(0)); }

  // Sends SIGUSR1 and returns the snapshot it wrote (throws if none appears within 10 s).
  nlohmann::json snapshot();
  // Snapshots until `condition` holds or the timeout passes; returns the last snapshot.
  template <class Condition>
  nlohmann::json snapshot_until(Condition condition, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      auto stats = snapshot();
      if (condition(stats) || std::chrono::steady_clock::now() >= deadline) return stats;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  // Sends the signal and waits for the exit; returns the exit code (nullopt: did not exit).
  std::optional<int> stop(int signal_number = SIGTERM);
  // The last snapshot on disk (the final one after stop()).
  nlohmann::json read_stats_file() const;

 private:
  TempDir dir_;
  std::filesystem::path stats_path_;
  Subprocess process_;
  std::uint16_t port_ = 0;
  std::uint64_t last_sequence_ = 0;
};

}  // namespace muxbench::testing
