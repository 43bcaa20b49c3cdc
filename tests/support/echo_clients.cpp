#include "tests/support/echo_clients.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <random>
#include <system_error>

namespace muxbench::testing {
namespace {

using Clock = std::chrono::steady_clock;

int milliseconds_left(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return static_cast<int>(std::clamp<long>(left.count(), 0, 100));
}

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

void allow_many_fds() {
  rlimit limit{};
  ::getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = limit.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &limit);
}

void reset_and_close(int fd) {
  const linger abort_on_close{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
  ::close(fd);
}

const std::string& Pattern::block() {
  static const std::string bytes = [] {
    std::mt19937_64 random(20261122);
    std::string block(1'048'583, '\0');  // prime: 1 MiB messages do not line up with it
    for (char& byte : block) byte = static_cast<char>(random());
    return block;
  }();
  return bytes;
}

bool Pattern::matches(const char* data, std::size_t length, std::uint64_t position) {
  const std::string& bytes = block();
  while (length > 0) {
    const std::size_t at = position % bytes.size();
    const std::size_t run = std::min(length, bytes.size() - at);
    if (std::memcmp(data, bytes.data() + at, run) != 0) return false;
    data += run;
    length -= run;
    position += run;
  }
  return true;
}

long Pattern::send(int fd, std::uint64_t position, std::size_t length) {
  const std::string& bytes = block();
  const std::size_t at = position % bytes.size();
  const std::size_t run = std::min(length, bytes.size() - at);
  const ssize_t sent = ::send(fd, bytes.data() + at, run, MSG_NOSIGNAL);
  if (sent >= 0) return sent;
  return errno == EAGAIN || errno == EINTR ? 0 : -1;
}

namespace {

void fail(EchoJob& job, std::string why) {
  if (job.error.empty()) job.error = std::move(why);
}

void on_writable(EchoJob& job) {
  const std::size_t size = job.messages[job.message];
  while (job.sent < size) {
    const long sent =
        Pattern::send(job.fd, job.pattern_start + job.completed_bytes + job.sent, size - job.sent);
    if (sent < 0) return fail(job, std::string("send: ") + std::strerror(errno));
    if (sent == 0) return;
    job.sent += static_cast<std::size_t>(sent);
  }
  if (job.shutdown_after_last && job.message + 1 == job.messages.size()) {
    ::shutdown(job.fd, SHUT_WR);
  }
}

void on_readable(EchoJob& job, std::vector<char>& buffer) {
  const ssize_t n = ::recv(job.fd, buffer.data(), buffer.size(), 0);
  if (n < 0) {
    if (errno != EAGAIN && errno != EINTR) fail(job, std::string("recv: ") + std::strerror(errno));
    return;
  }
  if (n == 0) {
    if (job.message == job.messages.size() && job.shutdown_after_last) {
      job.finished = true;
    } else {
      fail(job, "unexpected end of stream");
    }
    return;
  }
  const auto length = static_cast<std::size_t>(n);
  if (job.message == job.messages.size() || job.received + length > job.sent) {
    return fail(job, "received bytes that were never sent");
  }
  if (!Pattern::matches(buffer.data(), length,
                        job.pattern_start + job.completed_bytes + job.received)) {
    return fail(job, "echoed bytes differ from the bytes sent");
  }
  job.received += length;
  if (job.received < job.messages[job.message]) return;
  job.completed_bytes += job.received;
  job.sent = job.received = 0;
  ++job.message;
  if (job.message == job.messages.size() && !job.shutdown_after_last) job.finished = true;
}

}  // namespace

DriveResult drive_echo(std::vector<EchoJob>& jobs, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  std::vector<char> buffer(256 * 1024);
  std::vector<pollfd> fds;
  std::vector<EchoJob*> active;
  for (;;) {
    fds.clear();
    active.clear();
    for (auto& job : jobs) {
      if (job.finished || !job.error.empty()) continue;
      const bool more_to_send =
          job.message < job.messages.size() && job.sent < job.messages[job.message];
      fds.push_back({job.fd, static_cast<short>(POLLIN | (more_to_send ? POLLOUT : 0)), 0});
      active.push_back(&job);
    }
    if (active.empty() || Clock::now() >= deadline) break;
    if (::poll(fds.data(), fds.size(), milliseconds_left(deadline)) < 0 && errno != EINTR) break;
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].revents & POLLOUT) on_writable(*active[i]);
      if (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) on_readable(*active[i], buffer);
    }
  }
  DriveResult result;
  for (auto& job : jobs) {
    if (job.finished) {
      ++result.finished;
    } else {
      ++result.failed;
      if (job.error.empty()) job.error = "timed out";
      if (result.first_error.empty()) result.first_error = job.error;
    }
  }
  return result;
}

std::string round_trip(int fd, const std::string& payload, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  std::size_t sent = 0;
  std::string echoed;
  char buffer[4096];
  while (echoed.size() < payload.size()) {
    pollfd pfd{fd, static_cast<short>(POLLIN | (sent < payload.size() ? POLLOUT : 0)), 0};
    if (Clock::now() >= deadline) return "timeout";
    if (::poll(&pfd, 1, milliseconds_left(deadline)) <= 0) continue;
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

}  // namespace muxbench::testing
