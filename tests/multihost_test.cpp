// Beyond one machine: a server and two load generators in separate network namespaces joined by
// veth pairs, with addresses in 10.201.0.0/16 that exist only inside those namespaces.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "common/subprocess.hpp"
#include "loadgen/histogram.hpp"
#include "loadgen/merge.hpp"
#include "tests/support/echo_server_process.hpp"
#include "tests/support/loadgen_runner.hpp"

namespace muxbench::testing {
namespace {

using namespace std::chrono_literals;

// Three namespaces: <prefix>s (server) linked to <prefix>1 by 10.201.1.0/24 and to <prefix>2 by
// 10.201.2.0/24. Deleted again by the destructor, whatever the test did.
class TestHosts {
 public:
  TestHosts() : prefix_("mbx" + std::to_string(::getpid() % 100000)) {
    if (!ip({"netns", "add", server()})) {
      skip_reason_ =
          "cannot create network namespaces here (needs root and iproute2): " + last_error_;
      return;
    }
    created_.push_back(server());
    ip({"-n", server(), "link", "set", "lo", "up"});
    for (int c = 1; c <= 2; ++c) {
      const std::string client = this->client(c), veth_s = prefix_ + "s" + std::to_string(c),
                        veth_c = prefix_ + "c" + std::to_string(c);
      ok_ &= ip({"netns", "add", client});
      created_.push_back(client);
      ok_ &= ip({"link", "add", veth_s, "netns", server(), "type", "veth", "peer", "name", veth_c,
                 "netns", client});
      ok_ &= ip({"-n", server(), "addr", "add", server_address(c) + "/24", "dev", veth_s});
      ok_ &= ip({"-n", client, "addr", "add", client_address(c) + "/24", "dev", veth_c});
      ok_ &= ip({"-n", server(), "link", "set", veth_s, "up"});
      ok_ &= ip({"-n", client, "link", "set", veth_c, "up"});
      ok_ &= ip({"-n", client, "link", "set", "lo", "up"});
    }
    if (!ok_) skip_reason_ = "cannot wire the namespaces: " + last_error_;
  }
  TestHosts(const TestHosts&) = delete;
  TestHosts& operator=(const TestHosts&) = delete;
  ~TestHosts() {
    for (const auto& name : created_) ip({"netns", "del", name});  // removes their veths too
  }

  const std::string& skip_reason() const { return skip_reason_; }
  std::string server() const { return prefix_ + "s"; }
  std::string client(int c) const { return prefix_ + std::to_string(c); }
  static std::string server_address(int c) { return "10.201." + std::to_string(c) + ".1"; }
  static std::string client_address(int c) { return "10.201." + std::to_string(c) + ".2"; }

 private:
  bool ip(std::vector<std::string> args) {
    args.insert(args.begin(), "/usr/sbin/ip");
    const auto result = run_command(args, 20s);
    if (result.exit_code != 0) last_error_ = result.err;
    return result.exit_code == 0;
  }

