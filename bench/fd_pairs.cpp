#include "bench/fd_pairs.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace muxbench {
namespace {

constexpr std::size_t kSpareFds = 128;
constexpr std::size_t kMaxTcpPairs = 16384;  // one source address has ~28k ephemeral ports

[[noreturn]] void throw_errno(const char* what, int error = errno) {
  throw std::system_error(error, std::generic_category(), what);
}

int connected_tcp_pair(int listener, const sockaddr_in& address, int& accepted) {
  const int client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (client < 0) throw_errno("socket");
  if (::connect(client, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    const int error = errno;
    ::close(client);
    throw_errno("connect", error);
  }
  accepted = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
  if (accepted < 0) {
    const int error = errno;
    ::close(client);
    throw_errno("accept", error);
  }
  return client;
}

}  // namespace

std::string_view to_string(FdKind kind) {
  return kind == FdKind::kSocketPair ? "socketpair" : "tcp";
}

std::size_t max_pairs(FdKind kind, std::size_t fd_limit) {
  const std::size_t pairs = fd_limit > kSpareFds ? (fd_limit - kSpareFds) / 2 : 0;
  return kind == FdKind::kTcpLoopback ? std::min(pairs, kMaxTcpPairs) : pairs;
}

FdPairs::FdPairs(FdKind kind, std::size_t count) {
  int listener = -1;
  sockaddr_in address{};
  if (kind == FdKind::kTcpLoopback) {
    // Opened before the pairs and kept below them: it sits just under the watched range.
    listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (listener < 0) throw_errno("socket");
    if (::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) ||
        ::listen(listener, 128) ||
        ::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length)) {
      const int error = errno;
      ::close(listener);
      throw_errno("listen", error);
    }
  }
  const int peer_base = static_cast<int>(count) + 64;  // above every watched end
  try {
    for (std::size_t i = 0; i < count; ++i) {
      int ends[2];
      if (kind == FdKind::kSocketPair) {
        if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends) != 0)
          throw_errno("socketpair");
      } else {
        ends[0] = connected_tcp_pair(listener, address, ends[1]);
      }
      watched_.push_back(ends[0]);
      const int moved = ::fcntl(ends[1], F_DUPFD_CLOEXEC, peer_base);
      const int error = errno;
      ::close(ends[1]);
      if (moved < 0) throw_errno("fcntl(F_DUPFD)", error);
      peers_.push_back(moved);
      ::fcntl(ends[0], F_SETFL, O_NONBLOCK);
      ::fcntl(moved, F_SETFL, O_NONBLOCK);
    }
  } catch (...) {
    if (listener >= 0) ::close(listener);
    for (const int fd : watched_) ::close(fd);
    for (const int fd : peers_) ::close(fd);
    throw;
  }
  if (listener >= 0) ::close(listener);
}

FdPairs::~FdPairs() {
  for (const int fd : watched_) ::close(fd);
  for (const int fd : peers_) ::close(fd);
}

ReadySet::ReadySet(const FdPairs& pairs, std::size_t n, std::size_t ready) {
  for (std::size_t k = 0; k < ready; ++k) {
    const std::size_t i = n - ready + k;
    const char byte = 'r';
    if (::write(pairs.peer(i), &byte, 1) != 1) throw_errno("write");
    ready_.push_back(pairs.watched(n)[i]);
    peers_.push_back(pairs.peer(i));
  }
}

void ReadySet::retrigger() const {
  char byte;
  for (std::size_t k = 0; k < ready_.size(); ++k) {
    if (::read(ready_[k], &byte, 1) != 1 || ::write(peers_[k], &byte, 1) != 1)
      throw_errno("retrigger");
  }
}

ReadySet::~ReadySet() {
  char buffer[64];
  for (const int fd : ready_) {
    while (::read(fd, buffer, sizeof buffer) > 0) {
    }
  }
}

}  // namespace muxbench
