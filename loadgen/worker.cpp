#include "loadgen/worker.hpp"

#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>

#include "common/cpu_affinity.hpp"
#include "loadgen/checked.hpp"
#include "loadgen/worker_connection.hpp"

namespace muxbench {
namespace {

constexpr std::int64_t kMillisecond = 1'000'000;
constexpr std::int64_t kSecondNs = 1'000'000'000;  // --hlog intervals
constexpr std::size_t kReceiveBufferSize = 256 * 1024;
// Open loop: one send call carries at most this much of one connection's backlog, and one loop
// iteration sends at most kCallBudgetBytes over all connections, so the loop comes back to the
// stop flag and the socket events however far behind the sends are.
constexpr std::size_t kBatchBytes = 64 * 1024;
constexpr std::size_t kCallBudgetBytes = 1024 * 1024;
// Open loop: a connection with this many messages awaiting their echo takes no new ones (a
// server that reads but never answers would otherwise grow the queue without bound).
constexpr std::size_t kMaxInFlightOpenLoop = 16384;
// Unsent messages enter the lateness histogram in at most this many steps per connection.
constexpr std::uint64_t kUnsentSteps = 256;

// epoll_pwait2 takes a nanosecond timeout (kernel >= 5.11); fall back to milliseconds.
int wait_for_events(int epoll_fd, epoll_event* events, int capacity, std::int64_t timeout_ns) {
  static std::atomic<bool> has_pwait2{true};
  if (has_pwait2.load(std::memory_order_relaxed)) {
    const timespec timeout{timeout_ns / 1'000'000'000LL, timeout_ns % 1'000'000'000LL};
    const int n = ::epoll_pwait2(epoll_fd, events, capacity, &timeout, nullptr);
    if (n >= 0 || errno != ENOSYS) return checked_wait("epoll_pwait2", n);
    has_pwait2.store(false, std::memory_order_relaxed);
  }
  return checked_wait(
      "epoll_wait", ::epoll_wait(epoll_fd, events, capacity,
                                 static_cast<int>((timeout_ns + kMillisecond - 1) / kMillisecond)));
}

}  // namespace

Worker::Worker(WorkerPlan plan)
    : plan_(std::move(plan)),
      format_(plan_.message_size),
      receive_buffer_(kReceiveBufferSize),
      interval_latency_(plan_.interval_count),
      churn_(plan_.target, plan_.sources, plan_.source_cursor) {
  for (std::size_t i = 0; i < plan_.connections.size(); ++i) {
    Connection& c = connections_.emplace_back();
    c.fd = plan_.connections[i].fd;
    c.id = plan_.connections[i].id;
    c.index = static_cast<std::uint32_t>(i);
  }
  try {
    register_connections();
  } catch (...) {
    close_descriptors();  // the destructor does not run for a constructor that throws
    throw;
  }
}

void Worker::register_connections() {
  epoll_fd_ = checked("epoll_create1", ::epoll_create1(EPOLL_CLOEXEC));
  for (const Connection& c : connections_) {
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.u32 = c.index;
    checked("epoll_ctl(ADD)", ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, c.fd, &event));
  }
}

Worker::~Worker() { close_descriptors(); }

void Worker::close_descriptors() {
  for (auto& c : connections_) {
    if (c.open || c.connecting) ::close(c.fd);
    c.open = c.connecting = false;
  }
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
  epoll_fd_ = -1;
}

void Worker::run(const Schedule& schedule, const std::atomic<bool>& stop) {
  schedule_ = schedule;
  if (plan_.cpu) {
    result_.pin_error = pin_to_cpu(*plan_.cpu);
  }
  ::prctl(PR_SET_TIMERSLACK, 1UL);  // the default 50 us timer slack would be paid as latency
  // The start may be far ahead (--start-at): wake every 50 ms for the stop flag.
  for (std::int64_t now = monotonic_ns();
       now < schedule_.start_ns && !stop.load(std::memory_order_relaxed); now = monotonic_ns()) {
    sleep_until_ns(std::min(schedule_.start_ns, now + 50 * kMillisecond));
  }
  if (!stop.load(std::memory_order_relaxed)) {
    start_sending();
    try {
      event_loop(stop);
    } catch (const std::exception& error) {
      result_.error = error.what();
    }
  }
  const std::int64_t now = monotonic_ns();
  if (in_window_) end_window(now);  // interrupted inside the window
  if (plan_.rate && window_done_) {
    account_unsent(std::min(now, schedule_.measure_end_ns + plan_.late_tolerance_ns));
  }
  for (const auto& c : connections_) {
    if (c.open) result_.unanswered += c.in_flight.size();
  }
  result_.churn = churn_.counts();
  progress_received.store(result_.messages_received, std::memory_order_relaxed);
}