  std::string prefix_;
  std::vector<std::string> created_;
  std::string skip_reason_;
  std::string last_error_;
  bool ok_ = true;
};

nlohmann::json parse(const std::string& text) {
  return nlohmann::json::parse(text, nullptr, false);
}

TEST(MultiHost, TwoGeneratorsInOtherNamespacesMergeIntoOneExactResult) {
  TestHosts hosts;
  if (!hosts.skip_reason().empty()) GTEST_SKIP() << hosts.skip_reason();

  SpawnOptions options;
  options.capture_stderr = true;
  auto server =
      Subprocess::spawn({"/usr/sbin/ip", "netns", "exec", hosts.server(), echo_server_path(),
                         "--backend", "epoll-lt", "--bind", "0.0.0.0"},
                        options);
  const auto line = server.read_line(10s);
  ASSERT_TRUE(line && line->rfind("listening 0.0.0.0:", 0) == 0) << line.value_or("");
  const std::string port = line->substr(line->rfind(':') + 1);

  const auto start_at = std::chrono::duration_cast<std::chrono::nanoseconds>(
                            std::chrono::system_clock::now().time_since_epoch() + 2s)
                            .count();
  std::vector<Subprocess> generators;
  for (int c = 1; c <= 2; ++c) {
    generators.push_back(Subprocess::spawn({"/usr/sbin/ip",
                                            "netns",
                                            "exec",
                                            hosts.client(c),
                                            loadgen_path(),
                                            "--target",
                                            TestHosts::server_address(c) + ":" + port,
                                            "--source-ips",
                                            TestHosts::client_address(c),
                                            "--idle",
                                            "300",
                                            "--active",
                                            "4",
                                            "--duration",
                                            "1s",
                                            "--warmup",
                                            "200ms",
                                            "--start-at",
                                            std::to_string(start_at),
                                            "--json",
                                            "-",
                                            "--quiet"},
                                           options));
  }
  std::vector<nlohmann::json> reports;
  for (auto& generator : generators) {
    const std::string out = generator.drain_stdout(60s);  // until it exits and closes stdout
    EXPECT_EQ(generator.wait(5s), 0) << generator.drain_stderr(1s);
    reports.push_back(parse(out));
    ASSERT_TRUE(reports.back().is_object()) << out;
  }

  for (std::size_t g = 0; g < reports.size(); ++g) {
    const auto& r = reports[g];
    EXPECT_EQ(r["status"], "ok") << r["problems"].dump();
    EXPECT_EQ(r["errors"]["total"], 0);
    EXPECT_EQ(r["connections"]["idle"]["alive_at_end"], 300);
    // Each generator reports its own host's limits.
    EXPECT_TRUE(r["environment"]["fd_limit"].contains("hard"));
    EXPECT_FALSE(r["environment"]["ephemeral_port_range"].get<std::string>().empty());
    EXPECT_EQ(r["config"]["source_ips"][0], TestHosts::client_address(static_cast<int>(g) + 1));
  }
  std::vector<LoadgenReport> typed;
  for (const auto& r : reports) typed.push_back(r.get<LoadgenReport>());
  const nlohmann::json merged = merge_reports(typed);
  EXPECT_EQ(merged["status"], "ok");
  EXPECT_EQ(merged["connections"]["idle"]["alive_at_end"], 600);
  EXPECT_EQ(merged["config"]["active"], 8);
  EXPECT_EQ(merged["errors"]["total"], 0);
  EXPECT_EQ(merged["throughput"]["messages"].get<double>(),
            reports[0]["throughput"]["messages"].get<double>() +
                reports[1]["throughput"]["messages"].get<double>());
  EXPECT_EQ(merged["generators"].size(), 2u);

  // The merged percentiles are those of one histogram fed every sample of both generators.
  LatencyHistogram all;
  for (const auto& r : reports) {
    for (const auto& bucket : r["histogram"]["buckets"]) {
      for (std::uint64_t i = 0; i < bucket[1].get<std::uint64_t>(); ++i)
        all.record(bucket[0].get<std::uint64_t>());
    }
  }
  for (const auto& [p, level] : {std::pair{"p50", 50.0}, std::pair{"p90", 90.0},
                                 std::pair{"p99", 99.0}, std::pair{"p99_9", 99.9}}) {
    EXPECT_EQ(LatencyHistogram::index_of(merged["latency_ns"][p].get<std::uint64_t>()),
              LatencyHistogram::index_of(all.percentile(level)))
        << p;
  }
  EXPECT_EQ(merged["latency_ns"]["count"], all.count());

  server.send_signal(SIGTERM);
  EXPECT_EQ(server.wait(10s), 0);
}

TEST(MultiHost, SweepDrivesGeneratorsThroughCommandTemplates) {
  TestHosts hosts;
  if (!hosts.skip_reason().empty()) GTEST_SKIP() << hosts.skip_reason();
  TempDir dir;
  const auto out = dir.path() / "run";
  std::vector<std::string> argv = {
      MUXBENCH_SWEEP,
      "--out",
      out.string(),
      "--backends",
      "epoll-lt,poll",
      "--idle",
      "0,200",
      "--active",
      "4",
      "--series",
      "closed-split",
      "--duration",
      "500ms",
      "--warmup",
      "200ms",
      "--micro-filter",
      "none",
      "--no-plots",
      "--server-command",
      "ip netns exec " + hosts.server() + " {echo_server} --bind 0.0.0.0 {args}"};
  for (int c = 1; c <= 2; ++c) {
    argv.insert(argv.end(),
                {"--generator", "ip netns exec " + hosts.client(c) + " {loadgen} --target " +
                                    TestHosts::server_address(c) + ":{port} --source-ips " +
                                    TestHosts::client_address(c) + " {args}"});
  }
  const auto result = run_command(argv, 180s);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  std::ifstream in(out / "sweep.json");
  const auto sweep = nlohmann::json::parse(in);
  ASSERT_EQ(sweep["points"].size(), 4u);
  for (const auto& point : sweep["points"]) {
    EXPECT_EQ(point["status"], "ok") << point.dump();
    EXPECT_EQ(point["generators"], 2);
    EXPECT_EQ(point["idle_alive"], point["idle"]);
    EXPECT_TRUE(point["server"]["cpu_us_per_msg"].is_number());
  }
}

}  // namespace
}  // namespace muxbench::testing
