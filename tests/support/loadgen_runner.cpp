#include "tests/support/loadgen_runner.hpp"

#include <fstream>
#include <sstream>

namespace muxbench::testing {

std::string loadgen_path() { return MUXBENCH_LOADGEN; }
std::string faulty_echo_server_path() { return MUXBENCH_FAULTY_ECHO_SERVER; }

LoadgenRun run_loadgen(std::uint16_t port, std::vector<std::string> args,
                       std::chrono::milliseconds timeout, SpawnOptions options) {
  TempDir dir;
  const auto json = dir.path() / "report.json";
  const auto csv = dir.path() / "report.csv";
  std::vector<std::string> argv = {
      loadgen_path(), "--target",  "127.0.0.1:" + std::to_string(port), "--json", json.string(),
      "--csv",        csv.string()};
  argv.insert(argv.end(), args.begin(), args.end());
  LoadgenRun run;
  run.command = run_command(argv, timeout, options);
  if (std::ifstream in(json); in) run.report = nlohmann::json::parse(in, nullptr, false);
  if (std::ifstream in(csv); in) {
    std::stringstream text;
    text << in.rdbuf();
    run.csv = text.str();
  }
  return run;
}

}  // namespace muxbench::testing
