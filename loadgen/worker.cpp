#include "loadgen/worker.hpp"

#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cmath>
#include <cstring>

#include "common/byte_queue.hpp"
#include "common/cpu_affinity.hpp"
#include "loadgen/checked.hpp"
#include "loadgen/in_flight.hpp"

namespace muxbench {
namespace {

constexpr std::int64_t kMillisecond = 1'000'000;
constexpr std::size_t kReceiveBufferSize = 256 * 1024;

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

struct Worker::Connection {
  int fd = -1;
  std::uint32_t id = 0;
  std::uint32_t index = 0;  // in connections_, carried in epoll data
  std::uint64_t next_sequence = 0;
  InFlightQueue in_flight;
  ByteQueue out;              // bytes the socket did not take yet
  std::vector<char> partial;  // a message split across reads
  std::size_t partial_length = 0;
  bool write_armed = false;
  bool open = true;
};

Worker::Worker(WorkerPlan plan)
    : plan_(std::move(plan)), format_(plan_.message_size), receive_buffer_(kReceiveBufferSize) {
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
    if (c.open) ::close(c.fd);
    c.open = false;
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
  while (sleep_until_ns(schedule_.start_ns) == EINTR) {
  }
  start_sending();
  try {
    event_loop(stop);
  } catch (const std::exception& error) {
    result_.error = error.what();
  }
  if (in_window_) end_window(monotonic_ns());  // interrupted inside the window
  for (const auto& c : connections_) {
    if (c.open) result_.unanswered += c.in_flight.size();
  }
  progress_received.store(result_.messages_received, std::memory_order_relaxed);
}

void Worker::start_sending() {
  if (plan_.rate) {
    next_due_ns_ = open_loop_send_ns(0);
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
  const bool owes_sends = plan_.rate && next_due_ns_ < s.measure_end_ns;
  return now < s.measure_end_ns || owes_sends || in_flight_total_ != 0;
}

// Busy-poll never sleeps; otherwise sleep until the next phase edge or due send, and at most
// 100 ms (the stop flag is read once per loop).
std::int64_t Worker::wait_timeout_ns(std::int64_t now) const {
  if (plan_.busy_poll) return 0;
  const Schedule& s = schedule_;
  std::int64_t wake =
      !window_done_ ? (in_window_ ? s.measure_end_ns : s.measure_start_ns) : s.drain_deadline_ns;
  if (plan_.rate && next_due_ns_ < s.measure_end_ns) wake = std::min(wake, next_due_ns_);
  return std::clamp<std::int64_t>(wake - now, 0, 100 * kMillisecond);
}

void Worker::dispatch(const epoll_event* events, int ready) {
  for (int i = 0; i < ready; ++i) {
    Connection& c = connections_[events[i].data.u32];
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
  const std::int64_t end = std::min(now, schedule_.measure_end_ns);
  result_.window_seconds = static_cast<double>(end - schedule_.measure_start_ns) / 1e9;
}

// Open loop: connection g's k-th message is due at start + (k * M + g) / rate, which spreads the
// aggregate rate evenly over all M connections (no microbursts). Each worker walks its own
// connections' share of that sequence in time order.
std::int64_t Worker::open_loop_send_ns(std::uint64_t index) const {
  const std::size_t n = connections_.size();
  const double slot =
      static_cast<double>(index / n) * plan_.total_active + connections_[index % n].id;
  return schedule_.start_ns + std::llround(slot * 1e9 / *plan_.rate);
}

void Worker::send_due_open_loop(std::int64_t now) {
  for (;;) {
    const std::int64_t due = next_due_ns_;
    if (due > now || due >= schedule_.measure_end_ns) return;
    Connection& c = connections_[open_loop_next_ % connections_.size()];
    next_due_ns_ = open_loop_send_ns(++open_loop_next_);
    if (!c.open) continue;
    send_messages(c, 1, due);
    if (due >= schedule_.measure_start_ns) {
      ++result_.window_sends;
      result_.send_lateness.record(static_cast<std::uint64_t>(now - due));
    }
  }
}

// Queues `count` messages stamped `sent_ns` and sends them with one call: a closed loop that
// completes several echoes in one read replaces them all at once.
void Worker::send_messages(Connection& c, std::uint32_t count, std::int64_t sent_ns) {
  if (!c.open || count == 0) return;
  const std::size_t size = format_.size();
  if (send_buffer_.size() < count * size) {
    const std::size_t filled = send_buffer_.size() / size;
    send_buffer_.resize(count * size);
    for (std::size_t k = filled; k < count; ++k) format_.fill(send_buffer_.data() + k * size);
  }
  for (std::uint32_t k = 0; k < count; ++k) {
    const std::uint64_t sequence = c.next_sequence++;
    c.in_flight.push({sequence, sent_ns});
    MessageFormat::stamp(c.id, sequence, send_buffer_.data() + k * size);
  }
  in_flight_total_ += count;
  result_.messages_sent += count;
  result_.max_in_flight = std::max<std::uint64_t>(result_.max_in_flight, c.in_flight.size());
  const std::size_t total = count * size;
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
  if (!format_.matches(data, c.id, sent.sequence)) ++result_.mismatches;
  const Schedule& s = schedule_;
  // Latency belongs to the window its message was sent (open loop: due) in, so an echo that comes
  // back late, during the drain, still counts: dropping it would hide exactly the slow ones.
  if (sent.sent_ns >= s.measure_start_ns && sent.sent_ns < s.measure_end_ns) {
    result_.latency.record(static_cast<std::uint64_t>(now - sent.sent_ns));
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
