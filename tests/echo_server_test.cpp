// The echo contract, checked identically for every backend.
#include <gtest/gtest.h>
#include <unistd.h>

#include <random>
#include <thread>

#include "tests/backends.hpp"
#include "tests/support/echo_clients.hpp"
#include "tests/support/echo_server_process.hpp"

namespace muxbench::testing {
namespace {

using namespace std::chrono_literals;

class EchoServerTest : public ::testing::TestWithParam<std::string> {
 protected:
  void TearDown() override {
    for (const int fd : fds_) ::close(fd);
  }
  int connect(std::uint16_t port, int receive_buffer = 0) {
    fds_.push_back(connect_to(port, receive_buffer));
    return fds_.back();
  }
  std::vector<int> fds_;
};

TEST_P(EchoServerTest, OneClientGetsEveryMessageBackByteForByte) {
  EchoServerProcess server(GetParam());
  std::vector<EchoJob> jobs(1);
  jobs[0].fd = connect(server.port());
  jobs[0].messages = {1, 2, 100, 16383, 16384, 16385, 65536, 1 << 20, 3 * (1 << 20) + 7};
  const auto result = drive_echo(jobs, 60s);
  EXPECT_EQ(result.failed, 0u) << result.first_error;

  const auto stats = server.snapshot();
  std::uint64_t total = 0;
  for (const auto size : jobs[0].messages) total += size;
  EXPECT_EQ(stats["counters"]["bytes_in"], total);
  EXPECT_EQ(stats["counters"]["bytes_out"], total);
  EXPECT_EQ(stats["gauges"]["pending_bytes"], 0);
  EXPECT_EQ(server.stop(), 0);
}

TEST_P(EchoServerTest, TwoHundredConcurrentClientsWithRandomSizes) {
  EchoServerProcess server(GetParam());
  std::mt19937_64 random(42);
  // Log-uniform sizes from 1 B to 1 MiB: many small messages, some large enough for partial writes.
  std::uniform_real_distribution<double> log2_size(0.0, 20.0);
  std::vector<EchoJob> jobs(200);
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    jobs[i].fd = connect(server.port());
    jobs[i].pattern_start = i * 7919;
    for (int m = 0; m < 3; ++m) {
      jobs[i].messages.push_back(static_cast<std::size_t>(std::exp2(log2_size(random))));
    }
  }
  jobs[0].messages.push_back(1 << 20);  // at least one full-size message
  const auto result = drive_echo(jobs, 120s);
  EXPECT_EQ(result.finished, jobs.size()) << result.first_error;

