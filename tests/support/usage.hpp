#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "common/subprocess.hpp"
#include "common/version.hpp"

namespace muxbench::testing {

// Runs `program args` and expects bad usage: exit code 2 (not a hang: the timeout kills it) and
// exactly one line on stderr that mentions `mentions`. Returns the result for further checks.
inline CommandResult expect_usage_error(
    const std::string& program, std::vector<std::string> args, const std::string& mentions,
    std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  args.insert(args.begin(), program);
  auto result = run_command(args, timeout);
  EXPECT_EQ(result.exit_code, 2) << "nullopt: it hung\n" << result.err;
  EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
  EXPECT_NE(result.err.find(mentions), std::string::npos) << result.err;
  return result;
}

// `program --version` prints one line, "NAME VERSION (git SHA...)", and exits 0.
inline void expect_version(const std::string& program, const std::string& name) {
  const auto result = run_command({program, "--version"}, std::chrono::seconds(10));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.err, "");
  EXPECT_EQ(result.out.rfind(name + " " + std::string(project_version()) + " (git ", 0), 0u)
      << result.out;
  EXPECT_EQ(std::count(result.out.begin(), result.out.end(), '\n'), 1) << result.out;
}

}  // namespace muxbench::testing
