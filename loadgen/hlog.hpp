#pragma once

#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "loadgen/histogram.hpp"

namespace muxbench::hdr {

// HdrHistogram's interval log (.hlog), as org.HdrHistogram.HistogramLogWriter writes it:
//   #<comment>                                                       (optional)
//   #[Histogram log format version 1.3]
//   #[StartTime: 1700000000.000 (seconds since epoch), Tue Nov 14 22:13:20 UTC 2023]
//   #[BaseTime: 1700000000.000 (seconds since epoch)]
//   #[MaxValueDivisor: 1000000.000]   (HdrHistogram's Rust writer's; Java reads it as a comment)
//   "StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"
//   0.000,1.000,12.345,HISTFAAAA...   (start and length in seconds, relative to BaseTime; the
//                                      interval's max in ns / MaxValueDivisor; V2 base64)
// HistogramLogReader and HistogramLogProcessor read it; so do HdrHistogram's plotting tools.

inline constexpr double kDefaultMaxValueDivisor = 1e6;  // Interval_Max in ms, as Java's default

class HlogWriter {
 public:
  // Writes the header lines at once. `start_time_s` (seconds since the epoch) is both StartTime
  // and BaseTime, so interval timestamps are seconds since the start of the run.
  HlogWriter(std::ostream& out, double start_time_s,
             double max_value_divisor = kDefaultMaxValueDivisor, std::string_view comment = {});
  // One line; `start_s` relative to the start time, `length_s` the interval's length.
  void write_interval(double start_s, double length_s, const LatencyHistogram& histogram);

 private:
  std::ostream& out_;
  double max_value_divisor_;
};

struct HlogInterval {
  std::string tag;     // "" when the line has no Tag=
  double start_s = 0;  // as written: relative to the log's base time
  double length_s = 0;
  double max = 0;  // Interval_Max as written (the max in ns / the writer's divisor)
  LatencyHistogram histogram;
};

struct Hlog {
  std::optional<double> start_time_s;  // #[StartTime: ...], seconds since the epoch
  // #[BaseTime: ...]; without one, HistogramLogReader's rule: StartTime when the first interval's
  // timestamp is more than a year before it (timestamps relative), else 0 (timestamps absolute).
  double base_time_s = 0;
  std::optional<double> max_value_divisor;  // #[MaxValueDivisor: ...] if present
  std::vector<HlogInterval> intervals;
};

// Reads a whole log; throws FormatError (hdr_codec.hpp) naming the line for a malformed line or
// a histogram that decode_v2_base64 refuses.
Hlog read_hlog(std::istream& in);

}  // namespace muxbench::hdr
