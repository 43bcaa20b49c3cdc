// The cost model (bench/sweep/cost_model.hpp) on synthetic coefficients whose boundaries are
// worked out by hand here, and its reader on a synthetic wait-bench JSON file.
#include "bench/sweep/cost_model.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "bench/sweep/analysis.hpp"
#include "bench/sweep/map_model.hpp"
#include "bench/sweep/sweep_config.hpp"

namespace muxbench {
namespace {

using Kind = Boundary::Kind;

Coefficient ns(double value) { return {value, "synthetic"}; }

// A known model. Per message with n registered, E ready, sleeping calls (s = 1):
//   poll     (1000 + 180 n + 10 E) / E + 1000 + (S − 64)·0.1
//   select   (1200 + 190 n + 10 E) / E + 1000 + (S − 64)·0.1
//   epoll-lt (300 + 190 E) / E + 1000 + (S − 64)·0.1   (150 per event + 40 repoll)
CostCoefficients known() {
  CostCoefficients c;
  c.fd_kind = "socketpair";
  c.poll = {ns(1000), ns(40), ns(100), ns(10)};
  c.select = ScanCoefficients{ns(1200), ns(45), ns(100), ns(10)};
  c.epoll_lt = {ns(300), ns(150)};
  c.lt_repoll_per_event = ns(40);
  c.epoll_ctl_mod = ns(500);
  c.connection = {{"poll", ns(8000)}, {"select", ns(8000)}, {"epoll-lt", ns(8700)}};
  c.message_64 = ns(1000);
  c.message_per_byte = ns(0.1);
  c.recv_eagain = ns(150);
  return c;
}

CostWorkload closed(double active, double events, double idle = 0) {
  CostWorkload w;
  w.active = active;
  w.events_per_wait = events;
  w.idle = idle;
  return w;
}

TEST(CostModel, PredictsTheHandComputedCostPerMessage) {
  const auto c = known();
  // poll, 10 active + 5 idle, E = 10: (1000 + 180·15 + 100) / 10 + 1000
  EXPECT_DOUBLE_EQ(predicted_cpu_ns_per_message(c, "poll", closed(10, 10, 5)), 1380.0);
  EXPECT_DOUBLE_EQ(predicted_cpu_ns_per_message(c, "epoll-lt", closed(10, 10, 5)), 1220.0);
  // A call that finds something at once (s = 0): one scan, (n − E)/(E + 1) registrations.
  CostWorkload awake = closed(100, 100);
  awake.sleep_share = 0;
  EXPECT_DOUBLE_EQ(predicted_cpu_ns_per_message(c, "poll", awake),
                   (1000 + 4000 + 1000) / 100.0 + 1000);
  // Churn and size terms.
  CostWorkload churn = closed(10, 10);
  churn.lifetime = 10;
  EXPECT_DOUBLE_EQ(predicted_cpu_ns_per_message(c, "epoll-lt", churn), 1220.0 + 870.0);
  CostWorkload big = closed(10, 10);
  big.size = 3 * 16384;
  big.send_buffer = 16384;
  // 2·(3 − 1) = 4 MODs of 500 ns, and 0.1 ns per byte beyond 64
  EXPECT_DOUBLE_EQ(predicted_cpu_ns_per_message(c, "epoll-lt", big),
                   1220.0 + (3 * 16384 - 64) * 0.1 + 2000);
  EXPECT_DOUBLE_EQ(predicted_cpu_ns_per_message(c, "poll", big), 1290.0 + (3 * 16384 - 64) * 0.1);
}

TEST(CostModel, RefusesWhatItCannotPredict) {
  const auto c = known();
  EXPECT_TRUE(std::isnan(predicted_cpu_ns_per_message(c, "select", closed(10, 1, 1010))))
      << "beyond FD_SETSIZE";
  EXPECT_FALSE(std::isnan(predicted_cpu_ns_per_message(c, "select", closed(10, 1, 1000))));
  EXPECT_TRUE(std::isnan(predicted_cpu_ns_per_message(c, "uring-poll", closed(10, 1))))
      << "not measured";
  EXPECT_THROW(predicted_cpu_ns_per_message(c, "kqueue", closed(10, 1)), std::invalid_argument);
  EXPECT_THROW(predicted_cpu_ns_per_message(c, "poll", closed(10, 11)), std::invalid_argument);
  EXPECT_THROW(predicted_cpu_ns_per_message(c, "poll", closed(10, 0)), std::invalid_argument);
}

TEST(CostModel, IdleBreakEvenMatchesTheClosedForm) {
  const auto c = known();
  // E = 10, 10 active: poll 1290 + 18·I, epoll-lt 1220; epoll ≥ 10% cheaper once
  // 1290 + 18·I ≥ 1220 / 0.9.
  const Boundary poll = idle_break_even(c, "poll", closed(10, 10));
  ASSERT_EQ(poll.kind, Kind::at) << poll.explanation;
  EXPECT_NEAR(poll.value, (1220 / 0.9 - 1290) / 18, 1e-9);
  const Boundary select = idle_break_even(c, "select", closed(10, 10));
  ASSERT_EQ(select.kind, Kind::at) << select.explanation;
  EXPECT_NEAR(select.value, (1220 / 0.9 - 1320) / 19, 1e-9);
  // One event per wait: poll 3810 + 180·I against 1490: epoll already wins at 0 idle.
  EXPECT_EQ(idle_break_even(c, "poll", closed(10, 1)).kind, Kind::always);
  // A select whose scan is almost free would need more idle descriptors than FD_SETSIZE allows.
  auto cheap = c;
  cheap.select = ScanCoefficients{ns(1200), ns(0.001), ns(0), ns(0)};
  const Boundary never = idle_break_even(cheap, "select", closed(10, 10));
  EXPECT_EQ(never.kind, Kind::never) << never.explanation;
  EXPECT_NE(never.explanation.find("FD_SETSIZE"), std::string::npos);
  // A scan that does not grow with idle descriptors: never.
  auto flat = c;
  flat.poll = {ns(1000), ns(0), ns(0), ns(0)};
  EXPECT_EQ(idle_break_even(flat, "poll", closed(10, 10)).kind, Kind::never);
}

TEST(CostModel, MoreIdleMakesTheScanRelativelyDearer) {
  const auto c = known();
  double previous = -1;
  for (const double idle : {0.0, 10.0, 100.0, 1000.0, 10000.0}) {
    const CostWorkload w = closed(10, 2, idle);
    const double ratio =
        predicted_cpu_ns_per_message(c, "poll", w) / predicted_cpu_ns_per_message(c, "epoll-lt", w);
    EXPECT_GT(ratio, previous) << idle;
    previous = ratio;
  }
}

TEST(CostModel, ActiveShareTieMatchesTheClosedForm) {
  const auto c = known();
  // 100 active, no idle, calls that find something at once (s = 0). Per wait, poll
  // 1000 + 4000 + 100·(100 − E)/(E + 1) + 10·E against epoll-lt 300 + 190·E: equal where
  // 180·E² − 4420·E − 14700 = 0.
  CostWorkload w = closed(100, 1);
  w.sleep_share = 0;
  const Boundary tie = active_share_tie(c, "poll", w);
  ASSERT_EQ(tie.kind, Kind::at) << tie.explanation;
  const double events = (4420 + std::sqrt(4420.0 * 4420 + 4 * 180 * 14700)) / 360;
  EXPECT_NEAR(tie.value, events / 100, 1e-9);
  // A scan that costs nothing per descriptor is cheaper at every share.
  auto free_scan = c;
  free_scan.poll = {ns(0), ns(0), ns(0), ns(0)};
  EXPECT_EQ(active_share_tie(free_scan, "poll", w).kind, Kind::always);
  // Sleeping calls over 100 descriptors: 18000 ns of scanning; epoll-lt cheaper at every share.
  EXPECT_EQ(active_share_tie(c, "poll", closed(100, 1)).kind, Kind::never);
}

TEST(CostModel, ChurnBreakEvenMatchesTheClosedForm) {
  const auto c = known();
  // 10 active, E = 10, no idle: poll 1290 vs epoll-lt 1220 per message, 8000 vs 8700 per
  // connection: poll cheaper below 700 / 70 = 10 exchanges.
  const Boundary at = churn_break_even(c, "poll", closed(10, 10));
  ASSERT_EQ(at.kind, Kind::at) << at.explanation;
  EXPECT_NEAR(at.value, 10.0, 1e-9);
  // 100 idle: poll 3090 per message, 1870 more than epoll-lt, never made up by 700 ns.
  EXPECT_EQ(churn_break_even(c, "poll", closed(10, 10, 100)).kind, Kind::never);
  // All 100 ready, awake: poll 1060 vs epoll-lt 1193 per message: poll cheaper at any lifetime.
  CostWorkload busy = closed(100, 100);
  busy.sleep_share = 0;
  EXPECT_EQ(churn_break_even(c, "poll", busy).kind, Kind::always);
}

TEST(CostModel, SizeThresholdMatchesTheClosedForm) {
  const auto c = known();
  CostWorkload w = closed(10, 10);
  w.send_buffer = 16384;
  // At S = B: 1220 + 16320·0.1 = 2852. Beyond, x = S/B − 1: extra 1000·x (two MODs per B) and
  // cost 2852 + (1638.4 + 1000)·x; extra ≥ 10% of cost from x = 285.2 / 736.16.
  const Boundary at = size_threshold(c, w);
  ASSERT_EQ(at.kind, Kind::at) << at.explanation;
  EXPECT_NEAR(at.value, 16384 * (1 + 285.2 / 736.16), 1e-6);
  CostWorkload check = w;
  check.size = at.value;
  const double share =
      1000 * (at.value / 16384 - 1) / predicted_cpu_ns_per_message(c, "epoll-lt", check);
  EXPECT_NEAR(share, 0.10, 1e-9);
  // A large buffer: the copy grows faster than the changes: never.
  w.send_buffer = 1e9;
  EXPECT_EQ(size_threshold(c, w).kind, Kind::never);
  w.send_buffer = std::numeric_limits<double>::infinity();
  EXPECT_EQ(size_threshold(c, w).kind, Kind::never);
}

// ----- the reader -----

nlohmann::json row(const std::string& name, double ns_per_call, int repetition = 0) {
  return {{"name", name + "/manual_time"}, {"run_name", name + "/manual_time"},
          {"run_type", "iteration"},       {"repetition_index", repetition},
          {"ns_per_call", ns_per_call},    {"iterations", 100}};
}

// Rows on exact lines: poll ready:0 100 + 40·N, ready:1 1000 + 140·N, ready:all 200 + 50·N;
// epoll-lt ready:1 450, ready:all 300 + 150·N; and the per-message and per-connection rows.
nlohmann::json synthetic_micro() {
  nlohmann::json benchmarks = nlohmann::json::array();
  for (const double n : {16.0, 64.0, 256.0, 512.0}) {
    const std::string fds = fmt::format("/fds:{}", n);
    benchmarks.push_back(row("poll/socketpair/ready:0" + fds, 100 + 40 * n));
    benchmarks.push_back(row("poll/socketpair/ready:1" + fds, 1000 + 140 * n));
    benchmarks.push_back(row("poll/socketpair/ready:all" + fds, 200 + 50 * n));
    benchmarks.push_back(row("epoll-lt/socketpair/ready:1" + fds, 450));
    benchmarks.push_back(row("epoll-lt/socketpair/ready:all" + fds, 300 + 150 * n));
  }
  // Repeated: the median (450) counts, not the mean.
  benchmarks.push_back(row("epoll-lt/socketpair/ready:1/fds:16", 9000, 1));
  benchmarks.push_back(row("epoll-lt/socketpair/ready:1/fds:16", 450, 2));
  // Beyond the fitted range, failed, aggregate and complexity rows are left out.
  benchmarks.push_back(row("poll/socketpair/ready:all/fds:8192", 1e9));
  auto failed = row("poll/socketpair/ready:0/fds:512", 1e9);
  failed["error_occurred"] = true;
  benchmarks.push_back(failed);
  auto aggregate = row("poll/socketpair/ready:0/fds:64", 1e9);
  aggregate["run_type"] = "aggregate";
  benchmarks.push_back(aggregate);
  benchmarks.push_back({{"name", "poll/socketpair/ready:0/manual_time_BigO"},
                        {"run_name", "poll/socketpair/ready:0/manual_time"},
                        {"run_type", "aggregate"}});
  benchmarks.push_back(row("echo_syscalls/tcp/size:64", 1000));
  benchmarks.push_back(row("echo_syscalls/tcp/size:16384", 1000 + 0.1 * 16320));
  benchmarks.push_back(row("echo_syscalls/tcp/recv_eagain", 150));
  benchmarks.push_back(row("conn_cycle/poll/iterations:4000", 8000));
  benchmarks.push_back(row("conn_cycle/epoll-lt/iterations:4000", 8700));
  benchmarks.push_back(row("epoll_ctl_mod/socketpair/fds:16", 500));
  benchmarks.push_back(row("epoll_ctl_mod/socketpair/fds:1024", 520));
  benchmarks.push_back(row("epoll_ctl_mod/socketpair/fds:4096", 510));
  return {{"context", {{"date", "synthetic"}}}, {"benchmarks", benchmarks}};
}

TEST(CostModelReader, ReadsTheCoefficientsFromTheirRows) {
  std::string why_not;
  const auto c = coefficients_from_micro(synthetic_micro().dump(), why_not);
  ASSERT_TRUE(c) << why_not;
  EXPECT_EQ(c->fd_kind, "socketpair") << "no tcp rows";
  EXPECT_NEAR(c->poll.scan_per_fd.ns, 40, 1e-9);
  EXPECT_NEAR(c->poll.register_per_fd.ns, 100, 1e-9);
  EXPECT_NEAR(c->poll.ready_per_fd.ns, 10, 1e-9);
  EXPECT_NEAR(c->poll.base.ns, 1000, 1e-6);
  EXPECT_NE(c->poll.scan_per_fd.source.find("poll/socketpair/ready:0/fds:{16,64,256,512}"),
            std::string::npos)
      << c->poll.scan_per_fd.source;
  EXPECT_NEAR(c->epoll_lt.per_event.ns, 150, 1e-9);
  EXPECT_NEAR(c->epoll_lt.base.ns, 300, 1e-9);
  EXPECT_NEAR(c->lt_repoll_per_event.ns, 40, 1e-9);
  EXPECT_NEAR(c->message_64.ns, 1000, 1e-9);
  EXPECT_NEAR(c->message_per_byte.ns, 0.1, 1e-12);
  ASSERT_TRUE(c->recv_eagain);
  EXPECT_NEAR(c->recv_eagain->ns, 150, 1e-9);
  ASSERT_TRUE(c->epoll_ctl_mod);
  EXPECT_NEAR(c->epoll_ctl_mod->ns, 510, 1e-9) << "the median over sizes";
  EXPECT_NEAR(c->connection.at("poll").ns, 8000, 1e-9);
  EXPECT_NEAR(c->connection.at("epoll-lt").ns, 8700, 1e-9);
  EXPECT_FALSE(c->select);
  EXPECT_FALSE(c->uring_poll);
  // The reader's model is the known one without select: the same idle boundary.
  const Boundary idle = idle_break_even(*c, "poll", closed(10, 10));
  ASSERT_EQ(idle.kind, Kind::at);
  EXPECT_NEAR(idle.value, (1220 / 0.9 - 1290) / 18, 1e-6);
  EXPECT_EQ(idle_break_even(*c, "select", closed(10, 10)).kind, Kind::never)
      << "no select rows: not predictable";
}

TEST(CostModelReader, RefusesAFileLackingRowsAndSaysWhich) {
  auto micro = synthetic_micro();
  auto& benchmarks = micro["benchmarks"];
  benchmarks.erase(std::remove_if(benchmarks.begin(), benchmarks.end(),
                                  [](const nlohmann::json& b) {
                                    const std::string name = b["name"];
                                    return name.rfind("epoll-lt/socketpair/ready:all", 0) == 0 ||
                                           name.rfind("echo_syscalls", 0) == 0;
                                  }),
                   benchmarks.end());
  std::string why_not;
  EXPECT_FALSE(coefficients_from_micro(micro.dump(), why_not));
  EXPECT_NE(why_not.find("epoll-lt/socketpair/ready:"), std::string::npos) << why_not;
  EXPECT_NE(why_not.find("echo_syscalls/tcp/size:64"), std::string::npos) << why_not;
  EXPECT_FALSE(coefficients_from_micro("not json", why_not));
  EXPECT_FALSE(coefficients_from_micro(R"({"benchmarks": []})", why_not));
}

TEST(CostModelReader, FallsBackToEpollCtlWithoutConnCycleRows) {
  auto micro = synthetic_micro();
  auto& benchmarks = micro["benchmarks"];
  benchmarks.erase(std::remove_if(benchmarks.begin(), benchmarks.end(),
                                  [](const nlohmann::json& b) {
                                    return b["name"].get<std::string>().rfind("conn_cycle", 0) == 0;
                                  }),
                   benchmarks.end());
  std::string why_not;
  EXPECT_FALSE(coefficients_from_micro(micro.dump(), why_not)) << "no epoll_ctl_add/del either";
  EXPECT_NE(why_not.find("conn_cycle/poll"), std::string::npos) << why_not;
  benchmarks.push_back(row("epoll_ctl_add/socketpair/fds:16", 600));
  benchmarks.push_back(row("epoll_ctl_del/socketpair/fds:16", 650));
  const auto c = coefficients_from_micro(micro.dump(), why_not);
  ASSERT_TRUE(c) << why_not;
  EXPECT_NEAR(c->connection.at("epoll-lt").ns, 1250, 1e-9);
  EXPECT_NEAR(c->connection.at("poll").ns, 0, 1e-9);
}

TEST(CostModelReader, ConnectionCostIsTheCommonAcceptAndClosePlusTheBackendsOwnPart) {
  auto micro = synthetic_micro();
  auto& benchmarks = micro["benchmarks"];
  const auto cycle = [&](const std::string& backend, double accept, double add, double remove,
                         double close) {
    auto r = row("conn_cycle/" + backend + "/iterations:4000", accept + add + remove + close);
    r["ns_accept"] = accept;
    r["ns_add"] = add;
    r["ns_remove"] = remove;
    r["ns_close"] = close;
    return r;
  };
  benchmarks.erase(std::remove_if(benchmarks.begin(), benchmarks.end(),
                                  [](const nlohmann::json& b) {
                                    return b["name"].get<std::string>().rfind("conn_cycle", 0) == 0;
                                  }),
                   benchmarks.end());
  benchmarks.push_back(cycle("select", 1000, 20, 20, 5000));     // accept + close 6000
  benchmarks.push_back(cycle("poll", 1000, 20, 20, 6000));       // 7000
  benchmarks.push_back(cycle("epoll-lt", 900, 600, 650, 4100));  // 5000
  benchmarks.push_back(cycle("uring-poll", 2000, 40, 900, 100));
  std::string why_not;
  const auto c = coefficients_from_micro(micro.dump(), why_not);
  ASSERT_TRUE(c) << why_not;
  EXPECT_NEAR(c->connection.at("poll").ns, 6000 + 40, 1e-9);
  EXPECT_NEAR(c->connection.at("select").ns, 6000 + 40, 1e-9);
  EXPECT_NEAR(c->connection.at("epoll-lt").ns, 6000 + 1250, 1e-9);
  EXPECT_NEAR(c->connection.at("uring-poll").ns, 3040, 1e-9) << "uring-poll: its total";
  EXPECT_NE(c->connection.at("epoll-lt").source.find("conn_cycle/{select,poll,epoll-lt}"),
            std::string::npos)
      << c->connection.at("epoll-lt").source;
}

// The sweep's reader of ready:1 rows is not confused by the cost model's rows.
TEST(CostModelReader, TheSweepsReaderStillReadsOnlyReadyOne) {
  const auto costs = read_micro_wait_costs(synthetic_micro().dump());
  ASSERT_EQ(costs.size(), 4u + 4u + 2u);  // poll and epoll-lt at 4 sizes, 2 more repetitions
  for (const auto& cost : costs) {
    EXPECT_TRUE(cost.backend == "poll" || cost.backend == "epoll-lt") << cost.backend;
  }
}

// The map's lines get the model's boundary beside the measured one; without the rows the model
// needs the map says why and no line claims a prediction.
TEST(CostModelMap, PredictionsSitBesideTheMeasuredLines) {
  const SweepConfig config = default_config(false, 20000, {0, 1});
  MapLine line{"closed-split", "poll", "idle", 0, {}, {}, {}, {}, {}, {}};
  for (const auto& [idle, ratio] : std::vector<std::pair<double, double>>{{0, 0.9}, {1000, 5}}) {
    MapCell cell;
    cell.x = idle;
    cell.ratio = ratio;
    cell.events_per_wait = 2;
    line.cells.push_back(cell);
  }
  line.crossing.side = "crosses";
  line.crossing.at = 60;
  MapLine asio = line;
  asio.backend = "asio";  // not a backend the model scans
  MapSummary map;
  map.crossover = {line, asio};
  add_predictions(map, config, synthetic_micro().dump(), 16384);
  ASSERT_TRUE(map.model);
  EXPECT_EQ(map.model->why_not, "");
  EXPECT_TRUE(map.model->coefficients_ns.contains("poll_scan_per_fd"));
  ASSERT_TRUE(map.crossover[0].predicted_sleeping);
  ASSERT_TRUE(map.crossover[0].predicted_busy);
  // The sleeping model makes every idle descriptor dearer than the busy one.
  ASSERT_TRUE(map.crossover[0].cells[1].model_ratio_sleeping);
  EXPECT_GT(*map.crossover[0].cells[1].model_ratio_sleeping,
            *map.crossover[0].cells[1].model_ratio_busy);
  EXPECT_GT(*map.crossover[0].cells[1].model_ratio_sleeping,
            *map.crossover[0].cells[0].model_ratio_sleeping);
  EXPECT_FALSE(map.crossover[1].predicted_sleeping);  // asio: no terms in the model

  MapSummary without;
  without.crossover = {line};
  add_predictions(without, config, "{}", 16384);
  ASSERT_TRUE(without.model);
  EXPECT_NE(without.model->why_not, "");
  EXPECT_FALSE(without.crossover[0].predicted_sleeping);
  EXPECT_FALSE(without.crossover[0].cells[0].model_ratio_busy);
}

}  // namespace
}  // namespace muxbench
