#include "common/duration.hpp"

#include <fmt/format.h>

#include <array>
#include <charconv>
#include <cmath>
#include <limits>
#include <utility>
#include <variant>

#include "common/usage_error.hpp"

namespace muxbench {
namespace {

constexpr std::array<std::pair<std::string_view, double>, 6> kUnits = {
    {{"ns", 1}, {"us", 1e3}, {"ms", 1e6}, {"s", 1e9}, {"m", 60e9}, {"h", 3600e9}}};

// Hand-parsed rather than CLI::AsNumberWithUnit: CLI11 2.1's transform passes a double through a
// six-digit stringstream ("1.2345678s" would become 1.23457e+09 ns) and cannot refuse hex input.
std::variant<std::chrono::nanoseconds, std::string> parse(std::string_view text) {
  const auto digits_end = text.find_first_not_of("0123456789.eE+-");
  const std::string_view number = text.substr(0, digits_end);
  const std::string_view unit = digits_end == std::string_view::npos ? "" : text.substr(digits_end);
  double value = 0;
  const auto [end, error] = std::from_chars(number.data(), number.data() + number.size(), value,
                                            std::chars_format::general);
  if (number.empty() || error != std::errc() || end != number.data() + number.size() ||
      !std::isfinite(value)) {
    return std::string("expected a duration such as 5s, 500ms, 2m or 1h");
  }
  if (value < 0) return std::string("a duration cannot be negative");
  double per_unit = unit.empty() ? 1e9 : 0;
  for (const auto& [name, ns] : kUnits) {
    if (name == unit) per_unit = ns;
  }
  if (per_unit == 0) {
    return fmt::format("unknown unit '{}' (ns, us, ms, s, m or h)", unit);
  }
  const double ns = value * per_unit;
  // One year is far beyond any benchmark window, and far below int64 nanoseconds (292 years).
  constexpr double kLongest = 365.0 * 24 * 3600e9;
  if (ns > kLongest) return std::string("longer than a year: refused");
  return std::chrono::nanoseconds(std::llround(ns));
}

}  // namespace

std::optional<std::chrono::nanoseconds> parse_duration(std::string_view text) {
  const auto parsed = parse(text);
  if (const auto* duration = std::get_if<std::chrono::nanoseconds>(&parsed)) return *duration;
  return std::nullopt;
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
  const auto parsed = parse(text);
  if (const auto* why = std::get_if<std::string>(&parsed)) {
    throw UsageError(fmt::format("{} {}: {}", option, text, *why));
  }
  const auto duration = std::get<std::chrono::nanoseconds>(parsed);
  if (!allow_zero && duration.count() == 0) {
    throw UsageError(fmt::format("{} {}: must be longer than zero", option, text));
  }
  return duration;
}

}  // namespace muxbench
