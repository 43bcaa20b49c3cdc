#pragma once

#include <netinet/in.h>
#include <sys/epoll.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.hpp"
#include "loadgen/churn.hpp"
#include "loadgen/histogram.hpp"
#include "loadgen/message.hpp"

namespace muxbench {

// When each phase ends, in CLOCK_MONOTONIC nanoseconds, shared by all workers: warm-up until
// measure_start, the measured window until measure_end, then no new sends and a drain of the
// messages in flight until drain_deadline.
struct Schedule {
  std::int64_t start_ns;
  std::int64_t measure_start_ns;
  std::int64_t measure_end_ns;
  std::int64_t drain_deadline_ns;
};

struct WorkerConnection {
  int fd;
  std::uint32_t id;  // global index over all workers' active connections
};

struct WorkerPlan {
  std::vector<WorkerConnection> connections;  // this worker's active connections, ids ascending
  std::uint32_t total_active = 0;             // over all workers (open-loop interleaving)
  std::size_t message_size = 64;
  std::uint32_t depth = 1;     // closed loop: messages in flight per connection
  std::optional<double> rate;  // open loop: aggregate messages per second
  // Open loop: a send that leaves more than this after its intended time is late. Sends due in
  // the window may still leave this long after the window's end.
  std::int64_t late_tolerance_ns = 1'000'000;
  bool busy_poll = false;
  bool report_progress = false;  // a progress line reads the counters and p99 twice a second
  std::optional<int> cpu;
  // --hlog: one latency histogram per second of the window (by send, open loop due, time), made
  // when the worker is (never inside the window); 0: none.
  std::size_t interval_count = 0;
  // --lifetime: echo exchanges per connection before the worker closes it and connects a
  // replacement to `target` from `sources` (round-robin from source_cursor); nullopt: persistent.
  std::optional<std::uint64_t> lifetime;
  sockaddr_in target{};
  std::vector<in_addr> sources;
  std::size_t source_cursor = 0;
};

struct WorkerResult {
  LatencyHistogram latency;  // messages sent (open loop: due) inside the window
  // Open loop: actual minus intended send time of the sends due in the window; those never sent
  // are recorded with their lateness when sending stopped (a lower bound).
  LatencyHistogram send_lateness;
  std::uint64_t window_messages = 0;  // echoes completed inside the window (throughput)
  std::uint64_t window_sends = 0;     // open loop: sends that left inside the window
  std::uint64_t window_due = 0;       // open loop: sends due inside the window
  std::uint64_t window_due_sent = 0;  // ... of which left (before sending stopped)
  std::uint64_t window_late = 0;      // ... of which left late (beyond the tolerance) or never
  std::uint64_t max_backlog = 0;      // open loop: most due-but-unsent messages on one connection
  std::uint64_t messages_sent = 0;
  std::uint64_t messages_received = 0;
  std::uint64_t mismatches = 0;        // echo differs from what was sent
  std::uint64_t unexpected_bytes = 0;  // bytes that answer no message in flight
  std::uint64_t lost_connections = 0;  // EOF or error on an active connection
  std::uint64_t unanswered = 0;        // messages still awaited when the drain ended
  std::uint64_t max_in_flight = 0;     // on one connection
  double window_cpu_user_s = 0;
  double window_cpu_system_s = 0;
  double window_seconds = 0;
  std::uint64_t window_loops = 0;         // wait calls in the window
  std::uint64_t window_loops_worked = 0;  // ... that found something to do
  ChurnCounts churn;                      // --lifetime
  std::optional<std::string> pin_error;
  std::optional<std::string> error;  // why the worker stopped before the drain ended (epoll_wait)
};

// One epoll loop on one thread driving a share of the active connections.
class Worker {
 public:
  // Owns the connections from here on and registers them; throws std::system_error when the
  // epoll set cannot be made.
  explicit Worker(WorkerPlan plan);
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;
  ~Worker();
  // Drives the connections through the schedule's phases. A failed wait ends the run early,
  // recorded in result().error.
  void run(const Schedule& schedule, const std::atomic<bool>& stop);
  const WorkerResult& result() const { return result_; }
  // Second k of the window: the latency of the messages sent (open loop: due) in [k s, k+1 s)
  // after its start, interval_count of them (empty unless the plan asked for them).
  const std::vector<LatencyHistogram>& interval_latency() const { return interval_latency_; }

