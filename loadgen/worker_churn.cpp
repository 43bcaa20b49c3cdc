// --lifetime K: each active connection slot carries K echo exchanges per connection; then the
// worker closes the connection (loadgen closes first: TIME_WAIT stays on its side) and at once
// starts a non-blocking connect of the replacement in its own epoll loop. Sends of a slot whose
// connection is being replaced wait for the new one (open loop: they are owed, and late as usual).
#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "loadgen/worker.hpp"
#include "loadgen/worker_connection.hpp"

namespace muxbench {

std::uint64_t Worker::room(const Connection& c) const {
  if (!plan_.lifetime) return UINT64_MAX;
  return *plan_.lifetime > c.sent_here ? *plan_.lifetime - c.sent_here : 0;
}

bool Worker::in_window(std::int64_t t) const {
  return t >= schedule_.measure_start_ns && t < schedule_.measure_end_ns;
}

// A replacement is worth opening while messages may still be sent.
bool Worker::wants_connection(std::int64_t now) const {
  return plan_.rate ? open_loop_sending(now) : now < schedule_.measure_end_ns;
}

void Worker::recycle(Connection& c, std::int64_t now) {
  ::close(c.fd);  // also leaves the epoll set
  c.open = false;
  churn_.closed(in_window(now));
  c.sent_here = c.echoed_here = 0;
  c.partial_length = 0;
  c.write_armed = false;
  if (wants_connection(now)) reconnect(c, now);
}

// `now`: when the replacement was decided (the old connection's close, or a retry falling due),
// which decides whether it is the window's.
void Worker::reconnect(Connection& c, std::int64_t now) {
  c.connect_in_window = in_window(now);
  c.connect_started_ns = monotonic_ns();
  const ConnectStart started = churn_.connect();
  if (started.fd < 0) return connect_failed(c, started.error, now);
  epoll_event event{};
  event.events = started.error == 0 ? EPOLLIN : EPOLLOUT;
  event.data.u32 = c.index;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, started.fd, &event) != 0) {
    const int error = errno;
    ::close(started.fd);
    return connect_failed(c, error, now);
  }
  c.fd = started.fd;
  if (started.error == 0) return connected(c, monotonic_ns());
  c.connecting = true;
  ++connects_pending_;  // the loop waits for it: its slot may owe sends, or a latency sample
}

void Worker::on_connect_event(Connection& c) {
  const std::int64_t now = monotonic_ns();
  c.connecting = false;
  --connects_pending_;
  const int error = finished_connect_error(c.fd);
  if (error != 0) {
    ::close(c.fd);
    return connect_failed(c, error, now);
  }
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u32 = c.index;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &event) != 0) {
    const int mod_error = errno;
    ::close(c.fd);
    return connect_failed(c, mod_error, now);
  }
  connected(c, now);
}

// Established: the connect latency is the window's when the replacement was (reconnect). Closed
// loop: the slot's messages in flight again (at most K); open loop: its owed sends leave.
void Worker::connected(Connection& c, std::int64_t now) {
  c.open = true;
  c.failures_in_row = 0;
  churn_.established(c.connect_started_ns, now, c.connect_in_window);
  if (plan_.rate) {
    mark_ready(c);
  } else if (now < schedule_.measure_end_ns) {
    send_messages(c, plan_.depth, monotonic_ns());
  }
}

void Worker::connect_failed(Connection& c, int error, std::int64_t now) {
  c.fd = -1;
  c.retry_at_ns = now + churn_.failed(error, c.failures_in_row++);
  retry_.push_back(c.index);
}

// Slots whose pause after a failed connect is over try again (while messages may still be sent).
void Worker::retry_due(std::int64_t now) {
  for (std::size_t i = 0; i < retry_.size();) {
    Connection& c = connections_[retry_[i]];
    if (c.retry_at_ns > now) {
      ++i;
      continue;
    }
    retry_[i] = retry_.back();
    retry_.pop_back();
    if (wants_connection(now)) reconnect(c, now);
  }
}

std::int64_t Worker::next_retry_ns() const {
  std::int64_t next = INT64_MAX;
  for (const std::uint32_t index : retry_) next = std::min(next, connections_[index].retry_at_ns);
  return next;
}

}  // namespace muxbench
