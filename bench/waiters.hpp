#pragma once

#include <poll.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <unistd.h>

#include <span>
#include <string_view>
#include <system_error>
#include <vector>

namespace muxbench {

// One readiness wait with a fixed set of watched descriptors, the way a server calls it. Each
// `wait` returns the number of ready descriptors; `prepare` does the per-call work that is not
// the wait itself (select's fd_set copy, epoll ET's re-arm), so a benchmark can leave it untimed.

class SelectWaiter {
 public:
  static constexpr std::string_view kName = "select";
  explicit SelectWaiter(std::span<const int> fds) {
    FD_ZERO(&interest_);
    for (const int fd : fds) {
      if (fd >= FD_SETSIZE) throw std::system_error(EBADF, std::generic_category(), "FD_SETSIZE");
      FD_SET(fd, &interest_);
      nfds_ = std::max(nfds_, fd + 1);
    }
  }
  void prepare(std::span<const int>) { readable_ = interest_; }
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
  static constexpr std::string_view kName = "poll";
  explicit PollWaiter(std::span<const int> fds) {
    for (const int fd : fds) entries_.push_back({fd, POLLIN, 0});
  }
  void prepare(std::span<const int>) {}
  int wait(bool zero_timeout) {
    return ::poll(entries_.data(), entries_.size(), zero_timeout ? 0 : -1);
  }

 private:
  std::vector<pollfd> entries_;
};

template <bool EdgeTriggered>
class EpollWaiter {
 public:
  static constexpr std::string_view kName = EdgeTriggered ? "epoll_et" : "epoll_lt";
  explicit EpollWaiter(std::span<const int> fds)
      : epoll_fd_(::epoll_create1(EPOLL_CLOEXEC)), events_(1024) {
    if (epoll_fd_ < 0) throw std::system_error(errno, std::generic_category(), "epoll_create1");
    for (const int fd : fds) control(EPOLL_CTL_ADD, fd);
  }
  EpollWaiter(const EpollWaiter&) = delete;
  EpollWaiter& operator=(const EpollWaiter&) = delete;
  ~EpollWaiter() { ::close(epoll_fd_); }

  // Edge-triggered reports a ready descriptor once per edge; EPOLL_CTL_MOD re-arms it (the kernel
  // checks readiness again), as a handler that leaves data unread must.
  void prepare(std::span<const int> ready) {
    if constexpr (EdgeTriggered) {
      for (const int fd : ready) control(EPOLL_CTL_MOD, fd);
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

}  // namespace muxbench
