#pragma once

#include <liburing.h>

#include <cerrno>
#include <system_error>

namespace muxbench {

// io_uring set-up and checked calls, shared by echo-server (servers/uring_ring.hpp) and wait-bench
// (bench/waiters.hpp) so that both use the same kind of ring and treat failures alike: EINTR is
// retried, any other failure throws std::system_error (the server exits 1, the benchmark fails).

// Sets up `ring` for one thread that submits everything: completions are processed when it enters
// the kernel, which is when it asks for them anyway (IORING_SETUP_SINGLE_ISSUER |
// IORING_SETUP_DEFER_TASKRUN, kernel >= 6.1); older kernels get the plain flags. Returns 0 or
// -errno, like liburing (the caller says what io_uring being unavailable means to it).
inline int init_single_thread_ring(unsigned entries, io_uring& ring) {
  io_uring_params params{};
  params.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
  int result = io_uring_queue_init_params(entries, &ring, &params);
  if (result == -EINVAL) {
    params = io_uring_params{};
    result = io_uring_queue_init_params(entries, &ring, &params);
  }
  return result;
}

// Calls `call` (a liburing function returning a count or -errno) until it is not -EINTR; returns
// the count, throws std::system_error naming `what` for any other error.
template <class Call>
unsigned checked_uring_call(const char* what, Call&& call) {
  for (;;) {
    const int result = call();
    if (result >= 0) return static_cast<unsigned>(result);
    if (result != -EINTR) throw std::system_error(-result, std::generic_category(), what);
  }
}

// Submits what is queued; returns how many SQEs were submitted.
inline unsigned uring_submit(io_uring& ring) {
  return checked_uring_call("io_uring_submit", [&] { return io_uring_submit(&ring); });
}

// Submits what is queued and waits until at least `wait_nr` completions are ready.
inline void uring_submit_and_wait(io_uring& ring, unsigned wait_nr) {
  checked_uring_call("io_uring_submit_and_wait",
                     [&] { return io_uring_submit_and_wait(&ring, wait_nr); });
}

// The same with a time limit: also returns when it passes (ETIME) or when a signal interrupts the
// wait (EINTR: the caller's loop waits again, its timeout worked out anew, as after epoll_wait's).
inline void uring_submit_and_wait_for(io_uring& ring, unsigned wait_nr, int timeout_ms) {
  __kernel_timespec timeout{timeout_ms / 1000, (timeout_ms % 1000) * 1'000'000LL};
  io_uring_cqe* cqe = nullptr;
  const int result = io_uring_submit_and_wait_timeout(&ring, &cqe, wait_nr, &timeout, nullptr);
  if (result < 0 && result != -ETIME && result != -EINTR) {
    throw std::system_error(-result, std::generic_category(), "io_uring_submit_and_wait_timeout");
  }
}

// Enters the kernel without waiting, to run deferred work and flush completions (DEFER_TASKRUN).
inline void uring_get_events(io_uring& ring) {
  checked_uring_call("io_uring_get_events", [&] { return io_uring_get_events(&ring); });
}

}  // namespace muxbench
