#include "loadgen/histogram.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <stdexcept>

namespace muxbench {
namespace {

std::string to_decimal(uint128 value) {
  std::string digits;
  do {
    digits.insert(digits.begin(), static_cast<char>('0' + static_cast<int>(value % 10)));
    value /= 10;
  } while (value != 0);
  return digits;
}

uint128 from_decimal(const std::string& digits) {
  uint128 value = 0;
  for (const char digit : digits) {
    if (digit < '0' || digit > '9') throw std::invalid_argument("bad sum_of_squares");
    value = value * 10 + static_cast<unsigned>(digit - '0');
  }
  return value;
}

}  // namespace

// ceil(p% of count) in integers: p is taken in millionths of a percent, so 99.9% of 1000 is rank
// 999 exactly (in doubles 99.9 / 100 * 1000 is 999.0000000000001 and would round up to 1000).
std::uint64_t LatencyHistogram::nearest_rank(double p, std::uint64_t count) {
  constexpr std::uint64_t kScale = 100'000'000;  // 100% in millionths of a percent
  const auto parts = static_cast<uint128>(std::llround(p * 1e6));
  return static_cast<std::uint64_t>((parts * count + kScale - 1) / kScale);
}

std::size_t LatencyHistogram::index_of(std::uint64_t value) {
  if (value < kSubBucketCount) return value;
  const int magnitude = static_cast<int>(std::bit_width(value)) - 1;  // >= kSubBucketBits
  const int shift = magnitude - (kSubBucketBits - 1);
  const std::uint64_t sub = value >> shift;  // in [kHalfCount, kSubBucketCount)
  return kSubBucketCount + static_cast<std::size_t>(magnitude - kSubBucketBits) * kHalfCount +
         (sub - kHalfCount);
}

std::uint64_t LatencyHistogram::lowest_in(std::size_t index) {
  if (index < kSubBucketCount) return index;
  const std::size_t offset = index - kSubBucketCount;
  const int magnitude = kSubBucketBits + static_cast<int>(offset / kHalfCount);
  const std::uint64_t sub = kHalfCount + offset % kHalfCount;
  return sub << (magnitude - (kSubBucketBits - 1));
}

std::uint64_t LatencyHistogram::width_of(std::size_t index) {
  if (index < kSubBucketCount) return 1;
  const int magnitude = kSubBucketBits + static_cast<int>((index - kSubBucketCount) / kHalfCount);
  return std::uint64_t{1} << (magnitude - (kSubBucketBits - 1));
}

std::uint64_t LatencyHistogram::highest_equivalent(std::uint64_t value) {
  const std::size_t index = index_of(value);
  return lowest_in(index) + width_of(index) - 1;
}

void LatencyHistogram::record(std::uint64_t value) { record(value, 1); }

void LatencyHistogram::record(std::uint64_t value, std::uint64_t times) {
  if (times == 0) return;
  if (value > kHighestTrackable) {
    overflow_ += times;
    value = kHighestTrackable;
  }
  counts_[index_of(value)] += times;
  count_ += times;
  min_ = std::min(min_, value);
  max_ = std::max(max_, value);
  sum_ += value * times;
  sum_of_squares_ += static_cast<uint128>(value) * value * times;
}

void LatencyHistogram::merge(const LatencyHistogram& other) {
  for (std::size_t i = 0; i < kBucketCount; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
  overflow_ += other.overflow_;
  sum_ += other.sum_;
  sum_of_squares_ += other.sum_of_squares_;
}

double LatencyHistogram::mean() const {
  return count_ ? static_cast<double>(sum_) / static_cast<double>(count_) : 0.0;
}

double LatencyHistogram::stddev() const {
  if (count_ == 0) return 0.0;
  const long double mean_value = static_cast<long double>(sum_) / count_;
  const long double variance =
      static_cast<long double>(sum_of_squares_) / count_ - mean_value * mean_value;
  return variance > 0 ? static_cast<double>(std::sqrt(variance)) : 0.0;
}

std::uint64_t LatencyHistogram::representative(std::size_t index) const {
  const std::uint64_t midpoint = lowest_in(index) + width_of(index) / 2;
  return std::clamp(midpoint, min(), max_);
}

std::uint64_t LatencyHistogram::percentile(double p) const {
  if (count_ == 0) return 0;
  if (p <= 0) return min();
  if (p >= 100) return max_;
  const std::uint64_t rank = std::max<std::uint64_t>(nearest_rank(p, count_), 1);
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < kBucketCount; ++i) {
    seen += counts_[i];
    if (seen >= rank) return representative(i);
  }
  return max_;
}

nlohmann::json LatencyHistogram::encode() const {
  nlohmann::json buckets = nlohmann::json::array();
  for (std::size_t i = 0; i < kBucketCount; ++i) {
    if (counts_[i] != 0) buckets.push_back({lowest_in(i), counts_[i]});
  }
  return {{"format", "muxbench-loglinear-v1"},
          {"unit", "ns"},
          {"sub_bucket_bits", kSubBucketBits},
          {"count", count_},
          {"min", min()},
          {"max", max_},
          {"overflow", overflow_},
          {"sum", sum_},
          {"sum_of_squares", to_decimal(sum_of_squares_)},  // a string: exceeds 64 bits
          {"buckets", buckets}};  // [lowest value of the bucket, count], ascending
}

LatencyHistogram LatencyHistogram::decode(const nlohmann::json& encoded) {
  if (encoded.value("format", "") != "muxbench-loglinear-v1" ||
      encoded.value("sub_bucket_bits", 0) != kSubBucketBits) {
    throw std::invalid_argument("not a muxbench-loglinear-v1 histogram");
  }
  LatencyHistogram histogram;
  for (const auto& bucket : encoded.at("buckets")) {
    const auto lowest = bucket.at(0).get<std::uint64_t>();
    const std::size_t index = index_of(lowest);
    if (index >= kBucketCount || lowest_in(index) != lowest) {
      throw std::invalid_argument(fmt::format("bucket {} is not a bucket boundary", lowest));
    }
    histogram.counts_[index] += bucket.at(1).get<std::uint64_t>();
  }
  histogram.count_ = encoded.at("count").get<std::uint64_t>();
  histogram.min_ = histogram.count_ ? encoded.at("min").get<std::uint64_t>() : UINT64_MAX;
  histogram.max_ = encoded.at("max").get<std::uint64_t>();
  histogram.overflow_ = encoded.at("overflow").get<std::uint64_t>();
  histogram.sum_ = encoded.at("sum").get<std::uint64_t>();
  histogram.sum_of_squares_ = from_decimal(encoded.at("sum_of_squares").get<std::string>());
  return histogram;
}

// Mirrors HdrHistogram's outputPercentileDistribution: report ticks get denser towards the tail
// (5 per halving of the distance to 100%), the last line is the maximum at percentile 1.0.
// Values are the top of their bucket, the maximum's too (HdrHistogram's convention): the last row
// is never below the row before it.
std::string LatencyHistogram::percentile_distribution(double unit_ratio) const {
  constexpr int kTicksPerHalfDistance = 5;
  std::string out = fmt::format("{:>12} {:>14} {:>10} {:>14}\n\n", "Value", "Percentile",
                                "TotalCount", "1/(1-Percentile)");
  const double top_of_max = static_cast<double>(highest_equivalent(max_)) / unit_ratio;
  std::uint64_t seen = 0;
  double next_percentile = 0.0;
  for (std::size_t i = 0; i < kBucketCount && count_ > 0; ++i) {
    if (counts_[i] == 0) continue;
    seen += counts_[i];
    const double value = static_cast<double>(highest_equivalent(lowest_in(i))) / unit_ratio;
    const double reached = 100.0 * static_cast<double>(seen) / static_cast<double>(count_);
    const bool last = seen == count_;
    while (next_percentile <= reached) {
      out += fmt::format("{:12.3f} {:2.12f} {:10d} {:14.2f}\n", value, next_percentile / 100.0,
                         seen, 1.0 / (1.0 - next_percentile / 100.0));
      const double halvings = std::floor(std::log2(100.0 / (100.0 - next_percentile))) + 1;
      next_percentile += 100.0 / (kTicksPerHalfDistance * std::exp2(halvings));
      if (last) break;
    }
    if (last) {
      out += fmt::format("{:12.3f} {:2.12f} {:10d}\n", top_of_max, 1.0, seen);
    }
  }
  out += fmt::format("#[Mean    = {:12.3f}, StdDeviation   = {:12.3f}]\n", mean() / unit_ratio,
                     stddev() / unit_ratio);
  out += fmt::format("#[Max     = {:12.3f}, Total count    = {:12d}]\n", top_of_max, count_);
  out += fmt::format("#[Buckets = {:12d}, SubBuckets     = {:12d}]\n",
                     kTopMagnitude - kSubBucketBits + 2, kSubBucketCount);
  return out;
}

}  // namespace muxbench
