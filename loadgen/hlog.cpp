#include "loadgen/hlog.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <ctime>
#include <istream>
#include <ostream>

#include "loadgen/hdr_codec.hpp"

namespace muxbench::hdr {
namespace {

constexpr std::string_view kLegend =
    R"("StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram")";

// java.util.Date.toString()'s form ("EEE MMM dd HH:mm:ss zzz yyyy"), in UTC.
std::string java_date(double seconds_since_epoch) {
  const auto seconds = static_cast<std::time_t>(std::floor(seconds_since_epoch));
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[64];
  const std::size_t n = std::strftime(text, sizeof text, "%a %b %d %H:%M:%S UTC %Y", &utc);
  return std::string(text, n);
}

double parse_double(std::string_view text, std::size_t line) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  double value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || end != text.data() + text.size()) {
    throw FormatError(fmt::format("hlog line {}: '{}' is not a number", line, text));
  }
  return value;
}

// The number after a "#[Name: " prefix, up to the next space, ',' or ']'.
std::optional<double> header_number(std::string_view text, std::string_view prefix,
                                    std::size_t line) {
  if (!text.starts_with(prefix)) return std::nullopt;
  text.remove_prefix(prefix.size());
  return parse_double(text.substr(0, text.find_first_of(" ,]")), line);
}

}  // namespace

HlogWriter::HlogWriter(std::ostream& out, double start_time_s, double max_value_divisor,
                       std::string_view comment)
    : out_(out), max_value_divisor_(max_value_divisor) {
  if (!comment.empty()) out_ << '#' << comment << '\n';
  out_ << "#[Histogram log format version 1.3]\n"
       << fmt::format("#[StartTime: {:.3f} (seconds since epoch), {}]\n", start_time_s,
                      java_date(start_time_s))
       << fmt::format("#[BaseTime: {:.3f} (seconds since epoch)]\n", start_time_s)
       << fmt::format("#[MaxValueDivisor: {:.3f}]\n", max_value_divisor) << kLegend << '\n';
}

void HlogWriter::write_interval(double start_s, double length_s,
                                const LatencyHistogram& histogram) {
  // HistogramLogWriter writes getMaxValue(): the highest value equivalent to the max recorded.
  const std::uint64_t max = LatencyHistogram::highest_equivalent(histogram.max());
  out_ << fmt::format("{:.3f},{:.3f},{:.3f},{}\n", start_s, length_s,
                      static_cast<double>(max) / max_value_divisor_, encode_v2_base64(histogram));
  out_.flush();
}

Hlog read_hlog(std::istream& in) {
  Hlog log;
  std::optional<double> base_time;
  std::string text;
  for (std::size_t line = 1; std::getline(in, text); ++line) {
    std::string_view view = text;
    if (view.ends_with('\r')) view.remove_suffix(1);
    if (view.empty() || view.starts_with(R"("StartTimestamp")")) continue;
    if (view.starts_with('#')) {
      if (auto value = header_number(view, "#[StartTime: ", line)) log.start_time_s = value;
      if (auto value = header_number(view, "#[BaseTime: ", line)) base_time = value;
      if (auto value = header_number(view, "#[MaxValueDivisor: ", line)) {
        log.max_value_divisor = value;
      }
      continue;
    }
    HlogInterval interval;
    if (view.starts_with("Tag=")) {
      const std::size_t comma = view.find(',');
      if (comma == std::string_view::npos) {
        throw FormatError(fmt::format("hlog line {}: a tag and nothing else", line));
      }
      interval.tag = view.substr(4, comma - 4);
      view.remove_prefix(comma + 1);
    }
    std::string_view fields[4];
    for (std::size_t i = 0; i < 3; ++i) {
      const std::size_t comma = view.find(',');
      if (comma == std::string_view::npos) {
        throw FormatError(fmt::format(
            "hlog line {}: expected start,length,max,histogram; found '{}'", line, text));
      }
      fields[i] = view.substr(0, comma);
      view.remove_prefix(comma + 1);
    }
    fields[3] = view;
    interval.start_s = parse_double(fields[0], line);
    interval.length_s = parse_double(fields[1], line);
    interval.max = parse_double(fields[2], line);
    try {
      interval.histogram = decode_v2_base64(fields[3]);
    } catch (const FormatError& error) {
      throw FormatError(fmt::format("hlog line {}: {}", line, error.what()));
    }
    if (!base_time) {
      constexpr double kYear = 365 * 24 * 3600.0;
      const double start = log.start_time_s.value_or(interval.start_s);
      base_time = interval.start_s < start - kYear ? start : 0.0;
    }
    log.intervals.push_back(std::move(interval));
  }
  log.base_time_s = base_time.value_or(0.0);
  return log;
}

}  // namespace muxbench::hdr
