// Descriptor limits: select's FD_SETSIZE and the process fd limit (EMFILE).
#include <gtest/gtest.h>
#include <sys/select.h>
#include <unistd.h>

#include <thread>

#include "common/fd_limit.hpp"
#include "tests/backends.hpp"
#include "tests/support/echo_clients.hpp"
#include "tests/support/echo_server_process.hpp"

namespace muxbench::testing {
namespace {

using namespace std::chrono_literals;

class EchoServerLimitsTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { raise_fd_limit_to_hard(); }
  void TearDown() override {
    for (const int fd : fds_) ::close(fd);
  }
  std::vector<int> fds_;
};

std::uint64_t cpu_microseconds(const nlohmann::json& stats) {
  return stats["cpu"]["user_us"].get<std::uint64_t>() +
         stats["cpu"]["system_us"].get<std::uint64_t>();
}

// select() cannot watch a descriptor >= FD_SETSIZE: such connections must be accepted and closed
// (and counted), never FD_SET; every other backend serves all of them.
TEST_P(EchoServerLimitsTest, ElevenHundredConnectionsAreServedOrRefusedCleanly) {
  EchoServerProcess server(GetParam());
  for (int i = 0; i < 1100; ++i) fds_.push_back(connect_to(server.port()));

  int served = 0, refused = 0;
  for (const int fd : fds_) {
    const std::string outcome = round_trip(fd, "x", 10s);
    if (outcome.empty()) {
      ++served;
    } else {
      ASSERT_TRUE(outcome == "eof" || outcome == "reset") << outcome;
      ++refused;
    }
  }
  const auto stats = server.snapshot();
  EXPECT_TRUE(server.running());
  EXPECT_EQ(stats["counters"]["accepts"], 1100);
  EXPECT_EQ(stats["counters"]["refused_fd_setsize"], refused);
  EXPECT_EQ(stats["gauges"]["open_connections"], served);
  if (GetParam() == "select") {
    EXPECT_GT(refused, 0);
    EXPECT_GT(served, FD_SETSIZE - 16) << "select should serve nearly FD_SETSIZE connections";
  } else {
    EXPECT_EQ(refused, 0);
  }
  // The survivors still echo after the refusals.
  for (int i = 0; i < 10; ++i) EXPECT_EQ(round_trip(fds_[i], "again", 5s), "");
  EXPECT_EQ(server.stop(), 0);
}

// At the fd limit, pending connections keep the listener readable: a server that only retries
// accept() would spin at 100% CPU. It must keep serving what it holds and stay nearly idle.
TEST_P(EchoServerLimitsTest, AtTheFdLimitItKeepsServingAndDoesNotSpin) {
  EchoServerProcess server(GetParam(), {}, /*fd_limit=*/64);
  for (int i = 0; i < 30; ++i) {
    fds_.push_back(connect_to(server.port()));
    ASSERT_EQ(round_trip(fds_.back(), "held", 5s), "") << "connection " << i;
  }

  const auto before = server.snapshot();
  const auto overload_until = std::chrono::steady_clock::now() + 1s;
  while (std::chrono::steady_clock::now() < overload_until) {  // keep the listener flooded
    for (int i = 0; i < 10; ++i) fds_.push_back(connect_to(server.port()));
    std::this_thread::sleep_for(20ms);
  }
  const auto after = server.snapshot();

  EXPECT_GE(after["counters"]["fd_limit_hits"].get<std::uint64_t>(), 1u);
  EXPECT_GE(after["counters"]["refused_fd_limit"].get<std::uint64_t>(), 1u);
  EXPECT_LT(cpu_microseconds(after) - cpu_microseconds(before), 250'000u)
      << "the server burned CPU while at its fd limit";
  for (int i = 0; i < 30; ++i) EXPECT_EQ(round_trip(fds_[i], "still", 5s), "") << i;
  EXPECT_TRUE(server.running());
  EXPECT_EQ(server.stop(), 0);
}

INSTANTIATE_TEST_SUITE_P(AllBackends, EchoServerLimitsTest, kAllBackends, backend_test_name);

}  // namespace
}  // namespace muxbench::testing
