#pragma once

#include <poll.h>

#include <climits>
#include <vector>

#include "servers/poller.hpp"
#include "servers/uring_ring.hpp"

namespace muxbench {

// io_uring as a readiness mechanism: one multishot IORING_OP_POLL_ADD per descriptor, armed once
// like an epoll registration. A multishot poll posts a completion on every wake-up of the socket,
// not while it stays readable, so it is edge-triggered (the event loop drains until EAGAIN).
// Changing or dropping interest cancels the request (an async cancel also succeeds while a
// wake-up is being processed, where POLL_REMOVE and poll updates fail with EALREADY) and bumps the
// descriptor's generation, so the old request's last completions are recognised as stale; a new
// request checks readiness at once, like EPOLL_CTL_MOD.
class UringPoller {
 public:
  static constexpr std::string_view kName = "uring-poll";
  static constexpr bool kEdgeTriggered = true;
  static constexpr int kMaxFd = INT_MAX;

  UringPoller() : ring_(4096) { ready_.reserve(4096); }

  void add(int fd, std::uint32_t interest) {
    if (static_cast<std::size_t>(fd) >= slots_.size()) slots_.resize(fd + 1);
    Slot& slot = slots_[fd];
    slot.generation = (slot.generation + 1) & 0x3fffffff;
    slot.registered = true;
    slot.mask = to_mask(interest);
    arm(fd);
  }

  void modify(int fd, std::uint32_t interest) {
    cancel(fd);
    slots_[fd].mask = to_mask(interest);
    arm(fd);
  }

  // Submitted at once: the poll request holds a reference to the socket, so until it is gone a
  // close() would not really close the connection.
  void remove(int fd) {
    cancel(fd);
    slots_[fd].registered = false;
    ring_.submit();
  }

  std::span<const Ready> wait(int timeout_ms) {
    ready_.clear();
    ring_.submit_and_wait(timeout_ms);
    ring_.drain([this](const io_uring_cqe& cqe) { on_completion(cqe); });
    return ready_;
  }

  std::size_t fds_passed_per_wait() const { return 0; }

 private:
  struct Slot {
    std::uint32_t generation = 0;
    std::uint32_t mask = 0;
    bool registered = false;
  };

  static constexpr std::uint64_t kCancelTag = 1ULL << 63;  // generations stay below 2^30

  static std::uint32_t to_mask(std::uint32_t interest) {
    return ((interest & kRead) ? POLLIN : 0u) | ((interest & kWrite) ? POLLOUT : 0u);
  }

  std::uint64_t user_data(int fd) const {
    return (static_cast<std::uint64_t>(slots_[fd].generation) << 32) |
           static_cast<std::uint32_t>(fd);
  }

  void cancel(int fd) {
    io_uring_sqe* sqe = ring_.sqe();
    io_uring_prep_cancel64(sqe, user_data(fd), 0);
    io_uring_sqe_set_data64(sqe, kCancelTag);
    Slot& slot = slots_[fd];
    slot.generation = (slot.generation + 1) & 0x3fffffff;  // the old request's CQEs are stale now
  }

  void arm(int fd) {
    io_uring_sqe* sqe = ring_.sqe();
    io_uring_prep_poll_multishot(sqe, fd, slots_[fd].mask);
    io_uring_sqe_set_data64(sqe, user_data(fd));
  }

  void on_completion(const io_uring_cqe& cqe) {
    if (cqe.user_data == kCancelTag) return;
    const int fd = static_cast<int>(cqe.user_data & 0xffffffffu);
    if (static_cast<std::size_t>(fd) >= slots_.size() || cqe.user_data != user_data(fd) ||
        !slots_[fd].registered) {
      return;  // a request cancelled since (its descriptor removed or its interest changed)
    }
    if (!(cqe.flags & IORING_CQE_F_MORE)) arm(fd);  // ended (error, overflow): re-arm
    std::uint32_t events = 0;
    if (cqe.res < 0) {
      events = kRead | kWrite;  // let the next recv/send find out what happened
    } else {
      if (cqe.res & POLLIN) events |= kRead;
      if (cqe.res & POLLOUT) events |= kWrite;
      if (cqe.res & (POLLERR | POLLHUP)) events |= kRead | kWrite;
    }
    if (events) ready_.push_back({fd, events});
  }

  UringRing ring_;
  std::vector<Slot> slots_;
  std::vector<Ready> ready_;
};

}  // namespace muxbench
