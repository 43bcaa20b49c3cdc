#pragma once

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <optional>
#include <string_view>

#include "common/exit_codes.hpp"
#include "common/version.hpp"

namespace muxbench {

// Parses the command line into `app`. Returns the exit code when the program ends here: 0 after
// --help, kExitUsage after a bad option (said on stderr), nothing when it should go on.
inline std::optional<int> parse_command_line(CLI::App& app, int argc, char** argv,
                                             std::string_view program) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& success) {
    return app.exit(success);
  } catch (const CLI::ParseError& error) {
    fmt::print(stderr, "{}: {} (see --help)\n", program, error.what());
    return kExitUsage;
  }
  return std::nullopt;
}

// --version: prints version_text(program) on stdout, exit code 0 (parse_command_line returns it).
inline void add_version_flag(CLI::App& app, std::string_view program) {
  app.set_version_flag("--version", version_text(program), "print the version and exit");
}

// CLI11 2.1 reads integers with base 0 ("0x10" is 16, "010" is 8) and wraps "-1" into an unsigned
// option; a count on a command line is plain decimal digits, without a leading zero.
inline CLI::Validator decimal_count() {
  return CLI::Validator(
      [](const std::string& text) -> std::string {
        if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos) {
          return "'" + text + "' is not a count (decimal digits only)";
        }
        if (text.size() > 1 && text[0] == '0') {
          return "'" + text + "': a leading zero would be read as octal";
        }
        return {};
      },
      "COUNT");
}

// A size in bytes: decimal digits, optionally followed by a unit of 1024s (KiB, MiB, GiB, or
// K, KB, M, MB...; case-insensitive), as "64KiB" or "16 MiB". Refuses what AsSizeValue alone
// would take ("0x10", "-1", "1e3"). Use with transform(), then check() a range on the result.
inline CLI::Validator byte_size() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        const std::size_t digits = text.find_first_not_of("0123456789");
        const std::size_t unit = text.find_first_not_of(' ', digits);
        const bool letters_only =
            unit == std::string::npos ||
            std::all_of(text.begin() + static_cast<std::ptrdiff_t>(unit), text.end(),
                        [](char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; });
        if (digits == 0 || text.empty() || !letters_only) {
          return "'" + text + "' is not a size (bytes, or with a unit: 64KiB, 16MiB, 1GiB)";
        }
        return CLI::AsSizeValue(false)(text);
      },
      "SIZE");
}

// Range and PositiveNumber let NaN through (every comparison with NaN is false).
inline CLI::Validator finite_number() {
  return CLI::Validator(
      [](const std::string& text) -> std::string {
        double value = 0;
        if (!CLI::detail::lexical_cast(text, value) || !std::isfinite(value)) {
          return "'" + text + "' is not a finite number";
        }
        return {};
      },
      "FINITE");
}

}  // namespace muxbench
