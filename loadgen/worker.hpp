#pragma once

#include <sys/epoll.h>

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.hpp"
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
  bool busy_poll = false;
  bool report_progress = false;  // a progress line reads the counters and p99 twice a second
  std::optional<int> cpu;
};

struct WorkerResult {
  LatencyHistogram latency;           // messages sent (open loop: due) inside the window
  LatencyHistogram send_lateness;     // open loop: actual minus intended send time, in the window
  std::uint64_t window_messages = 0;  // echoes completed inside the window (throughput)
  std::uint64_t window_sends = 0;
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
  void flush(Connection& c);
  void on_readable(Connection& c);
  bool complete(Connection& c, const char* data, std::int64_t now_ns);
  void lose(Connection& c);
  void set_write_interest(Connection& c, bool wanted);
  void send_due_open_loop(std::int64_t now_ns);
  std::int64_t open_loop_send_ns(std::uint64_t index) const;  // when that send is due
  void begin_window();
  void end_window(std::int64_t now_ns);

  WorkerPlan plan_;
  Schedule schedule_{};
  MessageFormat format_;
  std::vector<Connection> connections_;
  std::vector<char> send_buffer_;
  std::vector<char> receive_buffer_;
  int epoll_fd_ = -1;
  WorkerResult result_;
  std::uint64_t in_flight_total_ = 0;
  std::uint64_t open_loop_next_ = 0;  // index of this worker's next scheduled send
  std::int64_t next_due_ns_ = 0;      // open_loop_send_ns(open_loop_next_), computed once
  bool in_window_ = false;
  bool window_done_ = false;
  CpuSeconds window_cpu_at_start_;
};

}  // namespace muxbench
