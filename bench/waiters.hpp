#pragma once

#include <liburing.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <unistd.h>

#include <algorithm>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "bench/fd_pairs.hpp"
#include "common/backend_table.hpp"
#include "common/uring.hpp"

namespace muxbench {

// One readiness wait with a fixed set of watched descriptors, the way a server calls it. Each
// `wait` returns the number of ready descriptors; `prepare` does the per-call work that is not
// the wait itself (select's fd_set copy, epoll ET's re-arm, a new wake-up for io_uring), so a
// benchmark can leave it untimed.

class SelectWaiter {
 public:
  static constexpr std::string_view kName = backend_name("select");
  explicit SelectWaiter(std::span<const int> fds) {
    FD_ZERO(&interest_);
    for (const int fd : fds) {
      if (fd >= FD_SETSIZE) {
        throw std::system_error(EBADF, std::generic_category(),
                                "select cannot watch descriptor " + std::to_string(fd) +
                                    ": values must stay below FD_SETSIZE (" +
                                    std::to_string(FD_SETSIZE) + "), so at most about " +
                                    std::to_string(FD_SETSIZE - fds.front()) + " fds");
      }
      FD_SET(fd, &interest_);
      nfds_ = std::max(nfds_, fd + 1);
    }
  }
  void prepare(const ReadySet&) { readable_ = interest_; }
  int wait(bool zero_timeout) {
    timeval zero{0, 0};
    return ::select(nfds_, &readable_, nullptr, nullptr, zero_timeout ? &zero : nullptr);
  }

 private:
  fd_set interest_;
  fd_set readable_;
  int nfds_ = 0;
};

class PollWaiter {
 public:
  static constexpr std::string_view kName = backend_name("poll");
  explicit PollWaiter(std::span<const int> fds) {
    for (const int fd : fds) entries_.push_back({fd, POLLIN, 0});
  }
  void prepare(const ReadySet&) {}
  int wait(bool zero_timeout) {
    return ::poll(entries_.data(), entries_.size(), zero_timeout ? 0 : -1);
  }

 private:
  std::vector<pollfd> entries_;
};

template <bool EdgeTriggered>
class EpollWaiter {
 public:
  static constexpr std::string_view kName =
      EdgeTriggered ? backend_name("epoll-et") : backend_name("epoll-lt");
  explicit EpollWaiter(std::span<const int> fds)
      : epoll_fd_(::epoll_create1(EPOLL_CLOEXEC)),
        events_(std::max<std::size_t>(1024, fds.size())) {  // room for every fd (ready:all)
    if (epoll_fd_ < 0) throw std::system_error(errno, std::generic_category(), "epoll_create1");
    for (const int fd : fds) control(EPOLL_CTL_ADD, fd);
  }
  EpollWaiter(const EpollWaiter&) = delete;
  EpollWaiter& operator=(const EpollWaiter&) = delete;
  ~EpollWaiter() { ::close(epoll_fd_); }

  // Edge-triggered reports a ready descriptor once per edge; EPOLL_CTL_MOD re-arms it (the kernel
  // checks readiness again), as a handler that leaves data unread must.
  void prepare(const ReadySet& ready) {
    if constexpr (EdgeTriggered) {
      for (const int fd : ready.fds()) control(EPOLL_CTL_MOD, fd);
    }
  }
  int wait(bool zero_timeout) {
    return ::epoll_wait(epoll_fd_, events_.data(), static_cast<int>(events_.size()),
                        zero_timeout ? 0 : -1);
  }
  void control(int operation, int fd) {
    epoll_event event{};
    event.events = EPOLLIN | (EdgeTriggered ? EPOLLET : 0u);
    event.data.fd = fd;
    if (::epoll_ctl(epoll_fd_, operation, fd, &event) != 0) {
      throw std::system_error(errno, std::generic_category(), "epoll_ctl");
    }
  }

 private:
  int epoll_fd_;
  std::vector<epoll_event> events_;
};

// io_uring as a readiness mechanism: a multishot POLL_ADD armed once per descriptor, like an
// epoll registration. It reports wake-ups, so `prepare` makes a new one on each ready descriptor
// (untimed). With DEFER_TASKRUN the kernel checks the woken descriptors and posts the completions
// inside the timed io_uring_enter, as epoll_wait polls its ready descriptors inside its call.
// K = 0: an io_uring_enter that finds nothing.
class UringPollWaiter {
 public:
  static constexpr std::string_view kName = backend_name("uring-poll");
  explicit UringPollWaiter(std::span<const int> fds) {
    // The completion queue (twice the entries) must hold a completion from every descriptor at once
    // (ready:all); a multishot poll that finds the queue full ends.
    const auto entries = static_cast<unsigned>(std::max<std::size_t>(4096, fds.size()));
    if (const int result = init_single_thread_ring(entries, ring_); result < 0)
      throw std::system_error(-result, std::generic_category(), "io_uring_queue_init");
    try {
      for (const int fd : fds) {
        io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
        if (sqe == nullptr) {
          uring_submit(ring_);
          sqe = io_uring_get_sqe(&ring_);
          if (sqe == nullptr) throw std::runtime_error("io_uring: no free SQE after a submit");
        }
        io_uring_prep_poll_multishot(sqe, fd, POLLIN);
        io_uring_sqe_set_data64(sqe, static_cast<std::uint64_t>(fd));
      }
      uring_submit(ring_);
      uring_get_events(ring_);
    } catch (...) {
      io_uring_queue_exit(&ring_);
      throw;
    }
    reap();  // the already-ready descriptors complete at once
  }
  UringPollWaiter(const UringPollWaiter&) = delete;
  UringPollWaiter& operator=(const UringPollWaiter&) = delete;
  ~UringPollWaiter() { io_uring_queue_exit(&ring_); }

  void prepare(const ReadySet& ready) {
    ready.retrigger();
    expected_ = static_cast<unsigned>(ready.fds().size());
  }
  int wait(bool zero_timeout) {
    if (zero_timeout) {
      // io_uring_enter(GETEVENTS) that waits for nothing; one enter runs a bounded number of
      // deferred completions (20 on 6.x), so enter again while more keep appearing.
      unsigned before;
      do {
        before = io_uring_cq_ready(&ring_);
        uring_get_events(ring_);
      } while (io_uring_cq_ready(&ring_) > before);
    } else {
      uring_submit_and_wait(ring_, expected_);
    }
    return static_cast<int>(reap());
  }

 private:
  unsigned reap() {
    const unsigned ready = io_uring_cq_ready(&ring_);
    io_uring_cq_advance(&ring_, ready);
    return ready;
  }

  io_uring ring_{};
  unsigned expected_ = 1;
};

}  // namespace muxbench
