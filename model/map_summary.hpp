#pragma once

// summary.json `map` (results/README.md): where epoll-lt wins, ties and loses against the other
// backends along each dimension the studies vary, measured, beside what the cost model built from
// wait-bench alone predicts. Every ratio is a backend's server CPU per message over epoll-lt's
// (closed loop), so below 1 the backend is cheaper than epoll-lt.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "model/json_support.hpp"
#include "model/sweep_json_helpers.hpp"

namespace muxbench {

// Where a ratio measured at increasing x crosses a level (1: a tie; 1.1: 10% dearer): the first
// pair of neighbouring grid values on either side of it, and x interpolated between them
// (geometrically, as the grids are). Without a crossing, `side` says where every measured ratio
// lies ("below" or "above" the level) and `at`/`between` are null.
// When the ratios cross the level more than once (noise near it), the crossing is the last one:
// after it they stay on one side; `changes` counts the crossings.
struct Crossing {
  double level = 1;
  std::optional<double> at;
  // [x before, x after]; null: persistent
  std::optional<std::vector<std::optional<double>>> between;
  std::string side;  // "crosses", "below", "above"
  int changes = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Crossing, level, at, between, side, changes)

// One measured cell: the dimension's value (null: persistent connections) and the figures.
struct MapCell {
  std::optional<double> x;
  double ratio = 0;  // backend CPU per message / epoll-lt's
  double cpu_us_per_msg = 0;
  double epoll_lt_cpu_us_per_msg = 0;
  std::optional<double> events_per_wait;           // the backend's, where it counts them
  std::optional<double> ready_share;               // events per wait / descriptors per wait
  std::optional<double> cpu_us_per_conn;           // churn
  std::optional<double> interest_changes_per_msg;  // size
  std::optional<double> epoll_lt_events_per_wait;
  // The cost model's ratio for this cell's workload (its x, and each server's measured events
  // per wait), with every wait sleeping and with none sleeping: the band the model allows.
  std::optional<double> model_ratio_sleeping;
  std::optional<double> model_ratio_busy;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(MapCell, x, ratio, cpu_us_per_msg,
                                                epoll_lt_cpu_us_per_msg, events_per_wait,
                                                ready_share, cpu_us_per_conn,
                                                interest_changes_per_msg, epoll_lt_events_per_wait,
                                                model_ratio_sleeping, model_ratio_busy)

// One line of the map: a backend against epoll-lt along one dimension, the others fixed.
// `crossing`: along idle, where the backend becomes 10% dearer than epoll-lt (level 1.1); along
// active and lifetime, where it ties (level 1). Along size, `rise` is where the ratio grows 10%
// above its value at the smallest size (where write-interest changes start to cost).
struct MapLine {
  std::string series;
  std::string backend;
  std::string dimension;   // idle, active, lifetime, size
  std::uint64_t idle = 0;  // the fixed idle count (along idle: 0)
  std::vector<MapCell> cells;
  Crossing crossing;
  std::optional<Crossing> rise;
  // The same crossing of the cost model's ratios (every wait sleeping; none sleeping); absent
  // without a model for this backend.
  std::optional<Crossing> predicted_sleeping;
  std::optional<Crossing> predicted_busy;
  std::string model_note;  // when model and measurement disagree by more than 2x: how, and why
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(MapLine, series, backend, dimension, idle, cells,
                                                crossing, rise, predicted_sleeping, predicted_busy,
                                                model_note)

// Latency against offered load for one backend at one idle count (open loop).
struct LoadPoint {
  std::optional<double> rate_fraction;
  double offered_msgs_per_s = 0;
  double achieved_msgs_per_s = 0;
  double p50_us = 0;
  double p99_us = 0;
  std::string status;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(LoadPoint, rate_fraction, offered_msgs_per_s,
                                                achieved_msgs_per_s, p50_us, p99_us, status)

struct LoadCurve {
  std::string series;
  std::string backend;
  std::uint64_t idle = 0;
  std::optional<double> closed_loop_msgs_per_s;  // the capacity the fractions refer to
  std::optional<double> highest_ok_offered;      // msg/s
  std::optional<double> first_overloaded_offered;
  std::vector<LoadPoint> points;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(LoadCurve, series, backend, idle,
                                                closed_loop_msgs_per_s, highest_ok_offered,
                                                first_overloaded_offered, points)

// The cost model's coefficients as read from this run's wait-bench, for the record.
struct ModelRecord {
  std::map<std::string, double> coefficients_ns;
  std::string why_not;  // why there is no model (wait-bench rows missing), else empty
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(ModelRecord, coefficients_ns, why_not)

struct MapSummary {
  std::vector<MapLine> crossover;  // along idle (the fine grid), base workload
  std::vector<MapLine> activity;   // along active connections, at each idle count
  std::vector<MapLine> churn;      // along exchanges per connection
  std::vector<MapLine> size;       // along message size
  std::vector<LoadCurve> load;
  std::optional<ModelRecord> model;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(MapSummary, crossover, activity, churn, size, load,
                                                model)

}  // namespace muxbench
