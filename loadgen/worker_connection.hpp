#pragma once

// The worker's view of one active connection slot (private to worker.cpp and worker_churn.cpp).
#include <cstdint>
#include <vector>

#include "common/byte_queue.hpp"
#include "loadgen/in_flight.hpp"
#include "loadgen/worker.hpp"

namespace muxbench {

struct Worker::Connection {
  int fd = -1;
  std::uint32_t id = 0;
  std::uint32_t index = 0;          // in connections_, carried in epoll data
  std::uint64_t next_sequence = 0;  // over all the slot's connections (--lifetime)
  InFlightQueue in_flight;
  ByteQueue out;              // bytes the socket did not take yet
  std::vector<char> partial;  // a message split across reads
  std::size_t partial_length = 0;
  bool write_armed = false;
  bool open = true;
  bool ready = false;  // open loop: in ready_
  // --lifetime: messages sent and echoes verified on this connection (at most K each), and the
  // replacement's connect.
  std::uint64_t sent_here = 0;
  std::uint64_t echoed_here = 0;
  bool connecting = false;  // a replacement's connect is in progress on fd
  // The replacement is the window's when it was started (the connection it replaces closed, or
  // a retry fell due) inside the window; its latency counts from connect().
  bool connect_in_window = false;
  std::int64_t connect_started_ns = 0;
  unsigned failures_in_row = 0;  // replacement connects that failed in a row
  std::int64_t retry_at_ns = 0;  // after a failure: when the next attempt starts
};

}  // namespace muxbench
