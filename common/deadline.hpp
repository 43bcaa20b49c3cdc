#pragma once

#include <algorithm>
#include <chrono>

namespace muxbench {

// A poll()/epoll_wait() timeout for "wait until `deadline`, but never longer than cap_ms".
inline int milliseconds_until(std::chrono::steady_clock::time_point deadline,
                              long cap_ms = 1 << 30) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  return static_cast<int>(std::clamp<long>(left.count(), 0, cap_ms));
}

}  // namespace muxbench
