#pragma once

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <memory>
#include <vector>

#include "common/byte_queue.hpp"
#include "servers/poller.hpp"
#include "servers/server_context.hpp"
#include "servers/signal_pipe.hpp"

namespace muxbench {

// The echo server for every raw backend: accept, read, echo, buffer, close. Only the Poller
// differs; edge-triggered pollers additionally drain reads and accepts until EAGAIN.
template <Poller P>
class EventLoop {
 public:
  explicit EventLoop(ServerContext& context)
      : ctx_(context),
        counters_(context.counters),
        listen_fd_(context.listener.fd()),
        read_buffer_(std::make_unique_for_overwrite<char[]>(context.config.read_size)) {}

  void run() {
    poller_.add(listen_fd_, kRead);
    poller_.add(signals_.read_fd(), kRead);
    ctx_.announce();
    while (!stopping_) {
      const std::size_t passed = poller_.fds_passed_per_wait();
      const auto ready = poller_.wait(next_timeout_ms());
      ++counters_.wait_calls;
      counters_.fds_passed += passed;
      counters_.events += ready.size();
      for (const Ready& event : ready) dispatch(event);
      resume_accepting_when_due();
      run_carried_work();
    }
  }

 private:
  using Clock = std::chrono::steady_clock;

  struct Connection {
    bool open = false;
    bool peer_closed = false;
    bool carried = false;  // already on carried_: one turn per round, however many edges
    std::uint32_t interest = kNoInterest;
    ByteQueue pending;
  };

  // Edge-triggered fairness: after this much work on one descriptor, serve the others first.
  static constexpr int kMaxReadsPerEvent = 16;
  static constexpr int kMaxAcceptsPerEvent = 64;
  static constexpr auto kAcceptBackoff = std::chrono::milliseconds(100);

  void dispatch(const Ready& event) {
    if (event.fd == listen_fd_) return accept_connections();
    if (event.fd == signals_.read_fd()) return handle_signals();
    if (static_cast<std::size_t>(event.fd) >= connections_.size() || !connections_[event.fd].open) {
      ++counters_.stale_events;
      return;
    }
    Connection& connection = connections_[event.fd];
    if (event.events & kWrite) flush(event.fd, connection);
    if (connection.open && (event.events & kRead)) read_and_echo(event.fd, connection);
    if (connection.open) update_interest(event.fd, connection);
  }

  ReadGate read_gate_of(const Connection& c) const {
    return read_gate(c.pending.size(), ctx_.config, counters_);
  }
  bool wants_read(const Connection& c) const {
    return !c.peer_closed && read_gate_of(c) == ReadGate::kOpen;
  }

  void accept_connections() {
    for (int accepted = 0; accepted < kMaxAcceptsPerEvent; ++accepted) {
      const Accepted result = accept_connection(listen_fd_);
      switch (result.outcome) {
        case AcceptOutcome::kDrained:
          return;
        case AcceptOutcome::kTransient:
          ++counters_.accept_errors;
          continue;
        case AcceptOutcome::kFdLimit:
          return on_fd_limit();
        case AcceptOutcome::kBackOff:
          ++counters_.accept_errors;
          return pause_accepting();
        case AcceptOutcome::kFatal:
          fail_on_listener(result.error);
        case AcceptOutcome::kAccepted:
          break;
      }
      ++counters_.accepts;
      if (result.fd > P::kMaxFd) {  // select: FD_SET would write past the fd_set
        ::close(result.fd);
        ++counters_.refused_fd_setsize;
        continue;
      }
      add_connection(result.fd);
    }
    if constexpr (P::kEdgeTriggered) {
      listener_carried_ = true;
      ++counters_.carried_over;
    }
  }

  void add_connection(int fd) {
    if (static_cast<std::size_t>(fd) >= connections_.size()) {
      connections_.resize(std::max<std::size_t>(fd + 1, connections_.size() * 2));
    }
    Connection& connection = connections_[fd];
    connection.open = true;
    connection.interest = kRead;
    poller_.add(fd, kRead);
    ++counters_.open_connections;
  }

  void on_fd_limit() {
    ++counters_.fd_limit_hits;
    const auto dropped = ctx_.reserve.drop_pending(listen_fd_);
    if (!dropped) return pause_accepting();  // no reserve left: stop looking for a while
    counters_.refused_fd_limit += dropped->count;
    // accept() fails with EMFILE even on an empty backlog, so carry over only a backlog that the
    // per-call bound left behind, or edge-triggered would spin on EMFILE.
    if constexpr (P::kEdgeTriggered) listener_carried_ |= !dropped->drained;
  }

  void pause_accepting() {
    poller_.modify(listen_fd_, kNoInterest);
    accept_resume_at_ = Clock::now() + kAcceptBackoff;
    accept_paused_ = true;
  }

  void resume_accepting_when_due() {
    if (!accept_paused_ || Clock::now() < accept_resume_at_) return;
    accept_paused_ = false;
    poller_.modify(listen_fd_, kRead);
  }

