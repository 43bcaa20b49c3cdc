// The tutorial claims the README checks, as behaviour: bench/claims.cpp on this machine.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "common/subprocess.hpp"
#include "common/version.hpp"
#include "tests/support/echo_server_process.hpp"
#include "tests/support/usage.hpp"

namespace muxbench::testing {
namespace {

using namespace std::chrono_literals;

class Claims : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    static TempDir dir;
    json_path_ = dir.path() / "claims.json";
    const auto result = run_command({MUXBENCH_CLAIMS, "--json", json_path_.string()}, 120s);
    ASSERT_EQ(result.exit_code, 0) << result.err;
    std::ifstream in(json_path_);
    claims_ = nlohmann::json::parse(in);
  }
  static nlohmann::json claims_;
  static std::filesystem::path json_path_;
};
nlohmann::json Claims::claims_;
std::filesystem::path Claims::json_path_;

TEST_F(Claims, SelectRefusesDescriptorsPastFdSetSizeAndPollDoesNot) {
  const auto& f = claims_["fd_setsize"];
  EXPECT_EQ(f["fd_setsize"], 1024);
  EXPECT_GT(f["select"]["refused"].get<int>(), 0);
  EXPECT_EQ(f["select"]["served"].get<int>() + f["select"]["refused"].get<int>(), 1100);
  EXPECT_EQ(f["select"]["refused"], f["select"]["refused_counted_by_server"]);
  EXPECT_EQ(f["select"]["exit_code"], 0) << "select's server must survive the refusals";
  EXPECT_EQ(f["poll"]["served"], 1100);
}

TEST_F(Claims, LevelTriggeredReportsAnUnreadFdAgainEdgeTriggeredOnce) {
  const auto& r = claims_["repeated_reports"];
  EXPECT_EQ(r["select"], r["calls"]);
  EXPECT_EQ(r["poll"], r["calls"]);
  EXPECT_EQ(r["epoll-lt"], r["calls"]);
  EXPECT_EQ(r["epoll-et"], 1);
}

TEST_F(Claims, AnUndrainedEdgeTriggeredSocketStallsUntilNewData) {
  const auto& e = claims_["edge_triggered_stall"];
  EXPECT_EQ(e["first_edge_events"], 1);
  EXPECT_EQ(e["unread"], 900);
  EXPECT_EQ(e["edge_events_while_unread"], 0);
  EXPECT_EQ(e["level_events_while_unread"], 1);
  EXPECT_EQ(e["edge_events_after_new_data"], 1);
  EXPECT_EQ(e["unread_after_new_data"], 901);
}

TEST_F(Claims, EpollHasADescriptorButNoMappingAndAsioUsesEpoll) {
  const auto& d = claims_["descriptors"];
  EXPECT_EQ(d["epoll-lt"]["eventpoll_fds"], 1);
  EXPECT_EQ(d["epoll-lt"]["eventpoll_mappings"], 0);
  EXPECT_GT(d["epoll-lt"]["maps_lines"].get<int>(), 0);
  EXPECT_GE(d["asio"]["eventpoll_fds"].get<int>(), 1);
  EXPECT_EQ(d["poll"]["eventpoll_fds"], 0);
}

// The numbers are measurements (the README quotes the reference run's); what is asserted is what
// was measured: one descriptor low and one numbered 1000, most numbers below 1000 watched, and
// the kernel reading a bitmap past FD_SETSIZE.
TEST_F(Claims, SelectCostIsMeasuredByNumberAndByCount) {
  const auto& s = claims_["select_cost"];
  EXPECT_LT(s["one_fd_low"]["fd"].get<int>(), 100);
  EXPECT_EQ(s["one_fd_low"]["nfds"].get<int>(), s["one_fd_low"]["fd"].get<int>() + 1);
  EXPECT_EQ(s["one_fd_high"]["fd"], 1000);
  EXPECT_EQ(s["one_fd_high"]["nfds"], 1001);
  EXPECT_GT(s["many_fds"]["watched"].get<int>(), 900);
  EXPECT_EQ(s["many_fds"]["nfds"], 1001);
  for (const char* case_name : {"one_fd_low", "one_fd_high", "many_fds"})
    EXPECT_GT(s[case_name]["ns_per_call"].get<double>(), 0) << case_name;
  EXPECT_TRUE(s["ns_per_unused_number"].is_number());
  EXPECT_TRUE(s["ns_per_watched_fd"].is_number());
  EXPECT_EQ(s["past_fd_setsize"]["reported_ready"], true) << s["past_fd_setsize"].dump();
}

TEST_F(Claims, EpollWatchLimitIsRecorded) {
  const auto& w = claims_["epoll_watch_memory"];
  EXPECT_GT(w["max_user_watches"].get<long long>(), 0);
  for (const char* slab : {"eventpoll_epi_bytes", "eventpoll_pwq_bytes"})
    EXPECT_TRUE(w[slab].is_null() || w[slab].get<int>() > 0) << slab;
}

TEST_F(Claims, TheJsonIsStrict) {
  const auto strict =
      run_command({"/usr/bin/python3", MUXBENCH_STRICT_JSON, json_path_.string()}, 30s);
  EXPECT_EQ(strict.exit_code, 0) << strict.out << strict.err;
}

// Refused before the 10 s of work: exit 2, one line naming the option.
TEST(ClaimsUsage, JsonPathIsCheckedBeforeAnyWork) {
  for (const char* bad : {"nodir/x", "/proc/version", "/tmp", ""}) {
    const auto start = std::chrono::steady_clock::now();
    const auto result = expect_usage_error(MUXBENCH_CLAIMS, {"--json", bad}, "--json", 5s);
    EXPECT_EQ(result.out, "");
    EXPECT_LT(std::chrono::steady_clock::now() - start, 2s) << bad;
  }
}

TEST(ClaimsUsage, VersionPrintsTheProjectVersionAndGitRevision) {
  testing::expect_version(MUXBENCH_CLAIMS, "claims");
}

// '-' is standard output (it wrote a file named "-"): the JSON alone, the account on stderr.
TEST(ClaimsOutput, DashMeansStandardOutput) {
  TempDir dir;
  SpawnOptions options;
  options.capture_stderr = true;
  const auto result = run_command(
      {"/bin/sh", "-c", "cd \"$1\" && exec \"$0\" --json -", MUXBENCH_CLAIMS, dir.path().string()},
      120s, options);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto claims = nlohmann::json::parse(result.out);
  EXPECT_EQ(claims["kind"], "claims");
  EXPECT_NE(result.err.find("FD_SETSIZE: of 1100 connections"), std::string::npos) << result.err;
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "-"));
}

}  // namespace
}  // namespace muxbench::testing
