// Bad usage: exit code 2 and exactly one line on stderr, never a hang or a stack trace.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/backend_table.hpp"
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
  for (const auto& backend : kBackendTable) {
    EXPECT_NE(result.out.find(backend.name), std::string::npos) << backend.name;
  }
}

TEST(EchoServerUsage, ListBackendsPrintsOneNamePerLineInTableOrder) {
  const auto result = run_command({echo_server_path(), "--list-backends"}, 10s);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.err, "");
  std::istringstream lines(result.out);
  std::string line;
  for (const auto& backend : kBackendTable) {
    ASSERT_TRUE(std::getline(lines, line)) << "missing " << backend.name;
    EXPECT_EQ(line, backend.name);
  }
  EXPECT_FALSE(std::getline(lines, line)) << "unexpected line: " << line;
}

TEST(EchoServerUsage, ListBackendsAsJsonForMachines) {
  const auto result = run_command({echo_server_path(), "--list-backends", "--json"}, 10s);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto list = nlohmann::json::parse(result.out);
  ASSERT_TRUE(list.is_array());
  ASSERT_EQ(list.size(), kBackendTable.size());
  for (std::size_t i = 0; i < kBackendTable.size(); ++i) {
    EXPECT_EQ(list[i]["name"], kBackendTable[i].name);
    EXPECT_EQ(list[i]["description"], kBackendTable[i].description);
    EXPECT_EQ(list[i]["family"], to_string(kBackendTable[i].family));
    EXPECT_EQ(list[i].size(), 3u) << list[i];
  }
}

TEST(EchoServerUsage, JsonWithoutListBackends) {
  expect_usage_error({"--backend", "poll", "--json"}, "--list-backends");
}

}  // namespace
}  // namespace muxbench::testing
