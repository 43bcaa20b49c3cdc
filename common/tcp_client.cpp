#include "common/tcp_client.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "common/deadline.hpp"

namespace muxbench {
namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

int connect_to(std::uint16_t port, int receive_buffer) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "socket");
  if (receive_buffer > 0) {
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    const int error = errno;
    ::close(fd);
    throw std::system_error(error, std::generic_category(), "connect");
  }
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

void reset_and_close(int fd) {
  const linger abort_on_close{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
  ::close(fd);
}

std::string round_trip(int fd, const std::string& payload, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  std::size_t sent = 0;
  std::string echoed;
  char buffer[4096];
  while (echoed.size() < payload.size()) {
    pollfd pfd{fd, static_cast<short>(POLLIN | (sent < payload.size() ? POLLOUT : 0)), 0};
    if (Clock::now() >= deadline) return "timeout";
    if (::poll(&pfd, 1, milliseconds_until(deadline, 100)) <= 0) continue;
    if (pfd.revents & POLLOUT) {
      const ssize_t n = ::send(fd, payload.data() + sent, payload.size() - sent, MSG_NOSIGNAL);
      if (n < 0 && errno != EAGAIN)
        return errno == EPIPE || errno == ECONNRESET ? "reset" : "error";
      if (n > 0) sent += static_cast<std::size_t>(n);
    }
    if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
      const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
      if (n == 0) return "eof";
      if (n < 0 && errno != EAGAIN) return errno == ECONNRESET ? "reset" : "error";
      if (n > 0) echoed.append(buffer, static_cast<std::size_t>(n));
    }
  }
  return echoed == payload ? "" : "mismatch";
}

}  // namespace muxbench