  // Read by the progress line while the worker runs.
  std::atomic<std::uint64_t> progress_received{0};
  std::atomic<std::uint64_t> progress_p99_ns{0};

 private:
  struct Connection;
  void register_connections();
  void close_descriptors();
  void start_sending();
  void event_loop(const std::atomic<bool>& stop);
  bool advance_phase(std::int64_t now_ns, const std::atomic<bool>& stop);
  std::int64_t wait_timeout_ns(std::int64_t now_ns) const;
  void dispatch(const epoll_event* events, int ready);
  void publish_progress();
  void send_messages(Connection& c, std::uint32_t count, std::int64_t sent_ns);
  void fill_send_buffer(std::uint64_t count);
  void transmit(Connection& c, std::size_t total);
  void flush(Connection& c);
  void on_readable(Connection& c);
  bool complete(Connection& c, const char* data, std::int64_t now_ns);
  void lose(Connection& c);
  void set_write_interest(Connection& c, bool wanted);
  void send_due_open_loop(std::int64_t now_ns);
  std::int64_t open_loop_send_ns(std::uint64_t index) const;  // when that send is due
  std::uint64_t first_due_at_or_after(std::int64_t t_ns, std::uint64_t from) const;
  std::uint64_t assigned(std::uint64_t cursor, const Connection& c) const;
  std::uint64_t owed(const Connection& c) const;
  bool can_take_sends(const Connection& c) const;
  void mark_ready(Connection& c);
  void send_owed(Connection& c, std::uint64_t count, std::int64_t now_ns);
  void account_unsent(std::int64_t stopped_ns);
  bool open_loop_sending(std::int64_t now_ns) const;
  void begin_window();
  void end_window(std::int64_t now_ns);
  // --lifetime (worker_churn.cpp): a connection that completed its K exchanges is closed and
  // replaced; a replacement's connect completes, fails (the slot retries after a pause) or is
  // retried.
  std::uint64_t room(const Connection& c) const;  // messages it may still carry
  bool in_window(std::int64_t t_ns) const;
  bool wants_connection(std::int64_t now_ns) const;
  void recycle(Connection& c, std::int64_t now_ns);
  void reconnect(Connection& c, std::int64_t now_ns);
  void on_connect_event(Connection& c);
  void connected(Connection& c, std::int64_t now_ns);
  void connect_failed(Connection& c, int error, std::int64_t now_ns);
  void retry_due(std::int64_t now_ns);
  std::int64_t next_retry_ns() const;

  WorkerPlan plan_;
  Schedule schedule_{};
  MessageFormat format_;
  std::vector<Connection> connections_;
  std::vector<char> send_buffer_;
  std::vector<char> receive_buffer_;
  int epoll_fd_ = -1;
  WorkerResult result_;
  std::vector<LatencyHistogram> interval_latency_;
  std::uint64_t in_flight_total_ = 0;
  // Open loop: this worker's sends, in time order, are numbered; index i goes to connection
  // i % n as its (i / n)-th message. Every index below the cursor has fallen due. A connection
  // owes the indices assigned to it that it has not sent (a count: its next_sequence is the
  // next message to send), so memory stays O(connections) however far behind the sends are.
  std::uint64_t open_loop_next_ = 0;  // the cursor
  std::int64_t next_due_ns_ = 0;      // open_loop_send_ns(open_loop_next_), computed once
  std::uint64_t send_limit_ = 0;      // the first index due at or after the window's end
  std::deque<std::uint32_t> ready_;   // connections that owe sends and can take them
  Churn churn_;
  std::vector<std::uint32_t> retry_;    // --lifetime: slots waiting to retry a failed connect
  std::uint64_t connects_pending_ = 0;  // ... replacement connects in progress
  std::int64_t window_end_ns_ = 0;      // the window's actual end (earlier when interrupted)
  bool in_window_ = false;
  bool window_done_ = false;
  CpuSeconds window_cpu_at_start_;
};

}  // namespace muxbench
