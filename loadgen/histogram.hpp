#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace muxbench {

__extension__ using uint128 = unsigned __int128;  // exact sums of squares, so merges are exact

// An HdrHistogram-style log-linear histogram of nanosecond values from 0 to 60 s. Below 2048 every
// value has its own bucket; above, each power of two is split into 1024 buckets, so a bucket is at
// most 1/1024 of its values wide and a reported percentile (the bucket's midpoint) is within 0.05%
// of the true sample. Fixed 216 KiB of counts, mergeable, with exact count/min/max/mean.
class LatencyHistogram {
 public:
  static constexpr int kSubBucketBits = 11;
  static constexpr std::uint64_t kSubBucketCount = 1u << kSubBucketBits;  // 2048
  static constexpr std::uint64_t kHalfCount = kSubBucketCount / 2;        // 1024
  static constexpr std::uint64_t kHighestTrackable = 60'000'000'000;      // 60 s in ns
  static constexpr int kTopMagnitude = 35;  // floor(log2(kHighestTrackable))
  static constexpr std::size_t kBucketCount =
      kSubBucketCount + (kTopMagnitude - kSubBucketBits + 1) * kHalfCount;

  void record(std::uint64_t value);  // values above 60 s are counted as 60 s (and as overflow)
  void record(std::uint64_t value, std::uint64_t times);  // `times` samples of one value
  void merge(const LatencyHistogram& other);
  void reset() { *this = LatencyHistogram{}; }

  std::uint64_t count() const { return count_; }
  std::uint64_t min() const { return count_ ? min_ : 0; }
  std::uint64_t max() const { return max_; }
  std::uint64_t overflow() const { return overflow_; }
  // The count of bucket `index` (< kBucketCount), for encoders of this layout (hdr_codec.hpp).
  std::uint64_t count_at(std::size_t index) const { return counts_[index]; }
  double mean() const;
  double stddev() const;
  // Nearest-rank percentile, p in [0, 100]; 0 gives the minimum and 100 the maximum exactly.
  std::uint64_t percentile(double p) const;

  nlohmann::json encode() const;
  static LatencyHistogram decode(const nlohmann::json& encoded);  // throws std::invalid_argument
  // HdrHistogram's percentile-distribution text (readable by existing HDR plotters), values
  // divided by `unit_ratio` (1000: microseconds, 1e6: milliseconds). As HdrHistogram's
  // outputPercentileDistribution, every row (the last, at percentile 1.0, too) and #[Max give the
  // highest value of the bucket they fall in, so no row is below the one before it; the mean and
  // standard deviation are the exact ones.
  std::string percentile_distribution(double unit_ratio = 1000.0) const;

  static std::uint64_t nearest_rank(double p, std::uint64_t count);
  static std::size_t index_of(std::uint64_t value);
  static std::uint64_t lowest_in(std::size_t index);
  static std::uint64_t width_of(std::size_t index);
  // The highest value of `value`'s bucket: what HdrHistogram reports for it
  // (highestEquivalentValue; its getMaxValue(), percentile rows and #[Max).
  static std::uint64_t highest_equivalent(std::uint64_t value);

  friend bool operator==(const LatencyHistogram&, const LatencyHistogram&) = default;

 private:
  std::uint64_t representative(std::size_t index) const;

  std::array<std::uint64_t, kBucketCount> counts_{};
  std::uint64_t count_ = 0;
  std::uint64_t min_ = UINT64_MAX;
  std::uint64_t max_ = 0;
  std::uint64_t overflow_ = 0;
  std::uint64_t sum_ = 0;
  uint128 sum_of_squares_ = 0;
};

}  // namespace muxbench
