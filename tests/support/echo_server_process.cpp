#include "tests/support/echo_server_process.hpp"

#include <stdlib.h>

#include <fstream>
#include <stdexcept>
#include <thread>

namespace muxbench::testing {

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "muxbench-test-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::string echo_server_path() { return MUXBENCH_ECHO_SERVER; }

namespace {

Subprocess start(const std::string& backend, const std::filesystem::path& stats_path,
                 std::vector<std::string> extra_args, std::optional<std::uint64_t> fd_limit) {
  std::vector<std::string> argv = {echo_server_path(), "--backend", backend, "--stats-file",
                                   stats_path.string()};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  SpawnOptions options;
  options.fd_limit = fd_limit;
  return Subprocess::spawn(argv, options);
}

}  // namespace

EchoServerProcess::EchoServerProcess(const std::string& backend,
                                     std::vector<std::string> extra_args,
                                     std::optional<std::uint64_t> fd_limit)
    : stats_path_(dir_.path() / "stats.json"),
      process_(start(backend, stats_path_, std::move(extra_args), fd_limit)) {
  const auto line = process_.read_line(std::chrono::seconds(10));
  const std::string prefix = "listening ";
  if (!line || line->rfind(prefix, 0) != 0) {
    throw std::runtime_error("echo-server did not announce itself: " + line.value_or("<nothing>"));
  }
  port_ = static_cast<std::uint16_t>(std::stoi(line->substr(line->rfind(':') + 1)));
}

nlohmann::json EchoServerProcess::read_stats_file() const {
  std::ifstream in(stats_path_);
  if (!in) return nullptr;
  return nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
}

nlohmann::json EchoServerProcess::snapshot() {
  if (!process_.send_signal(SIGUSR1)) throw std::runtime_error("echo-server is not running");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    auto stats = read_stats_file();
    if (stats.is_object() && stats.value("sequence", std::uint64_t{0}) > last_sequence_) {
      last_sequence_ = stats["sequence"].get<std::uint64_t>();
      return stats;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  throw std::runtime_error("echo-server wrote no snapshot within 10 s");
}

std::optional<int> EchoServerProcess::stop(int signal_number) {
  process_.send_signal(signal_number);
  return process_.wait(std::chrono::seconds(20));
}

}  // namespace muxbench::testing
