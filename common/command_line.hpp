#pragma once

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <optional>
#include <string_view>

#include "common/exit_codes.hpp"

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
