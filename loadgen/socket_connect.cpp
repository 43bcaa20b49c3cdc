#include "loadgen/socket_connect.hpp"

#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

namespace muxbench {
namespace {

// Options and source address; 0 or the errno of the step that failed.
int prepare(int fd, const in_addr* source) {
  const int one = 1;
  if (::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) return errno;
  if (source == nullptr) return 0;
  if (::setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one) != 0) return errno;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr = *source;
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) return errno;
  return 0;
}

}  // namespace

ConnectStart start_connect(const sockaddr_in& target, const in_addr* source) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return {-1, errno};
  int error = prepare(fd, source);
  if (error == 0 && ::connect(fd, reinterpret_cast<const sockaddr*>(&target), sizeof target) != 0) {
    error = errno;
  }
  if (error != 0 && error != EINPROGRESS) {
    ::close(fd);
    return {-1, error};
  }
  return {fd, error};
}

int finished_connect_error(int fd) {
  int error = 0;
  socklen_t length = sizeof error;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) return errno;
  return error;
}

std::string connect_failure_category(int error) {
  switch (error) {
    case ECONNREFUSED:
      return "refused";
    case ETIMEDOUT:
      return "timed out";
    case EADDRNOTAVAIL:
      return "no free local port (EADDRNOTAVAIL)";
    case EADDRINUSE:
      return "local address in use";
    case ENETUNREACH:
    case EHOSTUNREACH:
      return "unreachable";
    case EMFILE:
    case ENFILE:
      return "fd limit";
    case ECONNRESET:
      return "reset";
    default:
      return std::strerror(error);
  }
}

LocalPortSettings local_port_settings() {
  LocalPortSettings settings;
  std::ifstream range("/proc/sys/net/ipv4/ip_local_port_range");
  unsigned low = 0, high = 0;
  if (range >> low >> high) settings.local_port_range = std::array{low, high};
  std::ifstream reuse("/proc/sys/net/ipv4/tcp_tw_reuse");
  int value = 0;
  if (reuse >> value) settings.tcp_tw_reuse = value;
  return settings;
}

unsigned ephemeral_port_count(const LocalPortSettings& settings) {
  const auto [low, high] = settings.local_port_range.value_or(std::array{32768u, 60999u});
  return high >= low ? high - low + 1 : 0;
}

}  // namespace muxbench
