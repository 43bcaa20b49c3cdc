// HdrHistogram V2 encoding and .hlog interval logs without Java: round trips, malformed input, and
// known answers that Debian's libhdrhistogram-java produced (tests/fixtures/hdr, see
// HdrInterop.java).
#include "loadgen/hdr_codec.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "loadgen/hlog.hpp"
#include "tests/hdr_test_support.hpp"

namespace muxbench::hdr {
namespace {

using hdrtest::expect_same_buckets;
using hdrtest::java_value;

constexpr std::uint64_t kSixty = LatencyHistogram::kHighestTrackable;

LatencyHistogram of(std::initializer_list<std::uint64_t> values) {
  LatencyHistogram histogram;
  for (const auto value : values) histogram.record(value);
  return histogram;
}

std::vector<std::uint8_t> bytes_of(std::string_view text) { return {text.begin(), text.end()}; }

std::map<std::string, std::string> java_known_answers() {
  std::ifstream in(std::string(MUXBENCH_HDR_FIXTURES) + "/java_v2.txt");
  std::map<std::string, std::string> answers;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line.starts_with('#')) continue;
    const auto space = line.find(' ');
    answers[line.substr(0, space)] = line.substr(space + 1);
  }
  return answers;
}

TEST(Base64, Rfc4648Vectors) {
  const std::pair<std::string_view, std::string_view> vectors[] = {{"", ""},
                                                                   {"f", "Zg=="},
                                                                   {"fo", "Zm8="},
                                                                   {"foo", "Zm9v"},
                                                                   {"foob", "Zm9vYg=="},
                                                                   {"fooba", "Zm9vYmE="},
                                                                   {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(base64_encode(bytes_of(plain)), encoded);
    EXPECT_EQ(base64_decode(encoded), bytes_of(plain)) << encoded;
  }
}

TEST(Base64, EveryByteValueRoundTrips) {
  std::vector<std::uint8_t> bytes;
  for (int i = 0; i < 256 * 3 + 1; ++i) bytes.push_back(static_cast<std::uint8_t>(i * 7));
  for (std::size_t n = 0; n < 7; ++n) {
    const std::span<const std::uint8_t> part(bytes.data(), bytes.size() - n);
    const auto decoded = base64_decode(base64_encode(part));
    EXPECT_TRUE(std::equal(decoded.begin(), decoded.end(), part.begin(), part.end()));
  }
}

TEST(Base64, RefusesMalformedText) {
  for (const std::string_view bad : {"Zg=", "Z===", "Zg=a", "Zm9v!A==", "=Zm9", "Zm 9"}) {
    EXPECT_THROW(base64_decode(bad), FormatError) << bad;
  }
}

void expect_round_trip(const LatencyHistogram& histogram) {
  const std::string encoded = encode_v2_base64(histogram);
  EXPECT_TRUE(encoded.starts_with("HISTF")) << encoded;  // the compressed V2 cookie in base64
  const LatencyHistogram decoded = decode_v2_base64(encoded);
  expect_same_buckets(decoded, histogram);
  EXPECT_EQ(encode_v2_base64(decoded), encoded);
  for (const double p : {1.0, 50.0, 90.0, 99.0, 99.9}) {
    EXPECT_EQ(LatencyHistogram::index_of(decoded.percentile(p)),
              LatencyHistogram::index_of(histogram.percentile(p)))
        << "p" << p;
  }
  if (histogram.count() == 0) return;
  EXPECT_EQ(LatencyHistogram::index_of(decoded.min()), LatencyHistogram::index_of(histogram.min()));
  EXPECT_EQ(LatencyHistogram::index_of(decoded.max()), LatencyHistogram::index_of(histogram.max()));
  EXPECT_LE(decoded.max(), kSixty);
  EXPECT_NEAR(decoded.mean(), histogram.mean(), histogram.mean() / 1024);
}

TEST(HdrV2, RoundTripsEmptyOneValueAndSixtySeconds) {
  expect_round_trip(LatencyHistogram{});
  expect_round_trip(of({0}));
  expect_round_trip(of({1}));
  expect_round_trip(of({123'456}));
  expect_round_trip(of({kSixty}));
  expect_round_trip(of({kSixty + 1}));  // recorded as 60 s
}

TEST(HdrV2, RoundTripsValuesAcrossTheWholeRange) {
  LatencyHistogram histogram;
  for (std::uint64_t value = 1; value <= kSixty; value *= 2) {
    for (const std::uint64_t v : {value - 1, value, value + 1, value + value / 3}) {
      if (v <= kSixty) histogram.record(v);
    }
  }
  std::mt19937_64 random(16);
  std::uniform_real_distribution<double> exponent(0.0, std::log(static_cast<double>(kSixty)));
  for (int i = 0; i < 100'000; ++i) {
    histogram.record(static_cast<std::uint64_t>(std::exp(exponent(random))));
  }
  for (int i = 0; i < 1000; ++i) histogram.record(kSixty);  // counts needing several LEB128 bytes
  expect_round_trip(histogram);
}

TEST(HdrV2, CountsBeyondOneByteAndLongZeroRuns) {
  LatencyHistogram histogram;
  for (int i = 0; i < 70'000; ++i) histogram.record(5);
  histogram.record(1'000'000'000);
  expect_round_trip(histogram);
}

TEST(HdrV2, EncodesAsTheJavaLibraryDoes) {
  const auto answers = java_known_answers();
  ASSERT_EQ(answers.size(), 10u);
  const std::map<std::string, LatencyHistogram> cases = {
      {"empty", {}},
      {"zero", of({0})},
      {"one_value", of({1000})},
      {"spread", of({0, 1, 2, 2047, 2048, 2049, 4095, 4096, 1'000'000, 1'000'000, 1'000'000,
                     123'456'789, kSixty})},
      {"sixty_seconds", of({kSixty, kSixty, kSixty})}};
  for (const auto& [name, histogram] : cases) {
    EXPECT_EQ(encode_v2_base64(histogram), answers.at(name)) << name;
    expect_same_buckets(decode_v2_base64(answers.at(name)), histogram);
  }
  // An auto-resizing Java histogram has another highest trackable value: the counts still fit.
  expect_same_buckets(decode_v2_base64(answers.at("auto_resize")), of({5, 7'000'000}));
}

TEST(HdrV2, RefusesHistogramsThatAreNotOurLayout) {
  const auto answers = java_known_answers();
  const std::pair<std::string, std::string> refusals[] = {
      {"refused_two_digits", "significant digits 2"},
      {"refused_lowest_1000", "lowest discernible value 1000"},
      {"refused_above_60s", "above muxbench's 60 s range"},
      {"refused_double", "not an HdrHistogram V2 compressed histogram"}};
  for (const auto& [name, reason] : refusals) {
    try {
      decode_v2_base64(answers.at(name));
      ADD_FAILURE() << name << " was accepted";
    } catch (const FormatError& error) {
      EXPECT_NE(std::string(error.what()).find(reason), std::string::npos) << error.what();
    }
  }
}

TEST(HdrV2, RefusesDamagedEncodings) {
  auto bytes = encode_v2_compressed(of({1, 2, 3, 1'000'000}));
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_THROW(decode_v2_compressed(std::span(bytes).first(n)), FormatError) << n << " bytes";
  }
  auto garbled = bytes;
  garbled[10] ^= 0x55;
  EXPECT_THROW(decode_v2_compressed(garbled), FormatError);
  auto cookie = bytes;
  cookie[3] = 0x12;  // 0x1c849312: a V1 compressed cookie
  EXPECT_THROW(decode_v2_compressed(cookie), FormatError);
}

TEST(Hlog, WritesTheJavaHeaderAndReadsItsOwnIntervals) {
  std::ostringstream out;
  HlogWriter writer(out, 1'700'000'000.0, kDefaultMaxValueDivisor, "muxbench loadgen");
  const LatencyHistogram first = of({1000, 2000, 3'000'000});
  const LatencyHistogram second = of({kSixty});
  writer.write_interval(0.0, 1.0, first);
  writer.write_interval(1.0, 0.5, second);
  writer.write_interval(1.5, 1.0, LatencyHistogram{});
  const std::string text = out.str();
  EXPECT_TRUE(text.starts_with(
      "#muxbench loadgen\n"
      "#[Histogram log format version 1.3]\n"
      "#[StartTime: 1700000000.000 (seconds since epoch), Tue Nov 14 22:13:20 UTC 2023]\n"
      "#[BaseTime: 1700000000.000 (seconds since epoch)]\n"
      "#[MaxValueDivisor: 1000000.000]\n"
      "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n"
      "0.000,1.000,3.000,HISTF"))  // 3 ms: the top of its bucket, 3000319 ns
      << text;

  std::istringstream in(text);
  const Hlog log = read_hlog(in);
  EXPECT_EQ(log.start_time_s, 1'700'000'000.0);
  EXPECT_EQ(log.base_time_s, 1'700'000'000.0);
  EXPECT_EQ(log.max_value_divisor, 1e6);
  ASSERT_EQ(log.intervals.size(), 3u);
  EXPECT_EQ(log.intervals[1].start_s, 1.0);
  EXPECT_EQ(log.intervals[1].length_s, 0.5);
  EXPECT_EQ(log.intervals[1].max, 60'028.879);  // the top of the 60 s bucket, in ms
  expect_same_buckets(log.intervals[0].histogram, first);
  expect_same_buckets(log.intervals[1].histogram, second);
  EXPECT_EQ(log.intervals[2].histogram.count(), 0u);
}

TEST(Hlog, ReadsTheLogTheJavaLibraryWrote) {
  std::ifstream in(std::string(MUXBENCH_HDR_FIXTURES) + "/java_intervals.hlog");
  ASSERT_TRUE(in) << "missing fixture";
  hdrtest::expect_java_intervals(read_hlog(in));
}

TEST(Hlog, NamesTheBadLine) {
  std::istringstream in("#[StartTime: 5.000 (seconds since epoch)]\n0.000,1.000,2.000\n");
  try {
    read_hlog(in);
    ADD_FAILURE() << "accepted";
  } catch (const FormatError& error) {
    EXPECT_NE(std::string(error.what()).find("hlog line 2"), std::string::npos) << error.what();
  }
  std::istringstream relative(std::string("#[StartTime: 1700000000.000 (seconds since epoch)]\n") +
                              "3.000,1.000,0.000," + encode_v2_base64(of({1})) + "\n");
  EXPECT_EQ(read_hlog(relative).base_time_s, 1'700'000'000.0);  // HistogramLogReader's rule
}

}  // namespace
}  // namespace muxbench::hdr
