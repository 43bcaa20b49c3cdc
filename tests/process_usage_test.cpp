// CPU, memory and descriptors measured from outside through /proc must agree with what our own
// servers report about themselves, so that foreign servers measured only from outside are
// measured the same way.
#include "common/process_usage.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "common/subprocess.hpp"
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

TEST(ProcessUsage, AGoneProcessIsNothing) {
  EXPECT_FALSE(sample_process(0x3fffffff));
  EXPECT_FALSE(sample_process_tree(0x3fffffff));
}

// Polls the tree of `pid` until `done` holds for a sample, or a few seconds pass.
template <typename Done>
std::optional<ProcessUsage> tree_when(pid_t pid, Done done) {
  for (int i = 0; i < 200; ++i) {
    const auto usage = sample_process_tree(pid);
    if (usage && done(*usage)) return usage;
    std::this_thread::sleep_for(50ms);
  }
  return std::nullopt;
}

// A template that runs its server under a shell (no exec), or a server that forks workers: the
// tree is measured, children included.
TEST(ProcessUsage, ATreeCountsEveryDescendant) {
  auto shell = Subprocess::spawn({"/bin/sh", "-c", "sleep 8 & sleep 8 & wait"});
  const auto usage = tree_when(shell.pid(), [](const ProcessUsage& u) { return u.processes == 3; });
  ASSERT_TRUE(usage) << "the shell and its two children";
  EXPECT_GE(usage->threads, 3u);
  EXPECT_GE(usage->open_fds, sample_process(shell.pid())->open_fds);
}

// A worker that did its work and was reaped still counts, through its parent's cutime + cstime.
TEST(ProcessUsage, ATreeKeepsTheCpuOfReapedChildren) {
  TempDir dir;
  const auto reaped = dir.path() / "reaped";
  auto shell =
      Subprocess::spawn({"/bin/sh", "-c",
                         "/bin/sh -c 'i=0; while [ $i -lt 400000 ]; do i=$((i+1)); done'; touch " +
                             reaped.string() + "; sleep 8"});
  for (int i = 0; i < 400 && !std::filesystem::exists(reaped); ++i)
    std::this_thread::sleep_for(50ms);
  ASSERT_TRUE(std::filesystem::exists(reaped)) << "the busy child did not finish";
  const auto tree = sample_process_tree(shell.pid());
  const auto own = sample_process(shell.pid());
  ASSERT_TRUE(tree && own);
  EXPECT_GE(tree->cpu_ns, own->cpu_ns + 50'000'000) << "the busy child's CPU, once it was reaped";
}

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
