#pragma once

namespace muxbench {

// Exit codes shared by every program of the suite (1: the run itself failed or found errors).
inline constexpr int kExitUsage = 2;          // bad options, a limit too low, a port in use
inline constexpr int kExitUnsupported = 4;    // this machine cannot run it (e.g. no io_uring)
inline constexpr int kExitInterrupted = 130;  // Ctrl-C: what was measured so far is written
}  // namespace muxbench
