#pragma once

#include <cerrno>
#include <system_error>

namespace muxbench {

// loadgen's one idiom for system calls: a result below zero throws std::system_error naming the
// call ("epoll_ctl(ADD): Bad file descriptor"); callers that can go on catch it.
inline int checked(const char* call, int result) {
  if (result < 0) throw std::system_error(errno, std::generic_category(), call);
  return result;
}

// The same for a wait that a signal may cut short: EINTR is zero events, not an error.
inline int checked_wait(const char* call, int result) {
  if (result < 0 && errno == EINTR) return 0;
  return checked(call, result);
}

}  // namespace muxbench
