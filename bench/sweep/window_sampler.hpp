#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "common/process_usage.hpp"

namespace muxbench {

// A server measured from outside at the edges of loadgen's window: loadgen sends this process
// SIGUSR1 at each edge (as it does echo-server for its own snapshots), and a thread then samples
// /proc for the server. Works for any server, ours or foreign; one point at a time.
class WindowSampler {
 public:
  struct Sample {
    std::int64_t monotonic_ns = 0;
    ProcessUsage usage;
  };

  WindowSampler();  // installs the SIGUSR1 handler; one per process
  WindowSampler(const WindowSampler&) = delete;
  WindowSampler& operator=(const WindowSampler&) = delete;
  ~WindowSampler();

  void arm(pid_t server);  // samples that process at each SIGUSR1 from now on
  // An edge this process marks itself (it signals remote generators' server at the edges);
  // nothing when no sampler exists.
  static void edge();
  std::vector<Sample> disarm();  // the samples taken since arm()

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace muxbench
