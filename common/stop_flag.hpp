#pragma once

#include <atomic>

namespace muxbench {

// Set by SIGINT or SIGTERM once install_stop_handlers() ran; a second signal leaves at once with
// kExitInterrupted (a user who presses Ctrl-C twice means it).
const std::atomic<bool>& stop_requested();

void install_stop_handlers();

}  // namespace muxbench