void Worker::start_sending() {
  if (plan_.rate) {
    next_due_ns_ = open_loop_send_ns(0);
    send_limit_ = first_due_at_or_after(schedule_.measure_end_ns, 0);
  } else {
    for (auto& c : connections_) send_messages(c, plan_.depth, monotonic_ns());
  }
}

void Worker::event_loop(const std::atomic<bool>& stop) {
  std::array<epoll_event, 256> events;
  std::int64_t next_progress = 0;
  for (;;) {
    const std::int64_t now = monotonic_ns();
    if (!advance_phase(now, stop)) return;
    const std::uint64_t sent_before = result_.messages_sent;
    if (!retry_.empty()) retry_due(now);
    if (plan_.rate) send_due_open_loop(now);  // also what fell due before the window closed
    const int ready = wait_for_events(epoll_fd_, events.data(), static_cast<int>(events.size()),
                                      wait_timeout_ns(now));
    dispatch(events.data(), ready);
    if (in_window_) {
      ++result_.window_loops;
      if (ready > 0 || result_.messages_sent != sent_before) ++result_.window_loops_worked;
    }
    if (plan_.report_progress && now >= next_progress) {
      publish_progress();
      next_progress = now + 500 * kMillisecond;
    }
  }
}

// Opens and closes the window at its edges; false once the run is over (stopped, drained, or
// past the drain deadline).
bool Worker::advance_phase(std::int64_t now, const std::atomic<bool>& stop) {
  const Schedule& s = schedule_;
  if (!in_window_ && !window_done_ && now >= s.measure_start_ns) begin_window();
  if (in_window_ && now >= s.measure_end_ns) end_window(now);
  if (stop.load(std::memory_order_relaxed) || now >= s.drain_deadline_ns) return false;
  const bool owes_sends = plan_.rate && !ready_.empty() && open_loop_sending(now);
  return now < s.measure_end_ns || owes_sends || in_flight_total_ != 0 || connects_pending_ != 0;
}

// Busy-poll never sleeps; otherwise sleep until the next phase edge or due send, and at most
// 100 ms (the stop flag is read once per loop).
std::int64_t Worker::wait_timeout_ns(std::int64_t now) const {
  if (plan_.busy_poll) return 0;
  const Schedule& s = schedule_;
  std::int64_t wake =
      !window_done_ ? (in_window_ ? s.measure_end_ns : s.measure_start_ns) : s.drain_deadline_ns;
  if (plan_.rate && open_loop_sending(now)) {
    if (!ready_.empty()) return 0;
    if (open_loop_next_ < send_limit_) wake = std::min(wake, next_due_ns_);
  }
  if (!retry_.empty()) wake = std::min(wake, next_retry_ns());
  return std::clamp<std::int64_t>(wake - now, 0, 100 * kMillisecond);
}

void Worker::dispatch(const epoll_event* events, int ready) {
  for (int i = 0; i < ready; ++i) {
    Connection& c = connections_[events[i].data.u32];
    if (c.connecting) {
      on_connect_event(c);
      continue;
    }
    if (c.open && (events[i].events & EPOLLOUT)) flush(c);
    if (c.open && (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))) on_readable(c);
  }
}

void Worker::publish_progress() {
  progress_received.store(result_.messages_received, std::memory_order_relaxed);
  progress_p99_ns.store(result_.latency.percentile(99), std::memory_order_relaxed);
}

void Worker::begin_window() {
  in_window_ = true;
  window_cpu_at_start_ = cpu_seconds(RUSAGE_THREAD);
}

void Worker::end_window(std::int64_t now) {
  in_window_ = false;
  window_done_ = true;
  const CpuSeconds cpu = cpu_seconds(RUSAGE_THREAD);
  result_.window_cpu_user_s = cpu.user - window_cpu_at_start_.user;
  result_.window_cpu_system_s = cpu.system - window_cpu_at_start_.system;
  // Messages are counted against the nominal window; an interrupted one ends now.
  window_end_ns_ = std::min(now, schedule_.measure_end_ns);
  result_.window_seconds = static_cast<double>(window_end_ns_ - schedule_.measure_start_ns) / 1e9;
}

