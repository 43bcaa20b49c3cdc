#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <random>
#include <vector>

#include "tests/support/echo_clients.hpp"

namespace muxbench::testing {

// `clients` jobs on fresh connections (from `connect`), each with `messages` log-uniform sizes
// from 1 B to 1 MiB (many small messages, some large enough for partial writes), distinct
// pattern offsets, and a full 1 MiB message appended to the first. Deterministic for a seed.
// (tests/echo_server_test.cpp builds the same jobs inline; it can use this too.)
inline std::vector<EchoJob> random_size_echo_jobs(std::size_t clients, int messages,
                                                  const std::function<int()>& connect,
                                                  std::uint64_t seed = 42) {
  std::mt19937_64 random(seed);
  std::uniform_real_distribution<double> log2_size(0.0, 20.0);
  std::vector<EchoJob> jobs(clients);
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    jobs[i].fd = connect();
    jobs[i].pattern_start = i * 7919;
    for (int m = 0; m < messages; ++m) {
      jobs[i].messages.push_back(static_cast<std::size_t>(std::exp2(log2_size(random))));
    }
  }
  if (!jobs.empty()) jobs[0].messages.push_back(1 << 20);
  return jobs;
}

}  // namespace muxbench::testing
