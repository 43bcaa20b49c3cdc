#include "loadgen/connector.hpp"

#include <fmt/format.h>
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
#include "loadgen/socket_connect.hpp"

namespace muxbench {
namespace {

using Clock = std::chrono::steady_clock;

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
    const in_addr* source =
        plan_.sources.empty() ? nullptr : &plan_.sources[cursor_++ % plan_.sources.size()];
    const ConnectStart started = start_connect(plan_.target, source);
    if (started.error == 0) {
      outcome_.fds.push_back(started.fd);
    } else if (started.error != EINPROGRESS) {
      failed(attempt, started.error, now);
    } else if (const int error = watch(started.fd); error != 0) {
      ::close(started.fd);
      failed(attempt, error, now);
    } else {
      pending_.emplace(started.fd, Pending{attempt, now + plan_.attempt_timeout});
    }
  }

  // A connect in progress is watched for completion; 0 or the errno.
  int watch(int fd) {
    epoll_event event{};
    event.events = EPOLLOUT;
    event.data.fd = fd;
    return ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) != 0 ? errno : 0;
  }

  void wait_for_completions() {
    epoll_event events[256];
    const int timeout_ms = pending_.empty() ? 1 : 10;
    const int n = checked_wait("epoll_wait", ::epoll_wait(epoll_fd_, events, 256, timeout_ms));
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      const int error = finished_connect_error(fd);
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
    ++outcome_.failures[connect_failure_category(error)];
    if (attempt.attempts >= plan_.max_attempts || error == EMFILE || error == ENFILE) {
      outcome_.fatal =
          fmt::format("cannot connect to {}: {} (after {} attempts)", to_string(plan_.target),
                      connect_failure_category(error), attempt.attempts);
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