  const auto stats = server.snapshot();
  EXPECT_EQ(stats["counters"]["accepts"], 200);
  EXPECT_EQ(stats["gauges"]["open_connections"], 200);
  EXPECT_EQ(stats["counters"]["bytes_in"], stats["counters"]["bytes_out"]);
  EXPECT_EQ(stats["counters"]["closes_error"], 0);
  EXPECT_EQ(server.stop(), 0);
}

TEST_P(EchoServerTest, SlowReaderIsHeldAtTheCapAndLosesNothing) {
  constexpr std::size_t kCap = 1 << 20;
  constexpr std::size_t kReadSize = 16384;
  constexpr std::size_t kTotal = 8 << 20;
  EchoServerProcess server(GetParam(), {"--max-pending", std::to_string(kCap)});
  const auto before = server.snapshot();

  // A small receive buffer keeps the kernel from absorbing the echo on the client's side.
  std::vector<EchoJob> jobs(1);
  jobs[0].fd = connect(server.port(), 64 * 1024);
  jobs[0].messages = {kTotal};
  const auto write_until = std::chrono::steady_clock::now() + 1500ms;
  while (jobs[0].sent < kTotal && std::chrono::steady_clock::now() < write_until) {
    const long sent = Pattern::send(jobs[0].fd, jobs[0].sent, kTotal - jobs[0].sent);
    ASSERT_GE(sent, 0);
    if (sent == 0) std::this_thread::sleep_for(5ms);
    jobs[0].sent += static_cast<std::size_t>(sent);
  }
  // Loopback's autotuned socket buffers may take all 8 MiB from the client; the server must still
  // stop reading at its cap.
  const auto held = server.snapshot_until(
      [](const nlohmann::json& s) { return s["counters"]["backpressure_pauses"] >= 1; }, 5s);
  EXPECT_GE(held["counters"]["backpressure_pauses"], 1);
  EXPECT_LE(held["gauges"]["pending_bytes"].get<std::size_t>(), kCap + kReadSize);
  EXPECT_LE(held["gauges"]["max_connection_pending"].get<std::size_t>(), kCap + kReadSize);
  const auto rss_growth = held["memory"]["rss_bytes"].get<std::int64_t>() -
                          before["memory"]["rss_bytes"].get<std::int64_t>();
  // Under AddressSanitizer freed buffers stay in its quarantine and count in the RSS, so there the
  // server's own gauges above are the check.
#ifndef __SANITIZE_ADDRESS__
  EXPECT_LT(rss_growth, 4 << 20) << "the server buffered far more than the cap";
#else
  static_cast<void>(rss_growth);
#endif

  const auto result = drive_echo(jobs, 60s);
  EXPECT_EQ(result.failed, 0u) << result.first_error;
  const auto after = server.snapshot();
  EXPECT_EQ(after["counters"]["bytes_out"].get<std::size_t>() -
                before["counters"]["bytes_out"].get<std::size_t>(),
            kTotal);
  EXPECT_EQ(server.stop(), 0);
}

TEST_P(EchoServerTest, ResetMidMessageIsCountedAndOthersKeepBeingServed) {
  EchoServerProcess server(GetParam());
  const int bystander = connect(server.port());
  ASSERT_EQ(round_trip(bystander, "before", 5s), "");

  const int resetter = connect(server.port(), 64 * 1024);
  for (std::size_t sent = 0; sent < (2u << 20);) {  // enough that the server owes it bytes
    const long n = Pattern::send(resetter, sent, (2u << 20) - sent);
    if (n <= 0) break;
    sent += static_cast<std::size_t>(n);
  }
  std::this_thread::sleep_for(100ms);
  reset_and_close(resetter);
  std::erase(fds_, resetter);

  const auto stats = server.snapshot_until(
      [](const nlohmann::json& s) { return s["gauges"]["open_connections"] == 1; }, 5s);
  EXPECT_EQ(stats["gauges"]["open_connections"], 1);
  EXPECT_EQ(stats["counters"]["closes_reset"], 1);
  EXPECT_EQ(stats["gauges"]["pending_bytes"], 0);
  EXPECT_EQ(round_trip(bystander, "after", 5s), "");
  EXPECT_EQ(server.stop(), 0);
}

TEST_P(EchoServerTest, HalfCloseGetsTheRestOfItsEchoThenEndOfStream) {
  EchoServerProcess server(GetParam());
  std::vector<EchoJob> jobs(2);
  for (auto& job : jobs) {
    job.fd = connect(server.port());
    job.messages = {300 * 1024};
  }
  jobs[0].shutdown_after_last = true;
  const auto result = drive_echo(jobs, 30s);
  EXPECT_EQ(result.failed, 0u) << result.first_error;

  const auto stats = server.snapshot_until(
      [](const nlohmann::json& s) { return s["counters"]["closes_eof"] == 1; }, 5s);
  EXPECT_EQ(stats["counters"]["closes_eof"], 1);
  EXPECT_EQ(stats["gauges"]["open_connections"], 1);
  EXPECT_EQ(round_trip(jobs[1].fd, "still here", 5s), "");
  EXPECT_EQ(server.stop(), 0);
}

TEST_P(EchoServerTest, StatsSnapshotHasTheDocumentedFields) {
  EchoServerProcess server(GetParam());
  const int client = connect(server.port());
  ASSERT_EQ(round_trip(client, "ping", 5s), "");
  const auto stats = server.snapshot();
  EXPECT_EQ(stats["schema_version"], 1);
  EXPECT_EQ(stats["kind"], "echo-server-stats");
  EXPECT_EQ(stats["backend"], GetParam());
  EXPECT_EQ(stats["reason"], "signal");
  for (const char* key :
       {"wait_calls",    "events",        "fds_passed", "interest_changes",    "stale_events",
        "carried_over",  "submissions",   "accepts",    "refused_fd_setsize",  "refused_fd_limit",
        "fd_limit_hits", "accept_errors", "closes_eof", "closes_reset",        "closes_error",
        "half_closes",   "bytes_in",      "bytes_out",  "backpressure_pauses", "budget_pauses"}) {
    EXPECT_TRUE(stats["counters"].contains(key)) << key;
  }
  for (const char* key :
       {"open_connections", "pending_bytes", "max_connection_pending", "max_pending_bytes"}) {
    EXPECT_TRUE(stats["gauges"].contains(key)) << key;
  }
  EXPECT_EQ(stats["counters"]["bytes_in"], 4);
  EXPECT_TRUE(stats["cpu"]["user_us"].is_number_unsigned());
  EXPECT_TRUE(stats["cpu"]["system_us"].is_number_unsigned());
  EXPECT_GT(stats["memory"]["rss_bytes"].get<std::uint64_t>(), 0u);
  EXPECT_GT(stats["config"]["fd_limit"]["soft"].get<std::uint64_t>(), 0u);
  EXPECT_EQ(stats["config"]["fd_limit"]["soft"], stats["config"]["fd_limit"]["hard"]);
  EXPECT_EQ(stats["config"]["port"], server.port());
  if (GetParam() == "asio") {
    EXPECT_TRUE(stats["counters"]["wait_calls"].is_null()) << "Asio hides its wait calls";
  } else {
    EXPECT_GT(stats["counters"]["wait_calls"].get<std::uint64_t>(), 0u);
  }
}

TEST_P(EchoServerTest, SigtermAndSigintStopCleanlyWithAFinalSnapshot) {
  for (const int signal_number : {SIGTERM, SIGINT}) {
    EchoServerProcess server(GetParam());
    const int client = connect(server.port());
    ASSERT_EQ(round_trip(client, "bye", 5s), "");
    EXPECT_EQ(server.stop(signal_number), 0);
    const auto stats = server.read_stats_file();
    ASSERT_TRUE(stats.is_object());
    EXPECT_EQ(stats["reason"], "exit");
    EXPECT_EQ(stats["counters"]["bytes_out"], 3);
  }
}

INSTANTIATE_TEST_SUITE_P(AllBackends, EchoServerTest, kAllBackends, backend_test_name);

}  // namespace
}  // namespace muxbench::testing