// Open loop: connection g's k-th message is due at start + (k * M + g) / rate, which spreads the
// aggregate rate evenly over all M connections (no microbursts). Each worker walks its own
// connections' share of that sequence in time order.
std::int64_t Worker::open_loop_send_ns(std::uint64_t index) const {
  const std::size_t n = connections_.size();
  const double slot =
      static_cast<double>(index / n) * plan_.total_active + connections_[index % n].id;
  // A due time past the clock's range (an absurdly low --rate such as 1e-300) is never: saturate,
  // instead of letting llround overflow, which made the galloping search below loop forever.
  const double offset_ns = slot * 1e9 / *plan_.rate;
  constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();
  if (!(offset_ns < static_cast<double>(kNever - schedule_.start_ns) - 4096.0)) return kNever;
  return schedule_.start_ns + std::llround(offset_ns);
}

// The first index due at or after t, searching from an index due before it (galloping, then
// bisecting: the due times grow with the index).
std::uint64_t Worker::first_due_at_or_after(std::int64_t t, std::uint64_t from) const {
  if (open_loop_send_ns(from) >= t) return from;
  std::uint64_t below = from, step = 1;
  while (open_loop_send_ns(from + step) < t) {
    below = from + step;
    step *= 2;
  }
  std::uint64_t above = from + step;
  while (above - below > 1) {
    const std::uint64_t middle = below + (above - below) / 2;
    (open_loop_send_ns(middle) < t ? below : above) = middle;
  }
  return above;
}

// How many of the indices below `cursor` belong to connection c.
std::uint64_t Worker::assigned(std::uint64_t cursor, const Connection& c) const {
  return cursor > c.index ? (cursor - c.index - 1) / connections_.size() + 1 : 0;
}

std::uint64_t Worker::owed(const Connection& c) const {
  const std::uint64_t due = assigned(open_loop_next_, c);
  return due > c.next_sequence ? due - c.next_sequence : 0;
}

// A connection whose socket is full (bytes still queued) takes no new bytes: its due messages
// are owed as a count and sent, stamped with their intended times, when it drains.
bool Worker::can_take_sends(const Connection& c) const {
  return c.open && c.out.empty() && c.in_flight.size() < kMaxInFlightOpenLoop && room(c) > 0;
}

void Worker::mark_ready(Connection& c) {
  if (c.ready || !can_take_sends(c) || owed(c) == 0) return;
  c.ready = true;
  ready_.push_back(c.index);
}

// Sends due in the window may leave until the tolerance past its end; none after that.
bool Worker::open_loop_sending(std::int64_t now) const {
  return now < schedule_.measure_end_ns + plan_.late_tolerance_ns;
}

void Worker::send_due_open_loop(std::int64_t now) {
  if (!open_loop_sending(now)) return;
  if (next_due_ns_ <= now && open_loop_next_ < send_limit_) {
    const std::uint64_t before = open_loop_next_;
    open_loop_next_ = std::min(first_due_at_or_after(now + 1, before), send_limit_);
    next_due_ns_ = open_loop_send_ns(open_loop_next_);
    const std::size_t n = connections_.size();
    if (open_loop_next_ - before >= n) {
      for (Connection& c : connections_) mark_ready(c);
    } else {
      for (std::uint64_t i = before; i < open_loop_next_; ++i) mark_ready(connections_[i % n]);
    }
  }
  // One pass over the connections ready now, within the budget; the rest wait for the next.
  const std::size_t size = format_.size();
  const std::uint64_t per_send = std::max<std::size_t>(1, kBatchBytes / size);
  std::size_t budget = kCallBudgetBytes;
  for (std::size_t pass = ready_.size(); pass > 0 && budget > 0; --pass) {
    Connection& c = connections_[ready_.front()];
    ready_.pop_front();
    c.ready = false;
    const std::uint64_t backlog = owed(c);
    if (backlog == 0 || !can_take_sends(c)) continue;
    result_.max_backlog = std::max(result_.max_backlog, backlog);
    const std::uint64_t count =
        std::min({backlog, per_send, kMaxInFlightOpenLoop - c.in_flight.size(), room(c)});
    send_owed(c, count, now);
    budget -= std::min<std::size_t>(budget, count * size);
    mark_ready(c);
  }
}

