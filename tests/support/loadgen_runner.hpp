#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/subprocess.hpp"
#include "tests/support/echo_server_process.hpp"

namespace muxbench::testing {

std::string loadgen_path();
std::string faulty_echo_server_path();

struct LoadgenRun {
  CommandResult command;
  nlohmann::json report;  // null when no JSON was written
  std::string csv;
};

// Runs loadgen against 127.0.0.1:port with --json/--csv into a temporary directory.
LoadgenRun run_loadgen(std::uint16_t port, std::vector<std::string> args,
                       std::chrono::milliseconds timeout = std::chrono::seconds(60),
                       SpawnOptions options = {});

}  // namespace muxbench::testing
