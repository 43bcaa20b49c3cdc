// CPU, memory and descriptors measured from outside through /proc must agree with what our own
// servers report about themselves, so that foreign servers measured only from outside are
// measured the same way.
#include "common/process_usage.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>

#include "tests/backends.hpp"
#include "tests/support/echo_clients.hpp"
#include "tests/support/echo_server_process.hpp"

namespace muxbench::testing {
namespace {

using namespace std::chrono_literals;

double snapshot_cpu_ns(const nlohmann::json& stats) {
  return (stats["cpu"]["user_us"].get<double>() + stats["cpu"]["system_us"].get<double>()) * 1e3;
}

TEST(ProcessUsage, SeesThisProcess) {
  const auto usage = sample_process(::getpid());
  ASSERT_TRUE(usage);
  EXPECT_GT(usage->cpu_ns, 0u);
  EXPECT_GT(usage->rss_bytes, 0u);
  EXPECT_GE(usage->open_fds, 3u);  // stdin, stdout, stderr at least
  EXPECT_GE(usage->threads, 1u);
}

TEST(ProcessUsage, AGoneProcessIsNothing) { EXPECT_FALSE(sample_process(0x3fffffff)); }

class ProcessUsageAgrees : public ::testing::TestWithParam<std::string> {};

// For every backend: /proc's CPU over a busy second equals the server's own getrusage within a
// few percent (both count the same scheduler runtime; the snapshots themselves cost a little).
TEST_P(ProcessUsageAgrees, WithTheServersOwnGetrusage) {
  EchoServerProcess server(GetParam());
  const auto first = server.snapshot();
  const auto outside_first = sample_process(server.pid());
  ASSERT_TRUE(outside_first);
  std::vector<EchoJob> jobs;
  for (int c = 0; c < 20; ++c) {
    auto job = EchoJob{};
    job.fd = connect_to(server.port());
    job.messages.assign(4000, 64);
    job.pattern_start = static_cast<std::uint64_t>(c) * 7919;
    jobs.push_back(job);
  }
  const auto result = drive_echo(jobs, 60s);
  ASSERT_EQ(result.failed, 0u) << result.first_error;
  const auto outside_last = sample_process(server.pid());
  const auto last = server.snapshot();
  ASSERT_TRUE(outside_last);
  const double inside = snapshot_cpu_ns(last) - snapshot_cpu_ns(first);
  const double outside = static_cast<double>(outside_last->cpu_ns - outside_first->cpu_ns);
  ASSERT_GT(inside, 20e6) << "too little work to compare";
  EXPECT_NEAR(outside / inside, 1.0, 0.02) << "inside " << inside << " ns, outside " << outside;
  EXPECT_GE(outside_last->open_fds, 20u);  // the clients' connections
  for (auto& job : jobs) ::close(job.fd);
}

INSTANTIATE_TEST_SUITE_P(EveryBackend, ProcessUsageAgrees, kAllBackends, backend_test_name);

}  // namespace
}  // namespace muxbench::testing
