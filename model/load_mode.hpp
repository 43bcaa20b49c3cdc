#pragma once

#include "model/json_support.hpp"

namespace muxbench {

// Closed loop: each active connection keeps its messages in flight (throughput, CPU per message).
// Open loop: a fixed aggregate rate, latency counted from each message's intended send time.
enum class LoadMode { closed, open };
MUXBENCH_JSON_ENUM(LoadMode, {{LoadMode::closed, "closed"}, {LoadMode::open, "open"}})

}  // namespace muxbench
