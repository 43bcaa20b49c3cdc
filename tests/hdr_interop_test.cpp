// Against the reference implementation: Debian's libhdrhistogram-java reads our .hlog
// (HistogramLogProcessor) and reports what LatencyHistogram reports, and a log written by the Java
// library's HistogramLogWriter reads back into the same counts. Skipped, saying why, without java,
// javac or the jar (scripts/setup installs libhdrhistogram-java and default-jdk-headless).
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "common/subprocess.hpp"
#include "loadgen/hdr_codec.hpp"
#include "loadgen/hlog.hpp"
#include "tests/hdr_test_support.hpp"

namespace muxbench::hdr {
namespace {

namespace fs = std::filesystem;
using hdrtest::jar_path;
using hdrtest::java_value;
using hdrtest::on_path;

constexpr auto kJavaTimeout = std::chrono::seconds(60);

class ScratchDir {
 public:
  ScratchDir() {
    std::string pattern = (fs::temp_directory_path() / "muxbench-hdr-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

class JavaInterop : public ::testing::Test {
 protected:
  void SetUp() override {
    java_ = on_path("java");
    if (!java_) GTEST_SKIP() << "no java on PATH (Debian: default-jre-headless)";
    if (!fs::exists(jar_path())) {
      GTEST_SKIP() << jar_path() << " is absent (Debian: libhdrhistogram-java)";
    }
  }

  std::string run(const std::vector<std::string>& argv) {
    SpawnOptions options;
    options.capture_stderr = true;
    const CommandResult result = run_command(argv, kJavaTimeout, options);
    EXPECT_EQ(result.exit_code, 0) << argv[0] << " failed:\n" << result.out << result.err;
    return result.out;
  }

  std::optional<std::string> java_;
  ScratchDir dir_;
};

std::vector<std::string> lines_of(const fs::path& file) {
  std::ifstream in(file);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// A value HistogramLogProcessor printed in µs with 3 decimals, back in ns (exact).
std::uint64_t ns_of(double us) { return static_cast<std::uint64_t>(std::llround(us * 1000)); }

// Five 1 s intervals of spread-out latencies, 1 ns to 60 s, as loadgen would log them.
std::vector<LatencyHistogram> our_intervals() {
  std::mt19937_64 random(16);
  std::lognormal_distribution<double> latency(std::log(200'000.0), 1.5);
  std::vector<LatencyHistogram> intervals(5);
  for (std::size_t k = 0; k < intervals.size(); ++k) {
    for (int i = 0; i < 20'000 + 5'000 * static_cast<int>(k); ++i) {
      intervals[k].record(static_cast<std::uint64_t>(latency(random)) + 1);
    }
  }
  intervals[1].record(1);
  intervals[3].record(LatencyHistogram::kHighestTrackable);  // a 60 s stall
  return intervals;
}

// One percentile row: the same value and count to the digit; the percentile level and
// 1/(1-level) the same number. Their last printed digit may differ on an exact tie: Java's
// Formatter rounds half up (0.9997802734375 -> "0.999780273438"), fmt and printf round the binary
// value half to even ("0.999780273437").
void expect_same_row(const std::string& theirs, const std::string& ours) {
  char their_value[32], our_value[32];
  double their_p = 0, our_p = 0, their_inverse = 0, our_inverse = 0;
  unsigned long long their_count = 0, our_count = 0;
  ASSERT_EQ(std::sscanf(theirs.c_str(), "%31s %lf %llu %lf", their_value, &their_p, &their_count,
                        &their_inverse),
            4)
      << theirs;
  ASSERT_EQ(
      std::sscanf(ours.c_str(), "%31s %lf %llu %lf", our_value, &our_p, &our_count, &our_inverse),
      4)
      << ours;
  EXPECT_STREQ(their_value, our_value) << "java: " << theirs << "\nours: " << ours;
  EXPECT_EQ(their_count, our_count) << "java: " << theirs << "\nours: " << ours;
  EXPECT_NEAR(their_p, our_p, 1.01e-12) << "java: " << theirs << "\nours: " << ours;
  EXPECT_NEAR(their_inverse, our_inverse, 0.0101) << "java: " << theirs << "\nours: " << ours;
}

TEST_F(JavaInterop, HistogramLogProcessorReadsOurLogWithOurPercentiles) {
  const std::vector<LatencyHistogram> intervals = our_intervals();
  LatencyHistogram total;
  const fs::path hlog = dir_.path() / "ours.hlog";
  {
    std::ofstream out(hlog);
    HlogWriter writer(out, 1'700'000'000.0);
    for (std::size_t k = 0; k < intervals.size(); ++k) {
      writer.write_interval(static_cast<double>(k), 1.0, intervals[k]);
      total.merge(intervals[k]);
    }
  }
  const fs::path out = dir_.path() / "processed";
  // Values in µs, as our percentile_distribution(1000) writes them.
  run({*java_, "-cp", jar_path(), "org.HdrHistogram.HistogramLogProcessor", "-i", hlog.string(),
       "-o", out.string(), "-outputValueUnitRatio", "1000"});

  // The overall distribution (.hgrm): row for row our percentile_distribution, the last row and
  // #[Max too (both the top of the max's bucket), except the mean: HdrHistogram's comes from bucket
  // midpoints, ours is exact.
  std::vector<std::string> theirs;
  for (auto& line : lines_of(out.string() + ".hgrm")) {
    if (!line.starts_with("#[Overall") && !line.starts_with("#[StartTime")) theirs.push_back(line);
  }
  std::vector<std::string> ours;
  std::istringstream our_text(total.percentile_distribution(1000.0));
  for (std::string line; std::getline(our_text, line);) ours.push_back(line);
  ASSERT_EQ(theirs.size(), ours.size()) << "java:\n" << ::testing::PrintToString(theirs);
  ASSERT_GT(ours.size(), 50u);
  const std::size_t last_row = ours.size() - 4;  // then #[Mean, #[Max, #[Buckets
  for (std::size_t i = 0; i < 2; ++i) EXPECT_EQ(theirs[i], ours[i]);  // the column titles
  for (std::size_t i = 2; i < last_row; ++i) expect_same_row(theirs[i], ours[i]);
  double their_value = 0, our_value = 0, their_p = 0, our_p = 0;
  unsigned long long their_count = 0, our_count = 0;
  ASSERT_EQ(
      std::sscanf(theirs[last_row].c_str(), "%lf %lf %llu", &their_value, &their_p, &their_count),
      3)
      << theirs[last_row];
  ASSERT_EQ(std::sscanf(ours[last_row].c_str(), "%lf %lf %llu", &our_value, &our_p, &our_count), 3);
  EXPECT_EQ(their_p, 1.0);
  EXPECT_EQ(our_p, 1.0);
  EXPECT_EQ(their_count, total.count());
  EXPECT_EQ(our_count, total.count());
  EXPECT_EQ(ns_of(their_value), java_value(total.max()));
  EXPECT_EQ(our_value, their_value) << "java: " << theirs[last_row] << "\nours: " << ours[last_row];
  double their_mean = 0, their_max = 0;
  unsigned long long their_total = 0;
  ASSERT_EQ(std::sscanf(theirs[last_row + 1].c_str(), "#[Mean = %lf", &their_mean), 1);
  EXPECT_NEAR(their_mean * 1000, total.mean(), total.mean() / 2048);  // half a bucket at most
  ASSERT_EQ(std::sscanf(theirs[last_row + 2].c_str(), "#[Max = %lf, Total count = %llu", &their_max,
                        &their_total),
            2);
  EXPECT_EQ(ns_of(their_max), java_value(total.max()));
  EXPECT_EQ(theirs[last_row + 2], ours[last_row + 2]);  // #[Max = ..., Total count = ...]
  EXPECT_EQ(their_total, total.count());
  EXPECT_EQ(theirs.back(), ours.back());  // #[Buckets = 26, SubBuckets = 2048]

  // The interval log: per interval its count, p50, p90 and max, and the running totals.
  LatencyHistogram running;
  std::size_t k = 0;
  for (const auto& line : lines_of(out)) {
    double time = 0, p[3], t[6];
    unsigned long long count = 0, total_count = 0;
    if (std::sscanf(line.c_str(), "%lf: I:%llu ( %lf %lf %lf ) T:%llu ( %lf %lf %lf %lf %lf %lf )",
                    &time, &count, &p[0], &p[1], &p[2], &total_count, &t[0], &t[1], &t[2], &t[3],
                    &t[4], &t[5]) != 12) {
      continue;
    }
    ASSERT_LT(k, intervals.size()) << line;
    SCOPED_TRACE(line);
    const LatencyHistogram& interval = intervals[k];
    running.merge(interval);
    EXPECT_EQ(time, static_cast<double>(k + 1));
    EXPECT_EQ(count, interval.count());
    EXPECT_EQ(ns_of(p[0]), java_value(interval.percentile(50)));
    EXPECT_EQ(ns_of(p[1]), java_value(interval.percentile(90)));
    EXPECT_EQ(ns_of(p[2]), java_value(interval.max()));
    EXPECT_EQ(total_count, running.count());
    const double levels[] = {50, 90, 99, 99.9, 99.99};
    for (std::size_t i = 0; i < 5; ++i) {
      EXPECT_EQ(ns_of(t[i]), java_value(running.percentile(levels[i]))) << levels[i];
    }
    EXPECT_EQ(ns_of(t[5]), java_value(running.max()));
    ++k;
  }
  EXPECT_EQ(k, intervals.size());
}

TEST_F(JavaInterop, WeReadTheLogTheJavaLibraryWrites) {
  const auto javac = on_path("javac");
  if (!javac) GTEST_SKIP() << "no javac on PATH (Debian: default-jdk-headless)";
  const fs::path classes = dir_.path() / "classes";
  fs::create_directory(classes);
  run({*javac, "-cp", jar_path(), "-d", classes.string(),
       std::string(MUXBENCH_HDR_FIXTURES) + "/HdrInterop.java"});
  const fs::path hlog = dir_.path() / "java.hlog";
  std::istringstream java_view(run(
      {*java_, "-cp", jar_path() + ":" + classes.string(), "HdrInterop", "log", hlog.string()}));
  std::ifstream in(hlog);
  const Hlog log = read_hlog(in);
  hdrtest::expect_java_intervals(log);
  ASSERT_EQ(log.intervals.size(), 5u);

  // Java's own view of each interval: our decoded histogram reports the same buckets.
  int lines = 0;
  for (std::string line; std::getline(java_view, line); ++lines) {
    int k = 0;
    unsigned long long count = 0, p50 = 0, p99 = 0, p999 = 0, max = 0;
    ASSERT_EQ(std::sscanf(line.c_str(), "%d %llu %llu %llu %llu %llu", &k, &count, &p50, &p99,
                          &p999, &max),
              6)
        << line;
    const LatencyHistogram& ours = log.intervals.at(static_cast<std::size_t>(k)).histogram;
    SCOPED_TRACE(line);
    EXPECT_EQ(ours.count(), count);
    EXPECT_EQ(java_value(ours.percentile(50)), p50);
    EXPECT_EQ(java_value(ours.percentile(99)), p99);
    EXPECT_EQ(java_value(ours.percentile(99.9)), p999);
    EXPECT_EQ(java_value(ours.max()), max);
  }
  EXPECT_EQ(lines, 5);

  // And the same log as committed (tests/fixtures/hdr/java_intervals.hlog), byte for byte.
  std::ifstream fresh(hlog), committed(std::string(MUXBENCH_HDR_FIXTURES) + "/java_intervals.hlog");
  std::stringstream a, b;
  a << fresh.rdbuf();
  b << committed.rdbuf();
  std::string a_text = a.str(), b_text = b.str();
  // #[StartTime carries the date in the machine's time zone: compare the rest.
  const auto drop_date = [](std::string& text) {
    const auto at = text.find("(seconds since epoch), ");
    text.erase(at, text.find(']', at) - at);
  };
  drop_date(a_text);
  drop_date(b_text);
  EXPECT_EQ(a_text, b_text);
}

}  // namespace
}  // namespace muxbench::hdr
