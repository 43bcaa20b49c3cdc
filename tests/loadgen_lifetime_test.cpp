// loadgen --lifetime K (connection churn): connections are replaced after K exchanges, every echo
// is still verified, connect latency is recorded, and port exhaustion is reported as a problem.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "loadgen/merge.hpp"
#include "model/loadgen_report.hpp"
#include "model/merged_report.hpp"
#include "tests/support/loadgen_runner.hpp"
#include "tests/support/usage.hpp"

namespace muxbench::testing {
namespace {

using namespace std::chrono_literals;
using Json = nlohmann::json;

std::string explain(const LoadgenRun& run) {
  return "status: " + run.report.value("status", Json()).dump() +
         "\nproblems: " + run.report.value("problems", Json()).dump() +
         "\nchurn: " + run.report.value("churn", Json()).dump().substr(0, 2000) +
         "\nstderr: " + run.command.err;
}

// A clean churn run: status ok, no integrity errors, and as many connections closed as the
// window's echoes divided by K, within one per active slot (each slot closes after every K-th
// echo); each closed connection's replacement opened (no connect failed), its connect latency
// recorded once.
void expect_clean_churn(const LoadgenRun& run, std::uint64_t lifetime, std::uint64_t active) {
  ASSERT_EQ(run.command.exit_code, 0) << explain(run);
  const Json& r = run.report;
  EXPECT_EQ(r["status"], "ok");
  EXPECT_EQ(r["errors"]["total"], 0);
  EXPECT_EQ(r["errors"]["mismatches"], 0);
  EXPECT_EQ(r["errors"]["unexpected_bytes"], 0);
  EXPECT_EQ(r["errors"]["lost_connections"], 0);
  EXPECT_EQ(r["config"]["lifetime"], lifetime);
  const Json& churn = r["churn"];
  ASSERT_TRUE(churn.is_object()) << explain(run);
  EXPECT_EQ(churn["lifetime"], lifetime);
  const auto messages = r["throughput"]["messages"].get<double>();
  const auto closed = churn["closed"].get<double>();
  const auto opened = churn["opened"].get<std::uint64_t>();
  EXPECT_GT(opened, 0u);
  EXPECT_NEAR(closed, messages / static_cast<double>(lifetime), static_cast<double>(active))
      << explain(run);
  EXPECT_EQ(churn["connect_failures"], 0);
  EXPECT_EQ(churn["port_exhaustion"], false);
  EXPECT_EQ(opened, churn["closed"].get<std::uint64_t>()) << "each close starts a replacement";
  EXPECT_EQ(churn["connect_latency_ns"]["count"], opened);
  EXPECT_GT(churn["connect_latency_ns"]["p50"].get<std::uint64_t>(), 0u);
  EXPECT_NEAR(churn["opened_per_s"].get<double>(),
              static_cast<double>(opened) / r["window"]["seconds"].get<double>(), 1.0);
  EXPECT_EQ(churn["connect_latency_histogram"]["count"], opened);
  EXPECT_TRUE(churn["tcp_tw_reuse"].is_number_integer()) << churn["tcp_tw_reuse"];
  EXPECT_EQ(churn["local_port_range"].size(), 2u);
}

struct Churn {
  std::uint64_t lifetime;
  std::uint32_t depth;
};

class LoadgenLifetime : public ::testing::TestWithParam<Churn> {};

TEST_P(LoadgenLifetime, ClosedLoopReplacesConnectionsAfterKExchanges) {
  const auto [lifetime, depth] = GetParam();
  EchoServerProcess server("epoll-lt");
  const auto run =
      run_loadgen(server.port(), {"--idle", "5", "--active", "4", "--depth", std::to_string(depth),
                                  "--lifetime", std::to_string(lifetime), "--duration", "400ms",
                                  "--warmup", "100ms", "--quiet"});
  expect_clean_churn(run, lifetime, 4);
  EXPECT_EQ(run.report["connections"]["idle"]["alive_at_end"], 5) << "idle ones stay open";
  // The server really saw the replacements, and loadgen closed every connection it opened.
  const auto opened = run.report["churn"]["opened"].get<std::uint64_t>();
  const auto stats = server.snapshot_until(
      [](const Json& s) { return s["gauges"]["open_connections"] == 0; }, 10s);
  EXPECT_EQ(stats["gauges"]["open_connections"], 0);
  EXPECT_GE(stats["counters"]["accepts"].get<std::uint64_t>(), opened + 9);
}

INSTANTIATE_TEST_SUITE_P(Lifetimes, LoadgenLifetime,
                         ::testing::Values(Churn{1, 1}, Churn{5, 1}, Churn{5, 3}),
                         [](const auto& param_info) {
                           return fmt::format("K{}_depth{}", param_info.param.lifetime,
                                              param_info.param.depth);
                         });

TEST(LoadgenLifetime, OpenLoopSendsWaitForTheReplacement) {
  EchoServerProcess server("epoll-lt");
  const auto run = run_loadgen(
      server.port(), {"--active", "4", "--rate", "4000", "--lifetime", "2", "--duration", "1s",
                      "--warmup", "200ms", "--late-tolerance=100ms", "--quiet"});
  expect_clean_churn(run, 2, 4);
  // Loosely: on a shared machine a stall now and then moves a few ms of sends across the
  // window's edge (tests/loadgen_test.cpp checks the rate itself).
  EXPECT_NEAR(run.report["throughput"]["messages_per_s"].get<double>(), 4000.0, 4000.0 * 0.05)
      << explain(run);
  EXPECT_EQ(run.report["open_loop"]["unsent"], 0);
}

TEST(LoadgenLifetime, SummaryAndCsvCarryTheConnectLatency) {
  EchoServerProcess server("epoll-lt");
  const auto run = run_loadgen(
      server.port(), {"--active", "2", "--lifetime", "3", "--duration", "300ms", "--warmup", "0s"});
  ASSERT_EQ(run.command.exit_code, 0) << explain(run);
  EXPECT_NE(run.command.out.find("  churn       lifetime 3: "), std::string::npos)
      << run.command.out;
  const auto header_end = run.csv.find('\n');
  const std::string header = run.csv.substr(0, header_end);
  EXPECT_NE(
      header.find(",lifetime,connections_opened,connections_per_s,connect_p50_ns,connect_p99_ns"),
      std::string::npos)
      << header;
  const std::string row = run.csv.substr(header_end + 1);
  const auto& c = run.report["churn"];
  const std::string tail =
      fmt::format(",3,{},{},{},{}\n", c["opened"].get<std::uint64_t>(), c["opened_per_s"].dump(),
                  c["connect_latency_ns"]["p50"].get<std::uint64_t>(),
                  c["connect_latency_ns"]["p99"].get<std::uint64_t>());
  EXPECT_EQ(row.substr(row.size() - std::min(row.size(), tail.size())), tail) << row;
}

TEST(LoadgenLifetime, CountsOnlyAreAccepted) {
  for (const std::string bad : {"0", "-1", "abc", "1e3", "", "3.5", "010"}) {
    expect_usage_error(loadgen_path(), {"--target", "127.0.0.1:9", "--lifetime", bad},
                       "--lifetime");
  }
}

// An absurdly low open-loop rate puts every due time past the clock's range: loadgen used to
// overflow llround and loop forever (100% CPU, deaf to the first Ctrl-C); now nothing is due and
// the window is insufficient (exit 1), churn or not.
TEST(LoadgenLifetime, ARateTooLowToEverSendEndsInsufficient) {
  EchoServerProcess server("epoll-lt");
  for (const char* rate : {"1e-300", "1e-12"}) {
    const auto run = run_loadgen(server.port(),
                                 {"--active", "2", "--rate", rate, "--lifetime", "1", "--duration",
                                  "200ms", "--warmup", "0s", "--quiet"},
                                 20s);
    EXPECT_EQ(run.command.exit_code, 1) << rate << "\n" << explain(run);
    EXPECT_EQ(run.report.value("status", Json()), "insufficient") << rate << "\n" << explain(run);
    // Only connection 0's first message, due at the very start, can leave.
    EXPECT_LE(run.report["open_loop"]["sent"].get<std::uint64_t>(), 1u) << rate;
  }
}

TEST(LoadgenLifetime, PersistentReportsHaveNoChurn) {
  EchoServerProcess server("epoll-lt");
  const auto run = run_loadgen(
      server.port(), {"--active", "1", "--duration", "200ms", "--warmup", "0s", "--quiet"});
  ASSERT_EQ(run.command.exit_code, 0) << explain(run);
  EXPECT_FALSE(run.report.contains("churn"));
  EXPECT_FALSE(run.report["config"].contains("lifetime"));
  EXPECT_EQ(run.csv.substr(run.csv.size() - 6), ",,,,,\n");
}

// The report reads into the model and writes back the same, validates against
// results/schema/, and merges: counts summed, the connect histograms merged exactly.
TEST(LoadgenLifetime, ReportRoundTripsValidatesAndMerges) {
  EchoServerProcess server("epoll-lt");
  const auto run = run_loadgen(server.port(), {"--active", "2", "--lifetime", "4", "--duration",
                                               "300ms", "--warmup", "0s", "--quiet"});
  ASSERT_EQ(run.command.exit_code, 0) << explain(run);
  const auto report = run.report.get<LoadgenReport>();
  ASSERT_TRUE(report.measured && report.measured->churn);
  EXPECT_EQ(report.config.lifetime, 4u);
  EXPECT_EQ(Json(report).dump(), run.report.dump());

  TempDir dir;
  const auto path = dir.path() / "report.json";
  std::ofstream(path) << run.report.dump(2);
  const auto valid =
      run_command({"/usr/bin/python3", MUXBENCH_VALIDATE_RESULTS, "--strict", path.string()}, 60s);
  if (valid.exit_code == 2 && valid.err.find("not installed") != std::string::npos) {
    GTEST_SKIP() << valid.err;
  }
  EXPECT_EQ(valid.exit_code, 0) << valid.out << valid.err;

  const MergedReport merged = merge_reports({report, report});
  ASSERT_TRUE(merged.measured && merged.measured->churn);
  const ChurnRecord& one = *report.measured->churn;
  const ChurnRecord& both = *merged.measured->churn;
  EXPECT_EQ(both.opened, 2 * one.opened);
  EXPECT_EQ(both.closed, 2 * one.closed);
  EXPECT_EQ(both.connect_latency_ns.count, 2 * one.opened);
  EXPECT_EQ(both.connect_latency_ns.p99, one.connect_latency_ns.p99);
  EXPECT_EQ(both.tcp_tw_reuse, one.tcp_tw_reuse);
  EXPECT_FALSE(merged.generators[0].measured->churn->connect_latency_histogram)
      << "the kept generators lose their histograms, as their message histograms";
  const Json merged_json = merged;
  EXPECT_EQ(merged_json, Json(merged_json.get<MergedReport>()));
  std::ofstream(dir.path() / "merged.json") << merged_json.dump(2);
  const auto merged_valid = run_command({"/usr/bin/python3", MUXBENCH_VALIDATE_RESULTS, "--strict",
                                         (dir.path() / "merged.json").string()},
                                        60s);
  EXPECT_EQ(merged_valid.exit_code, 0) << merged_valid.out << merged_valid.err;
}

// Port exhaustion, for real: in a network namespace of its own (its net.ipv4 sysctls are its
// own) with 11 ephemeral ports, tcp_tw_reuse off and one source address, K=1 uses up the ports
// within milliseconds (each closed connection holds its port in TIME_WAIT for 60 s). loadgen
// must say so and end with status errors when its window ends, not slow down silently or hang.
TEST(LoadgenLifetime, PortExhaustionIsReportedAsAProblem) {
  std::string cannot;
  try {
    const auto probe = run_command({"/usr/bin/unshare", "-n", "/usr/bin/true"}, 10s);
    if (probe.exit_code != 0) cannot = probe.err;
  } catch (const std::exception& error) {
    cannot = error.what();
  }
  if (!cannot.empty()) {
    GTEST_SKIP() << "cannot create a network namespace here (needs root and unshare): " << cannot;
  }
  TempDir dir;
  const auto json = dir.path() / "report.json";
  const std::string script = fmt::format(
      R"(set -e
/usr/sbin/ip link set lo up
echo "40000 40010" > /proc/sys/net/ipv4/ip_local_port_range
echo 0 > /proc/sys/net/ipv4/tcp_tw_reuse
{server} --backend epoll-lt --port 5000 --stats-file {dir}/stats.json > {dir}/server.out &
server=$!
for i in $(seq 100); do grep -q listening {dir}/server.out && break; sleep 0.05; done
set +e
{loadgen} --target 127.0.0.1:5000 --source-ips 127.0.0.1 --active 2 --lifetime 1 \
  --duration 1s --warmup 0s --quiet --json {json}
code=$?
kill $server
exit $code
)",
      fmt::arg("server", echo_server_path()), fmt::arg("loadgen", loadgen_path()),
      fmt::arg("dir", dir.path().string()), fmt::arg("json", json.string()));
  const auto started = std::chrono::steady_clock::now();
  const auto result = run_command({"/usr/bin/unshare", "-n", "/bin/sh", "-c", script}, 60s);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 20s) << "promptly, not a hang";
  ASSERT_EQ(result.exit_code, 1) << result.out << result.err;
  std::ifstream in(json);
  const Json report = Json::parse(in);
  EXPECT_EQ(report["status"], "errors");
  const Json& churn = report["churn"];
  EXPECT_EQ(churn["port_exhaustion"], true);
  EXPECT_GT(churn["connect_failures"].get<std::uint64_t>(), 0u);
  EXPECT_LT(churn["connect_failures"].get<std::uint64_t>(), 200u) << "paused retries, no spin";
  EXPECT_EQ(churn["tcp_tw_reuse"], 0);
  EXPECT_EQ(churn["local_port_range"], Json::parse("[40000, 40010]"));
  const std::string problems = report["problems"].dump();
  EXPECT_NE(problems.find("ephemeral ports exhausted"), std::string::npos) << problems;
  EXPECT_NE(problems.find("EADDRNOTAVAIL"), std::string::npos) << problems;
  EXPECT_NE(problems.find("net.ipv4.ip_local_port_range (40000-40010)"), std::string::npos)
      << problems;
  EXPECT_NE(problems.find("net.ipv4.tcp_tw_reuse is 0"), std::string::npos) << problems;
}

}  // namespace
}  // namespace muxbench::testing
