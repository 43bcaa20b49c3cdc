#pragma once

#include <sys/select.h>

#include <bitset>
#include <cerrno>
#include <system_error>
#include <vector>

#include "servers/poller.hpp"

namespace muxbench {

// select(2): two fd_set bitmaps copied into the kernel on every call, which checks every bit up to
// the highest registered descriptor; we then scan the same range for the results.
class SelectPoller {
 public:
  static constexpr std::string_view kName = "select";
  static constexpr bool kEdgeTriggered = false;
  static constexpr int kMaxFd = FD_SETSIZE - 1;  // FD_SET beyond this corrupts memory

  SelectPoller() {
    FD_ZERO(&read_set_);
    FD_ZERO(&write_set_);
  }

  void add(int fd, std::uint32_t interest) {
    if (fd < 0 || fd > kMaxFd) throw std::system_error(EBADF, std::generic_category(), "select");
    registered_.set(static_cast<std::size_t>(fd));
    if (fd > max_fd_) max_fd_ = fd;
    modify(fd, interest);
  }

  void modify(int fd, std::uint32_t interest) {
    if (interest & kRead)
      FD_SET(fd, &read_set_);
    else
      FD_CLR(fd, &read_set_);
    if (interest & kWrite)
      FD_SET(fd, &write_set_);
    else
      FD_CLR(fd, &write_set_);
  }

  void remove(int fd) {
    modify(fd, kNoInterest);
    registered_.reset(static_cast<std::size_t>(fd));
    while (max_fd_ >= 0 && !registered_.test(static_cast<std::size_t>(max_fd_))) --max_fd_;
  }

  std::span<const Ready> wait(int timeout_ms) {
    fd_set readable = read_set_;
    fd_set writable = write_set_;
    timeval timeout{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    const int found =
        ::select(max_fd_ + 1, &readable, &writable, nullptr, timeout_ms < 0 ? nullptr : &timeout);
    ready_.clear();
    if (found < 0) {
      if (errno == EINTR) return {};
      throw std::system_error(errno, std::generic_category(), "select");
    }
    int bits_left = found;  // select counts a descriptor once per set it is in
    for (int fd = 0; fd <= max_fd_ && bits_left > 0; ++fd) {
      const std::uint32_t events =
          (FD_ISSET(fd, &readable) ? kRead : 0u) | (FD_ISSET(fd, &writable) ? kWrite : 0u);
      if (events == 0) continue;
      bits_left -= events == (kRead | kWrite) ? 2 : 1;
      ready_.push_back({fd, events});
    }
    return ready_;
  }

  std::size_t fds_passed_per_wait() const { return static_cast<std::size_t>(max_fd_ + 1); }

 private:
  fd_set read_set_;
  fd_set write_set_;
  std::bitset<FD_SETSIZE> registered_;
  int max_fd_ = -1;
  std::vector<Ready> ready_;
};

}  // namespace muxbench
