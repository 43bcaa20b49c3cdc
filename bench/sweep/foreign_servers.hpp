#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bench/sweep/point_runner.hpp"
#include "common/subprocess.hpp"
#include "model/sweep_config.hpp"

namespace muxbench {

// The servers muxbench ships besides echo-server, where their interpreter or library is
// installed: Python's standard-library server in each of its modes (python-select, python-poll,
// python-epoll, python-selectors, python-asyncio) and libuv's (libuv).
std::vector<ForeignServer> shipped_servers(const Tools& tools);

// --server NAME=TEMPLATE; throws UsageError (a name of echo-server's, a bad name, no template).
ForeignServer parse_server_option(std::string_view text);

const ForeignServer* find_server(const std::vector<ForeignServer>& servers, std::string_view name);

// A foreign server started and ready to be loaded: a free port is chosen, {port} and {cpu}
// replaced, the process pinned to `cpu`; ready once its port accepts a connection.
struct ForeignStart {
  std::optional<Subprocess> process;
  std::string target;                 // 127.0.0.1:PORT
  std::optional<std::string> reason;  // why it is not running: exited, never listened, ...
};
ForeignStart start_foreign_server(const ForeignServer& server, int cpu,
                                  std::chrono::milliseconds timeout);

// SIGTERM, then SIGKILL after the grace period. A server that a SIGTERM ends (exit 0, or killed
// by it when it sets no handler) stopped normally; anything else is said.
std::optional<std::string> stop_foreign_server(Subprocess& process, const std::string& name);

}  // namespace muxbench
