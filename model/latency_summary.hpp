#pragma once

#include <cstdint>

#include "model/json_support.hpp"

namespace muxbench {

// A latency distribution summarised, in nanoseconds: loadgen reports it for its window (and
// send lateness), and every sweep point keeps its loadgen's.
struct LatencySummary {
  std::uint64_t count = 0;
  std::uint64_t min = 0;
  double mean = 0;
  double stddev = 0;
  std::uint64_t p50 = 0;
  std::uint64_t p90 = 0;
  std::uint64_t p99 = 0;
  std::uint64_t p99_9 = 0;
  std::uint64_t p99_99 = 0;
  std::uint64_t max = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(LatencySummary, count, min, mean, stddev, p50, p90,
                                                p99, p99_9, p99_99, max)

}  // namespace muxbench
