#include "common/duration.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cmath>

#include "common/usage_error.hpp"

namespace muxbench {

std::optional<std::chrono::nanoseconds> parse_duration(std::string_view text) {
  double value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || !std::isfinite(value) || value < 0) return std::nullopt;
  const std::string_view unit(end, static_cast<std::size_t>(text.data() + text.size() - end));
  double nanoseconds_per_unit = 0;
  if (unit.empty() || unit == "s") {
    nanoseconds_per_unit = 1e9;
  } else if (unit == "ms") {
    nanoseconds_per_unit = 1e6;
  } else if (unit == "us") {
    nanoseconds_per_unit = 1e3;
  } else if (unit == "ns") {
    nanoseconds_per_unit = 1;
  } else if (unit == "m") {
    nanoseconds_per_unit = 60e9;
  } else {
    return std::nullopt;
  }
  return std::chrono::nanoseconds(std::llround(value * nanoseconds_per_unit));
}

std::string format_duration(std::chrono::nanoseconds duration) {
  const auto ns = static_cast<double>(duration.count());
  if (ns >= 1e9) return fmt::format("{:g}s", ns / 1e9);
  if (ns >= 1e6) return fmt::format("{:g}ms", ns / 1e6);
  if (ns >= 1e3) return fmt::format("{:g}us", ns / 1e3);
  return fmt::format("{}ns", duration.count());
}

std::chrono::nanoseconds duration_option(std::string_view option, std::string_view text,
                                         bool allow_zero) {
  const auto parsed = parse_duration(text);
  if (!parsed || (!allow_zero && parsed->count() == 0)) {
    throw UsageError(
        fmt::format("{} {}: expected a duration such as 5s, 500ms or 2m", option, text));
  }
  return *parsed;
}

}  // namespace muxbench
