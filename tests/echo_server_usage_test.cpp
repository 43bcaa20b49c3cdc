// Bad usage: exit code 2 and exactly one line on stderr, never a hang or a stack trace.
#include <gtest/gtest.h>

#include <algorithm>

#include "common/subprocess.hpp"
#include "tests/support/echo_server_process.hpp"
#include "tests/support/usage.hpp"

namespace muxbench::testing {
namespace {

using namespace std::chrono_literals;

void expect_usage_error(std::vector<std::string> args, const std::string& mentions) {
  EXPECT_EQ(testing::expect_usage_error(echo_server_path(), std::move(args), mentions).out, "");
}

TEST(EchoServerUsage, UnknownBackend) { expect_usage_error({"--backend", "kqueue"}, "kqueue"); }
TEST(EchoServerUsage, MissingBackend) { expect_usage_error({}, "--backend"); }
TEST(EchoServerUsage, PortOutOfRange) {
  expect_usage_error({"--backend", "poll", "--port", "70000"}, "--port");
}
TEST(EchoServerUsage, PortNotANumber) {
  expect_usage_error({"--backend", "poll", "--port", "http"}, "--port");
}
TEST(EchoServerUsage, UnknownOption) {
  expect_usage_error({"--backend", "poll", "--turbo"}, "--turbo");
}
TEST(EchoServerUsage, ZeroReadSize) {
  expect_usage_error({"--backend", "poll", "--read-size", "0"}, "--read-size");
}
TEST(EchoServerUsage, BadBindAddress) {
  expect_usage_error({"--backend", "poll", "--bind", "localhost:80"}, "--bind");
}
TEST(EchoServerUsage, UnavailableCpu) {
  expect_usage_error({"--backend", "poll", "--cpu", "4096"}, "--cpu");
}
TEST(EchoServerUsage, StatsFileInMissingDirectory) {
  expect_usage_error({"--backend", "poll", "--stats-file", "/nonexistent/dir/stats.json"},
                     "--stats-file");
}
TEST(EchoServerUsage, PortAlreadyInUse) {
  EchoServerProcess first("epoll-lt");
  expect_usage_error({"--backend", "poll", "--port", std::to_string(first.port())},
                     "Address already in use");
}

TEST(EchoServerUsage, HelpListsEveryBackendAndExitsZero) {
  const auto result = run_command({echo_server_path(), "--help"}, 10s);
  ASSERT_EQ(result.exit_code, 0);
  for (const char* backend :
       {"select", "poll", "epoll-lt", "epoll-et", "asio", "uring-poll", "uring"}) {
    EXPECT_NE(result.out.find(backend), std::string::npos) << backend;
  }
}

}  // namespace
}  // namespace muxbench::testing
