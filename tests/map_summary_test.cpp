// The map's pure parts: the grid of the studies (ids, shared points, the fd limit), rate fractions
// resolved from measured capacity, crossings, and the lines the summary draws from aggregates.
#include "bench/sweep/map_summary.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "bench/sweep/python_summary.hpp"
#include "bench/sweep/sweep_config.hpp"

namespace muxbench::testing {
namespace {

SweepConfig two_backends() {
  SweepConfig config = default_config(false, 20000, {0, 1});
  config.backends = {"poll", "epoll-lt"};
  return config;
}

TEST(MapGrid, PointsSharedByStudiesAreMeasuredOnceWithTheIdleStudysIds) {
  const SweepConfig config = two_backends();
  const auto grid = build_grid(config);
  std::set<std::string> ids;
  for (const auto& p : grid) EXPECT_TRUE(ids.insert(p.id).second) << p.id;
  // idle 0 and 100 of the crossover study are the idle study's points.
  EXPECT_TRUE(ids.contains("closed-split__poll__idle100__r1"));
  EXPECT_TRUE(ids.contains("closed-split__poll__idle5__r1"));
  EXPECT_TRUE(ids.contains("closed-split__poll__idle1000__a100__r1"));
  EXPECT_TRUE(ids.contains("closed-split__epoll-lt__idle1000__k1__r1"));
  EXPECT_TRUE(ids.contains("closed-split__epoll-lt__idle0__s1048576__r1"));
  EXPECT_TRUE(ids.contains("open-split-busy__poll__idle0__load120pct__r1"));
  // The quick slice of the new studies is select, poll, epoll-lt and uring-poll: with two
  // backends chosen, only those two.
  for (const auto& p : grid) EXPECT_TRUE(p.backend == "poll" || p.backend == "epoll-lt");
}

TEST(MapGrid, ClosedSeriesComeFirstAndTheFdLimitLeavesCornersOut) {
  SweepConfig config = two_backends();
  Study load = config.studies.back();
  ASSERT_EQ(load.name, "load");
  std::reverse(load.series.begin(), load.series.end());  // open given first
  load.idle = {0};
  config.studies = {load};
  const auto grid = build_grid(config);
  ASSERT_FALSE(grid.empty());
  EXPECT_EQ(grid.front().series.load, LoadMode::closed);

  Study activity{"activity", {config.series.front()}, {0, 15000}, {10, 10000},
                 {64},       {std::nullopt},          {},         {},
                 {}};
  config.studies = {activity};
  config.fd_limit = 20000;
  std::set<std::string> ids;
  for (const auto& p : build_grid(config)) ids.insert(p.id);
  EXPECT_TRUE(ids.contains("closed-split__poll__idle15000__r1"));
  EXPECT_TRUE(ids.contains("closed-split__poll__idle0__a10000__r1"));
  EXPECT_FALSE(ids.contains("closed-split__poll__idle15000__a10000__r1"));  // 25,010 fds
}

PointRecord closed_point(const std::string& backend, PointStatus status, double throughput) {
  PointRecord p;
  p.backend = backend;
  p.status = status;
  p.load = LoadMode::closed;
  p.active = 10;
  p.size = 64;
  if (status == PointStatus::ok) {
    p.measured = PointMeasurement{};
    p.measured->throughput_msgs_per_s = throughput;
  } else {
    p.reason = "select cannot watch descriptors >= FD_SETSIZE";
  }
  return p;
}

TEST(MapGrid, ARateFractionTakesTheMedianCapacityOrTheClosedPointsStatus) {
  PointSpec open;
  open.id = "x";
  open.series = Series{"open-split-busy", LoadMode::open, Placement::split, true};
  open.backend = "poll";
  open.workload.rate_fraction = 0.5;
  const std::vector<PointRecord> measured = {closed_point("poll", PointStatus::ok, 1000),
                                             closed_point("poll", PointStatus::ok, 3000),
                                             closed_point("poll", PointStatus::ok, 2000),
                                             closed_point("select", PointStatus::unsupported, 0)};
  EXPECT_FALSE(resolve_rate_fraction(open, measured));
  EXPECT_EQ(open.workload.rate, 1000.0);  // half of the median, 2000

  PointSpec select = open;
  select.backend = "select";
  const auto unresolved = resolve_rate_fraction(select, measured);
  ASSERT_TRUE(unresolved);
  EXPECT_EQ(unresolved->status, PointStatus::unsupported);

  PointSpec other = open;
  other.workload.active = 100;  // no closed point with 100 active
  const auto missing = resolve_rate_fraction(other, measured);
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, PointStatus::failed);
  EXPECT_NE(missing->reason.find("no closed-loop capacity to take 50%"), std::string::npos);
}

TEST(MapCrossing, InterpolatesGeometricallyAndSaysWhereThereIsNone) {
  const auto up = find_crossing({10.0, 1000.0, 10000.0}, {0.5, 2.0, 3.0}, 1.0);
  EXPECT_EQ(up.side, "crosses");
  ASSERT_TRUE(up.at);
  EXPECT_NEAR(*up.at, 10 * std::pow(100.0, 1.0 / 3), 1e-9);
  EXPECT_EQ((*up.between)[0], 10.0);
  const auto to_persistent = find_crossing({1.0, 100.0, std::nullopt}, {0.8, 0.9, 1.2}, 1.0);
  EXPECT_EQ(to_persistent.side, "crosses");
  EXPECT_FALSE(to_persistent.at);
  EXPECT_EQ((*to_persistent.between)[0], 100.0);
  EXPECT_FALSE((*to_persistent.between)[1]);
  EXPECT_EQ(find_crossing({1.0, 2.0}, {0.5, 0.9}, 1.0).side, "below");
  EXPECT_EQ(find_crossing({1.0, 2.0}, {1.5, 1.1}, 1.0).side, "above");
  const auto from_zero = find_crossing({0.0, 100.0}, {1.0, 1.2}, 1.1);
  ASSERT_TRUE(from_zero.at);
  EXPECT_NEAR(*from_zero.at, 50.0, 1e-9);  // linear from 0
}

Aggregate cell(const std::string& backend, std::uint64_t idle, std::uint64_t active,
               double cpu_us_per_msg) {
  Aggregate a;
  a.series = "closed-split";
  a.backend = backend;
  a.idle = idle;
  a.active = active;
  a.size = 64;
  a.status = "ok";
  a.runs = a.ok_runs = 1;
  a.metrics[Metric::server_cpu_us_per_msg] =
      MetricStats{cpu_us_per_msg, cpu_us_per_msg, cpu_us_per_msg};
  return a;
}

TEST(MapLines, ActivityLinesTieWhereTheRatioCrossesOne) {
  const SweepConfig config = two_backends();
  const std::vector<Aggregate> aggregates = {
      cell("poll", 0, 10, 3.0),       cell("epoll-lt", 0, 10, 4.0), cell("poll", 0, 1000, 5.0),
      cell("epoll-lt", 0, 1000, 4.0), cell("poll", 100, 10, 9.0),   cell("epoll-lt", 100, 10, 4.0)};
  const MapSummary map = map_lines(aggregates, config);
  ASSERT_EQ(map.activity.size(), 1u);  // idle 100 has one active count only
  const MapLine& line = map.activity.front();
  EXPECT_EQ(line.backend, "poll");
  ASSERT_EQ(line.cells.size(), 2u);
  EXPECT_DOUBLE_EQ(line.cells[0].ratio, 0.75);
  EXPECT_EQ(line.crossing.side, "crosses");
  // 0.75 -> 1.25 over 10 -> 1000: ties half way, geometrically at 100.
  EXPECT_NEAR(*line.crossing.at, 100.0, 1e-9);
  ASSERT_EQ(map.crossover.size(), 1u);  // along idle at 10 active: 0.75 then 2.25
  EXPECT_EQ(map.crossover.front().crossing.level, 1.1);
  EXPECT_NE(map_markdown(map).find("### All connections busy (activity)"), std::string::npos);
}

TEST(PythonSection, ComparesTheModesWithEachOtherAndWithC) {
  // CPU per message by idle count: python-poll grows 20 ns per idle connection, C's poll 12 ns;
  // the epoll loops stay flat.
  std::vector<Aggregate> aggregates;
  for (const std::uint64_t idle : {0, 100, 1000}) {
    const double n = static_cast<double>(idle);
    aggregates.push_back(cell("python-poll", idle, 10, 5.0 + n * 0.020));
    aggregates.push_back(cell("python-epoll", idle, 10, 5.0));
    aggregates.push_back(cell("python-asyncio", idle, 10, 6.0));
    aggregates.push_back(cell("poll", idle, 10, 3.0 + n * 0.012));
    aggregates.push_back(cell("epoll-lt", idle, 10, 3.0));
  }
  // The activity slice: at 1000 active poll's scan is amortised; python-poll still loses.
  aggregates.push_back(cell("python-poll", 0, 1000, 6.0));
  aggregates.push_back(cell("python-epoll", 0, 1000, 5.0));
  aggregates.push_back(cell("poll", 0, 1000, 2.7));
  aggregates.push_back(cell("epoll-lt", 0, 1000, 3.0));
  aggregates.push_back(cell("python-select", 0, 1000, 4.0));
  const SweepConfig config = two_backends();
  const AggregateIndex index(aggregates, config);
  const PythonSection section = python_section(index, aggregates, config.active);
  ASSERT_TRUE(section.numbers);
  const PythonSummary& p = *section.numbers;
  EXPECT_NEAR(p.ns_per_idle_fd_per_msg.at("python-poll"), 20, 1e-9);
  EXPECT_NEAR(p.ns_per_idle_fd_per_msg.at("python-poll:poll"), 12, 1e-9);
  EXPECT_EQ(p.crossovers.at("python-poll").side, "crosses");
  EXPECT_EQ(p.c_crossovers.at("poll").side, "crosses");
  ASSERT_TRUE(p.asyncio_over_epoll);
  EXPECT_NEAR(p.asyncio_over_epoll->median_percent, 20, 1e-9);
  EXPECT_FALSE(p.selectors_over_epoll);
  EXPECT_NE(section.markdown.find("the interpreter's part is +8 ns"), std::string::npos)
      << section.markdown;
  ASSERT_EQ(p.activity.size(), 3u) << section.markdown;
  EXPECT_EQ(p.activity[0].backend, "python-select");
  EXPECT_DOUBLE_EQ(p.activity[0].ratio, 0.8);
  EXPECT_EQ(p.activity[1].backend, "python-poll");
  EXPECT_EQ(p.activity[1].baseline, "python-epoll");
  EXPECT_EQ(p.activity[1].active, 1000u);
  EXPECT_DOUBLE_EQ(p.activity[1].ratio, 1.2);
  EXPECT_EQ(p.activity[2].backend, "poll");
  EXPECT_DOUBLE_EQ(p.activity[2].ratio, 0.9);
  EXPECT_NE(section.markdown.find("| python-poll | python-epoll | 0 | 1000 | 6.0 | 1.20 |"),
            std::string::npos)
      << section.markdown;
  // The map leaves the Python servers to this section.
  for (const auto& line : map_lines(aggregates, config).activity)
    EXPECT_FALSE(line.backend.starts_with("python-")) << line.backend;
  // A run without Python servers has no such section.
  const std::vector<Aggregate> c_only = {cell("poll", 0, 10, 3.0)};
  EXPECT_FALSE(python_section(AggregateIndex(c_only, config), c_only, config.active).numbers);
}

}  // namespace
}  // namespace muxbench::testing
