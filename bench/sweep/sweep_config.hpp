#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/backend_table.hpp"
#include "model/sweep_config.hpp"
#include "model/sweep_point.hpp"

namespace muxbench {

// Defaults for --quick / --full on a machine with this fd limit and these CPUs: every backend of
// the backend table.
SweepConfig default_config(bool full, std::uint64_t fd_limit, const std::vector<int>& cpus);

// The largest idle count both processes can hold (a multiple of 1000), and the default grid:
// 0, 100, 1000, around FD_SETSIZE, then up to that maximum.
std::uint64_t max_idle(std::uint64_t fd_limit, std::uint64_t active);
std::vector<std::uint64_t> default_idle_grid(std::uint64_t fd_limit, std::uint64_t active,
                                             bool full);

// select() can watch descriptors below FD_SETSIZE only; the server's own descriptors (stdio,
// listener, signal pipe, reserve) come first.
// With churn a replacement can be accepted before the server has seen its predecessor close, so
// each active connection may hold two descriptors for a moment.
bool select_supports(std::uint64_t idle, std::uint64_t active, bool churn = false);
inline constexpr std::uint64_t kServerOwnDescriptors = 8;

struct PointSpec {
  std::string id;  // unique, usable as a file name
  Series series;
  std::string backend;
  std::uint64_t idle = 0;
  unsigned repeat = 1;
  // A rate fraction is turned into workload.rate just before the point runs (capacity_rate).
  Workload workload;
};

// The id of a point: series__backend__idleN__rR for the idle study's workload (as in every run
// before the map), with the dimensions that differ from it before the repeat: __a<active>,
// __s<size>, __k<lifetime>, __rate<msg/s> or __load<percent>pct.
std::string point_id(const SweepConfig& config, const Series& series, const std::string& backend,
                     std::uint64_t idle, const Workload& workload, unsigned repeat);

// Every point of the sweep: per repeat, per study, per series, idle counts outer and backends
// inner, so that slow drift of the machine affects all backends alike. A point two studies share
// is measured once (the first study's place); closed-loop series come before the open ones of a
// study, so a rate fraction finds its capacity measured.
std::vector<PointSpec> build_grid(const SweepConfig& config);

// The closed-loop capacity a rate fraction of `point` refers to: the median throughput of the ok
// closed-loop points measured with the same backend, idle count, active count, size and lifetime.
std::optional<double> closed_loop_capacity(const std::vector<PointRecord>& measured,
                                           const PointSpec& point);

// A rate fraction made a rate from the capacity measured so far; when there is none, the status
// (unsupported when the capacity point was, else failed) and reason the point takes instead.
struct UnresolvedRate {
  PointStatus status;
  std::string reason;
};
std::optional<UnresolvedRate> resolve_rate_fraction(PointSpec& point,
                                                    const std::vector<PointRecord>& measured);

// The studies of the default grid (quick or full) for this machine.
std::vector<Study> default_studies(const SweepConfig& config, bool full);

}  // namespace muxbench
