#include "loadgen/connector.hpp"

#include <fmt/format.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <deque>
#include <thread>
#include <unordered_map>

#include "loadgen/addresses.hpp"
#include "loadgen/checked.hpp"

namespace muxbench {
namespace {

using Clock = std::chrono::steady_clock;

std::string category(int error) {
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

struct Attempt {
  int attempts = 0;
  Clock::time_point not_before{};
};

struct Pending {
  Attempt attempt;
  Clock::time_point deadline;
};

class Opener {
 public:
  Opener(const ConnectPlan& plan, std::size_t& source_cursor)
      : plan_(plan),
        cursor_(source_cursor),
        epoll_fd_(checked("epoll_create1", ::epoll_create1(EPOLL_CLOEXEC))) {}
  ~Opener() { ::close(epoll_fd_); }

  ConnectOutcome run(std::size_t count, const std::atomic<bool>& stop,
                     const std::function<void(std::size_t)>& progress) {
    const auto start = Clock::now();
    std::size_t started = 0;  // connections begun (retries not counted)
    auto next_start = start;
    auto last_progress = start;
    while (outcome_.fds.size() < count && !outcome_.fatal) {
      if (stop.load(std::memory_order_relaxed)) {
        outcome_.interrupted = true;
        break;
      }
      const auto now = Clock::now();
      while (pending_.size() < plan_.window && !outcome_.fatal) {
        if (plan_.rate && now < next_start) break;
        Attempt attempt{};
        if (!retry_.empty() && retry_.front().not_before <= now) {
          attempt = retry_.front();
          retry_.pop_front();
        } else if (started < count) {
          ++started;
        } else {
          break;
        }
        if (plan_.rate) next_start += std::chrono::nanoseconds(std::llround(1e9 / *plan_.rate));
        start_attempt(attempt, now);
      }
      if (outcome_.fds.size() >= count || outcome_.fatal) break;
      wait_for_completions();
      expire(Clock::now());
      if (progress && Clock::now() - last_progress >= std::chrono::seconds(1)) {
        last_progress = Clock::now();
        progress(outcome_.fds.size());
      }
    }
    for (const auto& [fd, pending] : pending_) ::close(fd);
    outcome_.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    return std::move(outcome_);
  }

 private:
  void start_attempt(Attempt attempt, Clock::time_point now) {
    ++attempt.attempts;
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return failed(attempt, errno, now);
    const int connected = begin_connect(fd);
    if (connected == 0) {
      outcome_.fds.push_back(fd);
    } else if (connected == EINPROGRESS) {
      pending_.emplace(fd, Pending{attempt, now + plan_.attempt_timeout});
    } else {
      ::close(fd);
      failed(attempt, connected, now);
    }
  }

  // Options, source address, connect; a connect in progress is watched for completion. Returns
  // 0 (connected), EINPROGRESS (watched) or the errno of the step that failed.
  int begin_connect(int fd) {
    const int one = 1;
    if (::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) return errno;
    if (!plan_.sources.empty()) {
      if (::setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one) != 0)
        return errno;
      sockaddr_in source{};
      source.sin_family = AF_INET;
      source.sin_addr = plan_.sources[cursor_++ % plan_.sources.size()];
      if (::bind(fd, reinterpret_cast<const sockaddr*>(&source), sizeof source) != 0) return errno;
    }
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&plan_.target), sizeof plan_.target) == 0)
      return 0;
    if (errno != EINPROGRESS) return errno;
    epoll_event event{};
    event.events = EPOLLOUT;
    event.data.fd = fd;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) != 0) return errno;
    return EINPROGRESS;
  }

  void wait_for_completions() {
    epoll_event events[256];
    const int timeout_ms = pending_.empty() ? 1 : 10;
    const int n = checked_wait("epoll_wait", ::epoll_wait(epoll_fd_, events, 256, timeout_ms));
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      int error = 0;
      socklen_t length = sizeof error;
      if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) error = errno;
      checked("epoll_ctl(DEL)", ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr));
      const Attempt attempt = pending_.at(fd).attempt;
      pending_.erase(fd);
      if (error == 0) {
        outcome_.fds.push_back(fd);
      } else {
        ::close(fd);
        failed(attempt, error, Clock::now());
      }
    }
  }

  void expire(Clock::time_point now) {
    for (auto it = pending_.begin(); it != pending_.end();) {
      if (it->second.deadline > now) {
        ++it;
        continue;
      }
      const Attempt attempt = it->second.attempt;
      ::close(it->first);  // close also removes it from the epoll set
      it = pending_.erase(it);
      failed(attempt, ETIMEDOUT, now);
    }
  }

  void failed(Attempt attempt, int error, Clock::time_point now) {
    ++outcome_.failures[category(error)];
    if (attempt.attempts >= plan_.max_attempts || error == EMFILE || error == ENFILE) {
      outcome_.fatal = fmt::format("cannot connect to {}: {} (after {} attempts)",
                                   to_string(plan_.target), category(error), attempt.attempts);
      return;
    }
    ++outcome_.retries;
    attempt.not_before = now + std::chrono::milliseconds(10 << attempt.attempts);
    retry_.push_back(attempt);
  }

  const ConnectPlan& plan_;
  std::size_t& cursor_;
  int epoll_fd_;
  std::unordered_map<int, Pending> pending_;
  std::deque<Attempt> retry_;
  ConnectOutcome outcome_;
};

}  // namespace

ConnectOutcome open_connections(const ConnectPlan& plan, std::size_t count,
                                std::size_t& source_cursor, const std::atomic<bool>& stop,
                                const std::function<void(std::size_t)>& progress) {
  return Opener(plan, source_cursor).run(count, stop, progress);
}

}  // namespace muxbench
