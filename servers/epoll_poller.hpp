#pragma once

#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>
#include <vector>

#include "servers/poller.hpp"

namespace muxbench {

// epoll(7): the interest set lives in the kernel (epoll_ctl), a wake-up callback puts a ready
// descriptor on a list, and epoll_wait copies only that list out. Edge-triggered mode reports a
// descriptor when it becomes ready again rather than while it stays ready.
template <bool EdgeTriggered>
class EpollPoller {
 public:
  static constexpr std::string_view kName = EdgeTriggered ? "epoll-et" : "epoll-lt";
  static constexpr bool kEdgeTriggered = EdgeTriggered;
  static constexpr int kMaxFd = 0x7fffffff;

  EpollPoller() : epoll_fd_(::epoll_create1(EPOLL_CLOEXEC)), kernel_events_(kMaxEventsPerWait) {
    if (epoll_fd_ < 0) throw std::system_error(errno, std::generic_category(), "epoll_create1");
    ready_.reserve(kMaxEventsPerWait);
  }
  EpollPoller(const EpollPoller&) = delete;
  EpollPoller& operator=(const EpollPoller&) = delete;
  ~EpollPoller() { ::close(epoll_fd_); }

  void add(int fd, std::uint32_t interest) { control(EPOLL_CTL_ADD, fd, interest); }
  void modify(int fd, std::uint32_t interest) { control(EPOLL_CTL_MOD, fd, interest); }
  void remove(int fd) { control(EPOLL_CTL_DEL, fd, kNoInterest); }

  std::span<const Ready> wait(int timeout_ms) {
    const int found = ::epoll_wait(epoll_fd_, kernel_events_.data(), kMaxEventsPerWait, timeout_ms);
    ready_.clear();
    if (found < 0) {
      if (errno == EINTR) return {};
      throw std::system_error(errno, std::generic_category(), "epoll_wait");
    }
    for (int i = 0; i < found; ++i) {
      const std::uint32_t kernel = kernel_events_[i].events;
      std::uint32_t events = 0;
      if (kernel & EPOLLIN) events |= kRead;
      if (kernel & EPOLLOUT) events |= kWrite;
      if (kernel & (EPOLLERR | EPOLLHUP)) events |= kRead | kWrite;
      ready_.push_back({kernel_events_[i].data.fd, events});
    }
    return ready_;
  }

  std::size_t fds_passed_per_wait() const { return 0; }

 private:
  static constexpr int kMaxEventsPerWait = 1024;

  void control(int operation, int fd, std::uint32_t interest) {
    epoll_event event{};
    event.events = ((interest & kRead) ? EPOLLIN : 0u) | ((interest & kWrite) ? EPOLLOUT : 0u) |
                   (EdgeTriggered ? EPOLLET : 0u);
    event.data.fd = fd;
    if (::epoll_ctl(epoll_fd_, operation, fd, &event) != 0) {
      throw std::system_error(errno, std::generic_category(), "epoll_ctl");
    }
  }

  int epoll_fd_;
  std::vector<epoll_event> kernel_events_;
  std::vector<Ready> ready_;
};

}  // namespace muxbench
