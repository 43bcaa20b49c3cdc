#include "servers/listener.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

namespace muxbench {

Listener::Listener(const std::string& address, std::uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  if (::inet_pton(AF_INET, address.c_str(), &addr.sin_addr) != 1) {
    throw UsageError(fmt::format("--bind {}: not an IPv4 address", address));
  }
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "socket");
  const int one = 1;
  ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(fd_, SOMAXCONN) != 0) {
    const int error = errno;
    ::close(fd_);
    throw UsageError(
        fmt::format("cannot listen on {}:{}: {}", address, port, std::strerror(error)));
  }
  socklen_t length = sizeof addr;
  ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &length);
  port_ = ntohs(addr.sin_port);
}

Listener::~Listener() {
  if (fd_ >= 0) ::close(fd_);
}

int Listener::release() {
  const int fd = fd_;
  fd_ = -1;
  return fd;
}

AcceptOutcome classify_accept_error(int error) {
  switch (error) {
    case EAGAIN:
      return AcceptOutcome::kDrained;
    case EMFILE:
    case ENFILE:
      return AcceptOutcome::kFdLimit;
    case ENOBUFS:
    case ENOMEM:
      return AcceptOutcome::kBackOff;
    case ECONNABORTED:
    case EINTR:
    case EPERM:  // a firewall rule refused that connection
    // accept(2): "Linux accept() passes already-pending network errors on the new socket as an
    // error code from accept()"; for TCP/IP these, to be treated like EAGAIN.
    case EPROTO:
    case ENETDOWN:
    case ENOPROTOOPT:
    case EHOSTDOWN:
    case ENONET:
    case EHOSTUNREACH:
    case EOPNOTSUPP:
    case ENETUNREACH:
      return AcceptOutcome::kTransient;
    case EBADF:
    case ENOTSOCK:
    case EINVAL:  // not listening
    case EFAULT:
      return AcceptOutcome::kFatal;
    default:  // unknown: retrying at once might spin, so wait a while
      return AcceptOutcome::kBackOff;
  }
}

void fail_on_listener(int error) {
  throw std::system_error(error, std::generic_category(), "accept on the listening socket");
}

Accepted accept_connection(int listen_fd) {
  for (;;) {
    const int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      const int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      return {AcceptOutcome::kAccepted, fd};
    }
    const int error = errno;
    if (error == EINTR) continue;
    return {classify_accept_error(error), -1, error};
  }
}

ReserveFd::ReserveFd() { reacquire(); }

ReserveFd::~ReserveFd() { release(); }

void ReserveFd::release() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void ReserveFd::reacquire() {
  if (fd_ < 0) fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
}

std::optional<ReserveFd::Dropped> ReserveFd::drop_pending(int listen_fd) {
  reacquire();
  if (fd_ < 0) return std::nullopt;
  release();
  Dropped dropped;
  for (std::size_t attempts = 0; attempts < kMaxDropsPerCall; ++attempts) {
    const int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd >= 0) {
      ::close(fd);
      ++dropped.count;
    } else if (errno != EINTR && errno != ECONNABORTED && errno != EPROTO) {
      dropped.drained = true;  // EAGAIN, or an error the next readiness event will repeat
      break;
    }
  }
  reacquire();
  return dropped;
}

}  // namespace muxbench
