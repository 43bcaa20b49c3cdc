#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "common/usage_error.hpp"

namespace muxbench {

// A non-blocking IPv4 listening socket. Throws UsageError for what the user can fix.
class Listener {
 public:
  Listener(const std::string& address, std::uint16_t port);
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;
  ~Listener();

  int fd() const { return fd_; }
  std::uint16_t port() const { return port_; }
  // Hands the socket to another owner (Asio's acceptor); this object no longer closes it.
  int release();

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

enum class AcceptOutcome {
  kAccepted,
  kDrained,    // nothing pending (EAGAIN)
  kFdLimit,    // EMFILE / ENFILE: drop pending connections with the reserve descriptor
  kBackOff,    // ENOBUFS / ENOMEM, or an error not known to concern one connection: wait a while
  kTransient,  // ECONNABORTED, EPROTO, EINTR, the network errors accept(2) passes on: that one
               // connection failed, the next may be fine
  kFatal,      // EBADF, ENOTSOCK, EINVAL, EFAULT: the listening socket itself is unusable
};

// What an accept error means, for every backend: the readiness loops' accept4, io_uring's
// multishot accept and Asio's async_accept all react by this. Never kAccepted.
AcceptOutcome classify_accept_error(int error);

// For kFatal: throws std::system_error, which ends the server with exit code 1.
[[noreturn]] void fail_on_listener(int error);

struct Accepted {
  AcceptOutcome outcome;
  int fd = -1;    // non-blocking, TCP_NODELAY, close-on-exec when accepted
  int error = 0;  // accept's errno otherwise
};

Accepted accept_connection(int listen_fd);

// libuv's EMFILE trick: one descriptor held in reserve so that, at the fd limit, pending
// connections can still be accepted and closed instead of making the listener ready forever.
class ReserveFd {
 public:
  ReserveFd();
  ReserveFd(const ReserveFd&) = delete;
  ReserveFd& operator=(const ReserveFd&) = delete;
  ~ReserveFd();

  struct Dropped {
    std::size_t count = 0;
    bool drained = false;  // false: stopped at the per-call bound with more pending
  };
  // Accepts and closes pending connections, at most kMaxDropsPerCall so a connect flood cannot
  // starve the connections being served. nullopt when no reserve could be held (the caller must
  // back off instead).
  std::optional<Dropped> drop_pending(int listen_fd);
  static constexpr std::size_t kMaxDropsPerCall = 256;

  // Runs `work` with the reserve released, so that it can open one descriptor (a stats file)
  // even when the process is at its fd limit.
  template <class Work>
  void lend(Work&& work) {
    struct Reacquire {
      ReserveFd& reserve;
      ~Reacquire() { reserve.reacquire(); }
    } reacquire_afterwards{*this};
    release();
    work();
  }

 private:
  void release();
  void reacquire();

  int fd_ = -1;
};

}  // namespace muxbench
