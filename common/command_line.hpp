#pragma once

#include <fmt/format.h>

#include <CLI/CLI.hpp>
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

}  // namespace muxbench
