#include "loadgen/histogram.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace muxbench {
namespace {

constexpr double kPercentiles[] = {0, 1, 10, 25, 50, 75, 90, 99, 99.9, 99.99, 99.999, 100};

std::uint64_t exact_percentile(const std::vector<std::uint64_t>& sorted, double p) {
  if (p <= 0) return sorted.front();
  const auto rank =
      static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  return sorted[std::max<std::size_t>(rank, 1) - 1];
}

void expect_within_a_thousandth(const std::vector<std::uint64_t>& samples) {
  LatencyHistogram histogram;
  for (const auto value : samples) histogram.record(value);
  auto sorted = samples;
  std::sort(sorted.begin(), sorted.end());
  for (const double p : kPercentiles) {
    const auto exact = static_cast<double>(exact_percentile(sorted, p));
    const auto reported = static_cast<double>(histogram.percentile(p));
    EXPECT_LE(std::abs(reported - exact), exact * 0.001) << "p" << p << " exact " << exact;
  }
  EXPECT_EQ(histogram.count(), samples.size());
  EXPECT_EQ(histogram.min(), sorted.front());
  EXPECT_EQ(histogram.max(), sorted.back());
  long double sum = 0;
  for (const auto value : samples) sum += static_cast<long double>(value);
  const auto exact_mean = static_cast<double>(sum / static_cast<long double>(samples.size()));
  EXPECT_NEAR(histogram.mean(), exact_mean, 1e-6 * exact_mean);
}

TEST(LatencyHistogram, PercentilesOfLogNormalLatenciesAreWithinATenthOfAPercent) {
  std::mt19937_64 random(1);
  std::lognormal_distribution<double> latency(std::log(50'000.0), 1.0);  // ~50 us median
  std::vector<std::uint64_t> samples(200'000);
  for (auto& value : samples) value = static_cast<std::uint64_t>(latency(random));
  expect_within_a_thousandth(samples);
}

TEST(LatencyHistogram, UniformOverTheWholeRangeFromOneNanosecondToSixtySeconds) {
  std::mt19937_64 random(2);
  std::uniform_real_distribution<double> exponent(0.0, std::log2(60e9));
  std::vector<std::uint64_t> samples(100'000);
  for (auto& value : samples) value = static_cast<std::uint64_t>(std::exp2(exponent(random)));
  expect_within_a_thousandth(samples);
}

TEST(LatencyHistogram, AdversarialBucketEdgesAndBimodalOutliers) {
  std::vector<std::uint64_t> samples;
  // Values on both sides of every power-of-two boundary, where bucket widths double.
  for (int bit = 1; bit < 36; ++bit) {
    const std::uint64_t edge = std::uint64_t{1} << bit;
    for (const std::uint64_t v : {edge - 1, edge, edge + 1}) samples.push_back(v);
  }
  // A bimodal tail: 99.9% fast, 0.1% forty-thousand times slower.
  for (int i = 0; i < 99'900; ++i) samples.push_back(20'000 + i % 7);
  for (int i = 0; i < 100; ++i) samples.push_back(800'000'000 + i);
  expect_within_a_thousandth(samples);
}

TEST(LatencyHistogram, NearestRankIsExactWhereDoublesRoundUp) {
  EXPECT_EQ(LatencyHistogram::nearest_rank(99.9, 1000), 999u);  // 99.9/100*1000 = 999.0000000000001
  EXPECT_EQ(LatencyHistogram::nearest_rank(50, 3), 2u);
  EXPECT_EQ(LatencyHistogram::nearest_rank(99.99, 10'000), 9'999u);
  LatencyHistogram histogram;
  for (std::uint64_t v = 1; v <= 1000; ++v) histogram.record(v);
  EXPECT_EQ(histogram.percentile(99.9), 999u);
}

TEST(LatencyHistogram, SingleValueAndEmpty) {
  LatencyHistogram empty;
  EXPECT_EQ(empty.percentile(99), 0u);
  EXPECT_EQ(empty.count(), 0u);
  LatencyHistogram one;
  one.record(123'456'789);
  for (const double p : kPercentiles) EXPECT_EQ(one.percentile(p), 123'456'789u);
}

TEST(LatencyHistogram, ValuesAboveSixtySecondsAreClampedAndCounted) {
  LatencyHistogram histogram;
  histogram.record(61'000'000'000);
  EXPECT_EQ(histogram.overflow(), 1u);
  EXPECT_EQ(histogram.max(), LatencyHistogram::kHighestTrackable);
}

TEST(LatencyHistogram, MergingEqualsRecordingIntoOne) {
  std::mt19937_64 random(3);
  std::exponential_distribution<double> latency(1.0 / 80'000);
  LatencyHistogram a, b, both;
  for (int i = 0; i < 50'000; ++i) {
    const auto value = static_cast<std::uint64_t>(latency(random));
    (i % 3 == 0 ? a : b).record(value);
    both.record(value);
  }
  a.merge(b);
  EXPECT_EQ(a, both);
  EXPECT_EQ(a.percentile(99.9), both.percentile(99.9));
  EXPECT_DOUBLE_EQ(a.stddev(), both.stddev());
}

TEST(LatencyHistogram, EncodeDecodeRoundTrip) {
  std::mt19937_64 random(4);
  std::lognormal_distribution<double> latency(std::log(1e6), 2.0);
  LatencyHistogram histogram;
  for (int i = 0; i < 20'000; ++i) histogram.record(static_cast<std::uint64_t>(latency(random)));
  const auto encoded = histogram.encode();
  EXPECT_EQ(LatencyHistogram::decode(nlohmann::json::parse(encoded.dump())), histogram);
  EXPECT_THROW(LatencyHistogram::decode({{"format", "other"}}), std::invalid_argument);
}

TEST(LatencyHistogram, EveryBucketBoundaryMapsToItself) {
  for (std::size_t i = 0; i < LatencyHistogram::kBucketCount; ++i) {
    const auto lowest = LatencyHistogram::lowest_in(i);
    ASSERT_EQ(LatencyHistogram::index_of(lowest), i);
    ASSERT_EQ(LatencyHistogram::index_of(lowest + LatencyHistogram::width_of(i) - 1), i);
    // The width never exceeds 1/1024 of the bucket's values: the 0.1% guarantee.
    ASSERT_LE(LatencyHistogram::width_of(i) * 1024, std::max<std::uint64_t>(lowest, 1024));
  }
  EXPECT_LT(LatencyHistogram::index_of(LatencyHistogram::kHighestTrackable),
            LatencyHistogram::kBucketCount);
}

TEST(LatencyHistogram, PercentileDistributionTextFollowsHdrHistogramsFormat) {
  LatencyHistogram histogram;
  for (std::uint64_t v = 1; v <= 10'000; ++v) histogram.record(v * 1000);  // 1 us .. 10 ms
  const std::string text = histogram.percentile_distribution(1000.0);
  EXPECT_EQ(text.rfind("       Value     Percentile TotalCount 1/(1-Percentile)\n\n", 0), 0u);
  EXPECT_NE(text.find("       1.000 0.000000000000          1           1.00\n"),
            std::string::npos);
  // The maximum (10 ms) as HdrHistogram prints it: the top of its bucket, 10,002,431 ns.
  EXPECT_NE(text.find("   10002.431 1.000000000000      10000\n"), std::string::npos) << text;
  EXPECT_NE(text.find("#[Max     =    10002.431, Total count    =        10000]"),
            std::string::npos);
}

// The value column of the percentile rows of a percentile_distribution text, in order.
std::vector<double> row_values(const std::string& text) {
  std::vector<double> values;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    double value = 0, percentile = 0;
    if (!line.starts_with('#') && std::sscanf(line.c_str(), "%lf %lf", &value, &percentile) == 2) {
      values.push_back(value);
    }
  }
  return values;
}

// HdrHistogram's convention: the last row (percentile 1.0) and #[Max are the top of the max's
// bucket, never below the row before it (an exact max would be, when it sits low in its bucket).
TEST(LatencyHistogram, LastRowAndMaxAreNeverBelowTheRowBefore) {
  for (const std::uint64_t max : std::initializer_list<std::uint64_t>{
           2'047, 2'048, 1'000'001, 12'345'678, LatencyHistogram::kHighestTrackable}) {
    LatencyHistogram histogram;
    for (std::uint64_t v = 1; v <= 1'000; ++v) histogram.record(v);
    histogram.record(max);
    histogram.record(max);  // two samples in the max's bucket: a row before the last shows it
    const std::string text = histogram.percentile_distribution(1000.0);
    const std::vector<double> values = row_values(text);
    ASSERT_GE(values.size(), 3u) << text;
    SCOPED_TRACE(max);
    EXPECT_TRUE(std::is_sorted(values.begin(), values.end())) << text;
    const double top = static_cast<double>(LatencyHistogram::highest_equivalent(max)) / 1000.0;
    EXPECT_NEAR(values.back(), top, 0.0005);
    EXPECT_GE(values.back(), values[values.size() - 2]);
    double printed_max = 0;
    const auto at = text.find("#[Max     =");
    ASSERT_NE(at, std::string::npos);
    ASSERT_EQ(std::sscanf(text.c_str() + at, "#[Max = %lf", &printed_max), 1);
    EXPECT_EQ(printed_max, values.back());
  }
}

// --hdr-unit ms: the same rows, values divided by 1e6 instead of 1e3.
TEST(LatencyHistogram, PercentileDistributionInMillisecondsDividesByAMillion) {
  LatencyHistogram histogram;
  for (std::uint64_t v = 1; v <= 10'000; ++v) histogram.record(v * 12'345);
  const std::vector<double> us = row_values(histogram.percentile_distribution(1e3));
  const std::vector<double> ms = row_values(histogram.percentile_distribution(1e6));
  ASSERT_EQ(us.size(), ms.size());
  for (std::size_t i = 0; i < us.size(); ++i) EXPECT_NEAR(ms[i], us[i] / 1000, 0.0005) << i;
  const std::string text = histogram.percentile_distribution(1e6);
  EXPECT_NE(text.find("#[Max     =      123.470, Total count    =        10000]"),
            std::string::npos)
      << text;  // 123,450,000 ns: top of its bucket 123,469,823 ns
}

}  // namespace
}  // namespace muxbench
