#pragma once

#include <liburing.h>

#include <cstdint>
#include <stdexcept>

#include "common/exit_codes.hpp"
#include "common/uring.hpp"

namespace muxbench {

// io_uring cannot be used here (kernel too old, disabled by sysctl or a sandbox's seccomp filter).
// echo-server reports it and exits with kExitUnsupported; the sweep records such points as
// unsupported.
class UringUnavailable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// An io_uring instance for one thread. SQEs are queued with sqe() and submitted by the next
// submit_and_wait(), so a whole batch of work costs one io_uring_enter. A failed io_uring_enter
// throws std::system_error (the server exits 1 saying which call failed); EINTR is retried.
class UringRing {
 public:
  explicit UringRing(unsigned entries);  // throws UringUnavailable
  UringRing(const UringRing&) = delete;
  UringRing& operator=(const UringRing&) = delete;
  ~UringRing() { close(); }
  // Tears the ring down (cancelling what is in flight) before the owner frees their buffers.
  void close() {
    if (open_) io_uring_queue_exit(&ring_);
    open_ = false;
  }

  io_uring* get() { return &ring_; }

  // A free SQE; when the submission queue is full the queued ones are submitted first. Inline:
  // it runs for every recv and send.
  io_uring_sqe* sqe() {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    if (sqe == nullptr) {
      submit();
      sqe = io_uring_get_sqe(&ring_);
      if (sqe == nullptr) throw std::runtime_error("io_uring: no free SQE after a submit");
    }
    ++submitted_;
    return sqe;
  }

  // Submits what is queued now.
  void submit() { uring_submit(ring_); }

  // Submits what is queued and waits for at least one completion (timeout_ms < 0: no limit);
  // returns early, with nothing to drain, after the timeout or a signal (timeout_ms >= 0).
  void submit_and_wait(int timeout_ms) {
    if (timeout_ms < 0) {
      uring_submit_and_wait(ring_, 1);
    } else {
      uring_submit_and_wait_for(ring_, 1, timeout_ms);
    }
  }

  // Calls on_completion(const io_uring_cqe&) for every completion available, then marks them
  // seen; returns how many there were.
  template <class OnCompletion>
  unsigned drain(OnCompletion&& on_completion) {
    unsigned head, count = 0;
    io_uring_cqe* cqe;
    io_uring_for_each_cqe(&ring_, head, cqe) {
      on_completion(*cqe);
      ++count;
    }
    io_uring_cq_advance(&ring_, count);
    return count;
  }

  std::uint64_t submitted() const { return submitted_; }  // SQEs handed out by sqe()

 private:
  io_uring ring_{};
  bool open_ = true;
  std::uint64_t submitted_ = 0;
};

}  // namespace muxbench
