#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/tcp_client.hpp"

namespace muxbench::testing {

// The bytes every test client sends: a fixed pseudo-random block read cyclically from a
// per-client start, so each echo can be checked byte for byte without storing it.
class Pattern {
 public:
  static const std::string& block();
  static bool matches(const char* data, std::size_t length, std::uint64_t position);
  // Sends up to `length` bytes starting at `position`; returns bytes sent, 0 if the socket is
  // full, -1 on error.
  static long send(int fd, std::uint64_t position, std::size_t length);
};

struct EchoJob {
  int fd = -1;
  std::vector<std::size_t> messages;  // each is sent in full and its echo awaited before the next
  std::uint64_t pattern_start = 0;
  bool shutdown_after_last = false;  // half-close after the last message, then expect EOF

  // Progress, so a test may hand over a job that is already partly sent.
  std::size_t message = 0;
  std::size_t sent = 0;
  std::size_t received = 0;
  std::uint64_t completed_bytes = 0;
  bool finished = false;
  std::string error;  // non-empty: the job failed (mismatch, unexpected EOF, socket error)
};

struct DriveResult {
  std::size_t finished = 0;
  std::size_t failed = 0;
  std::string first_error;
};

// Runs all jobs concurrently with poll() until each finishes or fails, or the timeout passes.
DriveResult drive_echo(std::vector<EchoJob>& jobs, std::chrono::milliseconds timeout);

}  // namespace muxbench::testing
