#pragma once

#include <poll.h>

#include <cerrno>
#include <system_error>
#include <vector>

#include "servers/poller.hpp"

namespace muxbench {

// poll(2): an array of pollfd copied into the kernel on every call, which polls each entry; we
// then scan the array for non-zero revents. No descriptor-value limit, but still linear in N.
class PollPoller {
 public:
  static constexpr std::string_view kName = "poll";
  static constexpr bool kEdgeTriggered = false;
  static constexpr int kMaxFd = 0x7fffffff;

  void add(int fd, std::uint32_t interest) {
    if (static_cast<std::size_t>(fd) >= slot_of_fd_.size()) slot_of_fd_.resize(fd + 1, -1);
    slot_of_fd_[fd] = static_cast<int>(entries_.size());
    entries_.push_back({fd, to_poll_events(interest), 0});
  }

  void modify(int fd, std::uint32_t interest) {
    entries_[slot_of_fd_[fd]].events = to_poll_events(interest);
  }

  void remove(int fd) {
    const int slot = slot_of_fd_[fd];
    entries_[slot] = entries_.back();
    slot_of_fd_[entries_[slot].fd] = slot;
    entries_.pop_back();
    slot_of_fd_[fd] = -1;
  }

  std::span<const Ready> wait(int timeout_ms) {
    const int found = ::poll(entries_.data(), entries_.size(), timeout_ms);
    ready_.clear();
    if (found < 0) {
      if (errno == EINTR) return {};
      throw std::system_error(errno, std::generic_category(), "poll");
    }
    for (std::size_t i = 0; i < entries_.size() && ready_.size() < static_cast<std::size_t>(found);
         ++i) {
      const short revents = entries_[i].revents;
      if (revents == 0) continue;
      std::uint32_t events = 0;
      if (revents & POLLIN) events |= kRead;
      if (revents & POLLOUT) events |= kWrite;
      if (revents & (POLLERR | POLLHUP | POLLNVAL)) events |= kRead | kWrite;
      ready_.push_back({entries_[i].fd, events});
    }
    return ready_;
  }

  std::size_t fds_passed_per_wait() const { return entries_.size(); }

 private:
  static short to_poll_events(std::uint32_t interest) {
    return static_cast<short>(((interest & kRead) ? POLLIN : 0) |
                              ((interest & kWrite) ? POLLOUT : 0));
  }

  std::vector<pollfd> entries_;
  std::vector<int> slot_of_fd_;
  std::vector<Ready> ready_;
};

}  // namespace muxbench