  void read_and_echo(int fd, Connection& c) {
    for (int reads = 0; wants_read(c);) {
      const ssize_t n = ::recv(fd, read_buffer_.get(), ctx_.config.read_size, 0);
      if (n > 0) {
        counters_.bytes_in += static_cast<std::uint64_t>(n);
        if (!echo(fd, c, static_cast<std::size_t>(n))) return;
        if constexpr (!P::kEdgeTriggered) return;  // level-triggered: asked again next wait
        if (++reads == kMaxReadsPerEvent) {
          if (!c.carried) carried_.push_back(fd);
          c.carried = true;
          ++counters_.carried_over;
          return;
        }
      } else if (n == 0) {
        c.peer_closed = true;
        if (c.pending.empty()) return close_connection(fd, c, counters_.closes_eof);
        ++counters_.half_closes;
        return;
      } else if (errno == EAGAIN) {
        return;
      } else if (errno != EINTR) {
        return close_connection(fd, c, closes_after_error(counters_, errno));
      }
    }
  }

  // Sends what it can, 0 when the socket buffer is full, -1 on a connection error.
  ssize_t send_some(int fd, const char* data, std::size_t length) {
    for (;;) {
      const ssize_t sent = ::send(fd, data, length, MSG_NOSIGNAL);
      if (sent >= 0) {
        counters_.bytes_out += static_cast<std::uint64_t>(sent);
        return sent;
      }
      if (errno == EAGAIN) return 0;
      if (errno != EINTR) return -1;
    }
  }

  // Echoes the bytes just read; what the socket does not take waits in the pending queue.
  bool echo(int fd, Connection& c, std::size_t length) {
    const char* data = read_buffer_.get();
    std::size_t sent = 0;
    if (c.pending.empty()) {
      const ssize_t result = send_some(fd, data, length);
      if (result < 0) {
        close_connection(fd, c, closes_after_error(counters_, errno));
        return false;
      }
      sent = static_cast<std::size_t>(result);
    }
    if (sent < length) {
      c.pending.append(data + sent, length - sent);
      counters_.pending_bytes += length - sent;
      counters_.note_pending(c.pending.size());
    }
    return true;
  }

  void flush(int fd, Connection& c) {
    while (!c.pending.empty()) {
      const auto bytes = c.pending.front();
      const ssize_t sent = send_some(fd, bytes.data(), bytes.size());
      if (sent < 0) return close_connection(fd, c, closes_after_error(counters_, errno));
      c.pending.consume(static_cast<std::size_t>(sent));
      counters_.pending_bytes -= static_cast<std::uint64_t>(sent);
      if (static_cast<std::size_t>(sent) < bytes.size()) break;  // socket buffer full
    }
    if (c.peer_closed && c.pending.empty()) close_connection(fd, c, counters_.closes_eof);
  }

  // Write interest only while bytes are owed (a writable socket would wake every LT wait), read
  // interest only while read_gate allows it. A connection paused by the budget owes bytes, so
  // its write interest is armed: it is looked at again as it drains (or when its peer reads).
  void update_interest(int fd, Connection& c) {
    const std::uint32_t wanted = (wants_read(c) ? kRead : 0u) | (c.pending.empty() ? 0u : kWrite);
    if (wanted == c.interest) return;
    if ((c.interest & kRead) && !(wanted & kRead) && !c.peer_closed) {
      count_pause(read_gate_of(c), counters_);
    }
    poller_.modify(fd, wanted);
    c.interest = wanted;
    ++counters_.interest_changes;
  }

  void close_connection(int fd, Connection& c, std::uint64_t& reason) {
    poller_.remove(fd);  // before close: the number may be reused by the next accept
    ::close(fd);
    counters_.pending_bytes -= c.pending.size();
    c = Connection{};
    --counters_.open_connections;
    ++reason;
  }

  void handle_signals() {
    for (const int signal_number : signals_.take()) stopping_ |= ctx_.on_signal(signal_number);
  }

  void run_carried_work() {
    if (listener_carried_) {
      listener_carried_ = false;
      if (!accept_paused_) accept_connections();
    }
    if (carried_.empty()) return;
    carrying_.swap(carried_);
    for (const int fd : carrying_) {
      Connection& connection = connections_[fd];
      connection.carried = false;
      if (!connection.open) continue;  // closed since; a reused number just reads EAGAIN
      read_and_echo(fd, connection);
      if (connection.open) update_interest(fd, connection);
    }
    carrying_.clear();
  }

  int next_timeout_ms() const {
    if (listener_carried_ || !carried_.empty()) return 0;
    if (!accept_paused_) return -1;
    const auto left =
        std::chrono::ceil<std::chrono::milliseconds>(accept_resume_at_ - Clock::now());
    return static_cast<int>(std::max<std::int64_t>(left.count(), 0));
  }

  ServerContext& ctx_;
  ServerCounters& counters_;
  const int listen_fd_;
  P poller_;
  SignalPipe signals_;
  std::vector<Connection> connections_;
  std::unique_ptr<char[]> read_buffer_;
  std::vector<int> carried_;   // edge-triggered reads cut short by kMaxReadsPerEvent
  std::vector<int> carrying_;  // the batch being worked off (kept to reuse its memory)
  bool listener_carried_ = false;
  bool accept_paused_ = false;
  Clock::time_point accept_resume_at_{};
  bool stopping_ = false;
};

}  // namespace muxbench