void Worker::send_owed(Connection& c, std::uint64_t count, std::int64_t now) {
  const std::size_t size = format_.size();
  fill_send_buffer(count);
  const Schedule& s = schedule_;
  const std::size_t n = connections_.size();
  for (std::uint64_t k = 0; k < count; ++k) {
    const std::uint64_t sequence = c.next_sequence++;
    const std::int64_t intended = open_loop_send_ns(sequence * n + c.index);
    c.in_flight.push({sequence, intended});
    MessageFormat::stamp(c.id, sequence, send_buffer_.data() + k * size);
    if (intended >= s.measure_start_ns && intended < s.measure_end_ns) {
      const auto late = static_cast<std::uint64_t>(std::max<std::int64_t>(0, now - intended));
      ++result_.window_due_sent;
      result_.send_lateness.record(late);
      if (late > static_cast<std::uint64_t>(plan_.late_tolerance_ns)) ++result_.window_late;
    }
  }
  if (now >= s.measure_start_ns && now < s.measure_end_ns) result_.window_sends += count;
  c.sent_here += count;
  in_flight_total_ += count;
  result_.messages_sent += count;
  result_.max_in_flight = std::max<std::uint64_t>(result_.max_in_flight, c.in_flight.size());
  transmit(c, count * size);
}

// The sends due in the window that never left: counted as late, and recorded in the lateness
// histogram with how late they were when sending stopped (in steps, not one by one: at an
// impossible rate they number billions).
void Worker::account_unsent(std::int64_t stopped) {
  const Schedule& s = schedule_;
  const std::uint64_t first = first_due_at_or_after(s.measure_start_ns, 0);
  const std::uint64_t end = first_due_at_or_after(window_end_ns_, first);
  result_.window_due = end - first;
  const std::size_t n = connections_.size();
  for (const Connection& c : connections_) {
    result_.max_backlog = std::max(result_.max_backlog, owed(c));  // a socket that never drained
    const std::uint64_t from = std::max(assigned(first, c), c.next_sequence);
    const std::uint64_t to = assigned(end, c);
    if (from >= to) continue;
    const std::uint64_t unsent = to - from;
    result_.window_late += unsent;
    const std::uint64_t steps = std::min(unsent, kUnsentSteps);
    for (std::uint64_t j = 0; j < steps; ++j) {
      const std::uint64_t a = from + unsent * j / steps, b = from + unsent * (j + 1) / steps;
      const std::int64_t intended = open_loop_send_ns((a + (b - a) / 2) * n + c.index);
      result_.send_lateness.record(
          static_cast<std::uint64_t>(std::max<std::int64_t>(0, stopped - intended)), b - a);
    }
  }
}

// The send buffer holds `count` formatted messages (only their headers change per send).
void Worker::fill_send_buffer(std::uint64_t count) {
  const std::size_t size = format_.size();
  if (send_buffer_.size() < count * size) {
    const std::size_t filled = send_buffer_.size() / size;
    send_buffer_.resize(count * size);
    for (std::size_t k = filled; k < count; ++k) format_.fill(send_buffer_.data() + k * size);
  }
}

// Queues `count` messages stamped `sent_ns` and sends them with one call: a closed loop that
// completes several echoes in one read replaces them all at once.
void Worker::send_messages(Connection& c, std::uint32_t count, std::int64_t sent_ns) {
  count = static_cast<std::uint32_t>(std::min<std::uint64_t>(count, room(c)));
  if (!c.open || count == 0) return;
  const std::size_t size = format_.size();
  fill_send_buffer(count);
  for (std::uint32_t k = 0; k < count; ++k) {
    const std::uint64_t sequence = c.next_sequence++;
    c.in_flight.push({sequence, sent_ns});
    MessageFormat::stamp(c.id, sequence, send_buffer_.data() + k * size);
  }
  c.sent_here += count;
  in_flight_total_ += count;
  result_.messages_sent += count;
  result_.max_in_flight = std::max<std::uint64_t>(result_.max_in_flight, c.in_flight.size());
  transmit(c, count * size);
}

