#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <sstream>
#include <string>

#include "loadgen/histogram.hpp"
#include "loadgen/hlog.hpp"

// Shared by hdr_codec_test.cpp, hdr_interop_test.cpp and the loadgen tests.
namespace muxbench::hdr::hdrtest {

// The reference implementation for interop tests: `program` (java, javac) on PATH, and Debian's
// libhdrhistogram-java jar (MUXBENCH_HDRHISTOGRAM_JAR overrides its path).
inline std::optional<std::string> on_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    const std::filesystem::path candidate = std::filesystem::path(dir) / program;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  return std::nullopt;
}

inline std::string jar_path() {
  const char* jar = std::getenv("MUXBENCH_HDRHISTOGRAM_JAR");
  return jar != nullptr ? jar : "/usr/share/java/hdrhistogram.jar";  // libhdrhistogram-java
}

// What HdrHistogram reports for a value (getValueAtPercentile, getMaxValue, the percentile rows):
// the highest value of its bucket.
inline std::uint64_t java_value(std::uint64_t value) {
  const std::size_t index = LatencyHistogram::index_of(value);
  return LatencyHistogram::lowest_in(index) + LatencyHistogram::width_of(index) - 1;
}

inline void expect_same_buckets(const LatencyHistogram& actual, const LatencyHistogram& expected) {
  EXPECT_EQ(actual.count(), expected.count());
  std::size_t differences = 0;
  for (std::size_t i = 0; i < LatencyHistogram::kBucketCount; ++i) {
    if (actual.count_at(i) != expected.count_at(i) && ++differences <= 5) {
      ADD_FAILURE() << "bucket " << i << " (from " << LatencyHistogram::lowest_in(i)
                    << " ns): " << actual.count_at(i) << " counts, expected "
                    << expected.count_at(i);
    }
  }
  EXPECT_EQ(differences, 0u);
}

// tests/fixtures/hdr/HdrInterop.java's `log` mode: interval k holds value(k, i) for
// i < 1000 + 500 k (and 60 s once more in interval 2), starts k s after 1700000000 s, lasts 1 s;
// interval 4 is tagged "other".
inline std::uint64_t java_log_value(int k, std::uint64_t i) {
  return 1 + (i * 2654435761u + static_cast<std::uint64_t>(k) * 97) %
                 (std::uint64_t{1} << (10 + i % 26));
}

inline LatencyHistogram java_log_interval(int k) {
  LatencyHistogram histogram;
  for (std::uint64_t i = 0; i < 1000 + 500 * static_cast<std::uint64_t>(k); ++i) {
    histogram.record(java_log_value(k, i));
  }
  if (k == 2) histogram.record(LatencyHistogram::kHighestTrackable);
  return histogram;
}

inline void expect_java_intervals(const Hlog& log) {
  EXPECT_EQ(log.start_time_s, 1'700'000'000.0);
  EXPECT_EQ(log.base_time_s, 1'700'000'000.0);
  ASSERT_EQ(log.intervals.size(), 5u);
  for (int k = 0; k < 5; ++k) {
    const HlogInterval& interval = log.intervals[static_cast<std::size_t>(k)];
    SCOPED_TRACE(::testing::Message() << "interval " << k);
    EXPECT_EQ(interval.tag, k == 4 ? "other" : "");
    EXPECT_EQ(interval.start_s, k);
    EXPECT_EQ(interval.length_s, 1.0);
    const LatencyHistogram expected = java_log_interval(k);
    expect_same_buckets(interval.histogram, expected);
    // Interval_Max: HistogramLogWriter's getMaxValue() in ms (its default divisor), 3 decimals.
    EXPECT_NEAR(interval.max, static_cast<double>(java_value(expected.max())) / 1e6, 0.0005);
  }
}

}  // namespace muxbench::hdr::hdrtest
