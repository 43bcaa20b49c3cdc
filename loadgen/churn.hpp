#pragma once

// --lifetime K: the accounting of connection replacement in one worker (which connects are the
// window's, their latency, failures and port exhaustion) and where replacements connect from.
// The worker drives the slots (worker_churn.cpp).
#include <netinet/in.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "loadgen/histogram.hpp"
#include "loadgen/socket_connect.hpp"

namespace muxbench {

struct ChurnCounts {
  // connect() to established, of the window's replacements (Worker::reconnect).
  LatencyHistogram connect_latency;
  std::uint64_t opened = 0;  // = connect_latency.count()
  std::uint64_t closed = 0;  // closed after K exchanges inside the window
  std::uint64_t connect_failures = 0;
  bool port_exhaustion = false;
  std::map<std::string, std::uint64_t> failures;  // category -> failed attempts

  void add(const ChurnCounts& other);
};

class Churn {
 public:
  // Replacements connect to `target` from `sources` round-robin, starting at `cursor` (none:
  // the kernel picks the source address).
  Churn(const sockaddr_in& target, std::vector<in_addr> sources, std::size_t cursor)
      : target_(target), sources_(std::move(sources)), cursor_(cursor) {}

  ConnectStart connect();
  void established(std::int64_t started_ns, std::int64_t now_ns, bool in_window);
  void closed(bool in_window) { counts_.closed += in_window ? 1 : 0; }
  // Counts a failed attempt; returns how long the slot pauses before its next one (1 ms,
  // doubling with each failure in a row, at most 100 ms: never a spin).
  std::int64_t failed(int error, unsigned failures_in_row);
  const ChurnCounts& counts() const { return counts_; }

 private:
  sockaddr_in target_;
  std::vector<in_addr> sources_;
  std::size_t cursor_;
  ChurnCounts counts_;
};

}  // namespace muxbench
