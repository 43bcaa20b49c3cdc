#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace muxbench {

// "5s", "500ms", "250us", "2m", "1h", "1.5s"; a bare number is seconds. nullopt when malformed,
// negative, not finite or longer than a year.
std::optional<std::chrono::nanoseconds> parse_duration(std::string_view text);

std::string format_duration(std::chrono::nanoseconds duration);  // "1.5s", "250ms"

// parse_duration for the value of a command-line option: throws UsageError naming the option and
// what is wrong when the text is refused, or zero where zero is not allowed.
std::chrono::nanoseconds duration_option(std::string_view option, std::string_view text,
                                         bool allow_zero);

}  // namespace muxbench
