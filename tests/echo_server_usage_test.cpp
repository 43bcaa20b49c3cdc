// Bad usage: exit code 2 and exactly one line on stderr, never a hang or a stack trace.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "common/backend_table.hpp"
#include "common/subprocess.hpp"
#include "common/version.hpp"
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
TEST(EchoServerUsage, StatsFileThatCannotBeWritten) {
  expect_usage_error({"--backend", "poll", "--stats-file", "/proc/version"}, "--stats-file");
  expect_usage_error({"--backend", "poll", "--stats-file", "/tmp"}, "is a directory");
  expect_usage_error({"--backend", "poll", "--stats-file", ""}, "--stats-file");
}
TEST(EchoServerUsage, UnknownOptionIsNamedBeforeAMissingBackend) {
  expect_usage_error({"--bogus"}, "--bogus");
}
TEST(EchoServerUsage, MaxTotalPendingMustBeASize) {
  for (const char* bad : {"0", "-1", "0x10", "1.5MiB", "nan", "", "16 parsecs", "99EiB"}) {
    expect_usage_error({"--backend", "poll", "--max-total-pending", bad}, "--max-total-pending");
  }
}
TEST(EchoServerUsage, VersionPrintsTheProjectVersionAndGitRevision) {
  testing::expect_version(echo_server_path(), "echo-server");
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

namespace muxbench::testing {
namespace {

using namespace std::chrono_literals;

// A snapshot that cannot be written is said on stderr with the path and the reason, the server
// keeps serving, and its exit code is 1 (a run that lost its numbers is not a success).
TEST(EchoServerOutput, AFailedSnapshotWriteIsReportedAndMakesTheExitCodeOne) {
  TempDir dir;
  const auto stats_dir = dir.path() / "stats";
  std::filesystem::create_directory(stats_dir);
  const auto stats = stats_dir / "stats.json";
  SpawnOptions options;
  options.capture_stderr = true;
  auto server = Subprocess::spawn(
      {echo_server_path(), "--backend", "poll", "--stats-file", stats.string()}, options);
  ASSERT_EQ(server.read_line(10s).value_or("").rfind("listening ", 0), 0u);
  std::filesystem::remove_all(stats_dir);  // from now on every snapshot fails
  server.send_signal(SIGUSR1);
  std::this_thread::sleep_for(200ms);
  EXPECT_TRUE(server.running()) << "a failed snapshot is not fatal";
  server.send_signal(SIGTERM);
  EXPECT_EQ(server.wait(10s), 1);
  const std::string err = server.drain_stderr(5s);
  EXPECT_NE(err.find(stats.string()), std::string::npos) << err;
  EXPECT_NE(err.find("No such file or directory"), std::string::npos) << err;
  EXPECT_NE(err.find("2 of 2 stats snapshots could not be written"), std::string::npos) << err;
}

TEST(EchoServerOutput, SnapshotsToAFullStandardOutputMakeTheExitCodeOne) {
  const auto result = run_command(
      {"/bin/sh", "-c",
       "\"$0\" --backend epoll-lt >/dev/full & pid=$!; sleep 0.5; kill -USR1 $pid; sleep 0.2; "
       "kill $pid; wait $pid",
       echo_server_path()},
      20s);
  EXPECT_EQ(result.exit_code, 1) << result.err;
  EXPECT_NE(result.err.find("cannot write to standard output: No space left on device"),
            std::string::npos)
      << result.err;
}

TEST(EchoServerOutput, DashMeansStandardOutput) {
  SpawnOptions options;
  auto server =
      Subprocess::spawn({echo_server_path(), "--backend", "poll", "--stats-file", "-"}, options);
  ASSERT_EQ(server.read_line(10s).value_or("").rfind("listening ", 0), 0u);
  server.send_signal(SIGUSR1);
  const auto line = server.read_line(10s);
  ASSERT_TRUE(line);
  EXPECT_EQ(nlohmann::json::parse(*line)["kind"], "echo-server-stats");
  EXPECT_FALSE(std::filesystem::exists("-"));
  server.send_signal(SIGTERM);
  EXPECT_EQ(server.wait(10s), 0);
}

}  // namespace
}  // namespace muxbench::testing