// Sends the first `total` bytes of the send buffer, or queues them behind bytes still waiting.
void Worker::transmit(Connection& c, std::size_t total) {
  if (!c.out.empty()) {
    c.out.append(send_buffer_.data(), total);
    return;
  }
  ssize_t sent = ::send(c.fd, send_buffer_.data(), total, MSG_NOSIGNAL);
  if (sent < 0) {
    if (errno != EAGAIN && errno != EINTR) return lose(c);
    sent = 0;
  }
  if (static_cast<std::size_t>(sent) < total) {
    c.out.append(send_buffer_.data() + sent, total - static_cast<std::size_t>(sent));
    set_write_interest(c, true);
  }
}

void Worker::flush(Connection& c) {
  while (!c.out.empty()) {
    const auto bytes = c.out.front();
    const ssize_t sent = ::send(c.fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (sent < 0) {
      if (errno == EAGAIN || errno == EINTR) return;
      return lose(c);
    }
    c.out.consume(static_cast<std::size_t>(sent));
    if (static_cast<std::size_t>(sent) < bytes.size()) return;
  }
  set_write_interest(c, false);
  if (plan_.rate) mark_ready(c);
}

void Worker::on_readable(Connection& c) {
  const ssize_t n = ::recv(c.fd, receive_buffer_.data(), receive_buffer_.size(), 0);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n <= 0) return lose(c);
  const std::int64_t now = monotonic_ns();
  const std::size_t size = format_.size();
  const char* data = receive_buffer_.data();
  auto left = static_cast<std::size_t>(n);
  std::uint32_t replacements = 0;  // closed loop: one new message per completed echo
  if (c.partial_length > 0) {
    const std::size_t take = std::min(left, size - c.partial_length);
    std::memcpy(c.partial.data() + c.partial_length, data, take);
    c.partial_length += take;
    data += take;
    left -= take;
    if (c.partial_length == size) {
      c.partial_length = 0;
      replacements += complete(c, c.partial.data(), now);
    }
  }
  for (; left >= size; data += size, left -= size) replacements += complete(c, data, now);
  if (left > 0) {
    c.partial.resize(size);
    std::memcpy(c.partial.data() + c.partial_length, data, left);
    c.partial_length += left;
  }
  // Stamped after the verification work above: the clock starts when they really leave.
  if (replacements > 0) send_messages(c, replacements, monotonic_ns());
  if (plan_.rate) mark_ready(c);  // below its in-flight limit again
  if (plan_.lifetime && c.open && c.echoed_here >= *plan_.lifetime) recycle(c, now);
}

// Returns whether a closed loop should send a replacement.
bool Worker::complete(Connection& c, const char* data, std::int64_t now) {
  if (c.in_flight.empty()) {
    result_.unexpected_bytes += format_.size();
    return false;
  }
  const InFlight sent = c.in_flight.front();
  c.in_flight.pop();
  --in_flight_total_;
  ++result_.messages_received;
  ++c.echoed_here;
  if (!format_.matches(data, c.id, sent.sequence)) ++result_.mismatches;
  const Schedule& s = schedule_;
  // Latency belongs to the window its message was sent (open loop: due) in, so an echo that comes
  // back late, during the drain, still counts: dropping it would hide exactly the slow ones.
  if (sent.sent_ns >= s.measure_start_ns && sent.sent_ns < s.measure_end_ns) {
    const auto latency = static_cast<std::uint64_t>(now - sent.sent_ns);
    result_.latency.record(latency);
    const auto second = static_cast<std::size_t>((sent.sent_ns - s.measure_start_ns) / kSecondNs);
    if (second < interval_latency_.size()) interval_latency_[second].record(latency);
  }
  if (now >= s.measure_start_ns && now < s.measure_end_ns) ++result_.window_messages;
  return !plan_.rate && now < s.measure_end_ns;
}

void Worker::lose(Connection& c) {
  ++result_.lost_connections;
  result_.unanswered += c.in_flight.size();
  in_flight_total_ -= c.in_flight.size();
  c.in_flight = InFlightQueue{};
  ::close(c.fd);  // also leaves the epoll set
  c.open = false;
}

void Worker::set_write_interest(Connection& c, bool wanted) {
  if (c.write_armed == wanted) return;
  epoll_event event{};
  event.events = EPOLLIN | (wanted ? EPOLLOUT : 0u);
  event.data.u32 = c.index;
  // A connection whose interest cannot change would never be flushed (or would spin): lose it.
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &event) != 0) return lose(c);
  c.write_armed = wanted;
}

}  // namespace muxbench
