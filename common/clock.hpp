#pragma once

#include <sys/resource.h>
#include <time.h>

#include <cstdint>

namespace muxbench {

// CLOCK_MONOTONIC in nanoseconds: every window edge, deadline and latency is on this clock.
// Inline: the load generator reads it around every message.
inline std::int64_t monotonic_ns() {
  timespec now;
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return now.tv_sec * 1'000'000'000LL + now.tv_nsec;
}

// Sleeps until a CLOCK_MONOTONIC time. Returns EINTR when a signal cut it short (the caller
// decides whether to check a stop flag or sleep again), 0 otherwise.
inline int sleep_until_ns(std::int64_t deadline_ns) {
  const timespec deadline{deadline_ns / 1'000'000'000LL, deadline_ns % 1'000'000'000LL};
  return ::clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline, nullptr);
}

struct CpuSeconds {
  double user = 0;
  double system = 0;
  double total() const { return user + system; }
};

// getrusage(who): RUSAGE_SELF for the process, RUSAGE_THREAD for the calling thread.
inline CpuSeconds cpu_seconds(int who) {
  rusage usage{};
  ::getrusage(who, &usage);
  const auto seconds = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
  };
  return {seconds(usage.ru_utime), seconds(usage.ru_stime)};
}

}  // namespace muxbench
