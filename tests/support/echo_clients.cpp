#include "tests/support/echo_clients.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <random>

#include "common/deadline.hpp"

namespace muxbench::testing {
namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

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
    if (::poll(fds.data(), fds.size(), milliseconds_until(deadline, 100)) < 0 && errno != EINTR)
      break;
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

}  // namespace muxbench::testing
