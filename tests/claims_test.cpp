// The tutorial claims the README checks, as behaviour: bench/claims.cpp on this machine.
#include <gtest/gtest.h>

#include <fstream>

#include "common/subprocess.hpp"
#include "tests/support/echo_server_process.hpp"

namespace muxbench::testing {
namespace {

using namespace std::chrono_literals;

class Claims : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    static TempDir dir;
    const auto json = dir.path() / "claims.json";
    const auto result = run_command({MUXBENCH_CLAIMS, "--json", json.string()}, 120s);
    ASSERT_EQ(result.exit_code, 0) << result.err;
    std::ifstream in(json);
    claims_ = nlohmann::json::parse(in);
  }
  static nlohmann::json claims_;
};
nlohmann::json Claims::claims_;

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

}  // namespace
}  // namespace muxbench::testing
