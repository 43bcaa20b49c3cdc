#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>

namespace muxbench {

// What any process costs, measured from outside through /proc, the same way for every server
// (ours and foreign ones): nothing here needs the process's cooperation.
struct ProcessUsage {
  // CPU time of every thread now alive, from /proc/PID/task/*/schedstat: nanoseconds, exact.
  std::uint64_t cpu_ns = 0;
  // CPU time of the whole process from /proc/PID/stat (utime + stime, threads that exited
  // included), in clock ticks turned into nanoseconds: coarse (10 ms at USER_HZ 100).
  std::uint64_t cpu_ticks_ns = 0;
  std::uint64_t rss_bytes = 0;
  std::uint64_t open_fds = 0;
  std::uint64_t threads = 0;
  std::uint64_t processes = 1;
};

// nullopt when the process is gone (or /proc does not show it).
std::optional<ProcessUsage> sample_process(pid_t pid);

// The process and every descendant, summed: a server that forks workers, or a template that runs
// it under a shell without exec, costs what its whole tree costs. Children already reaped count
// through their parents' cutime + cstime (clock ticks), in cpu_ns too.
std::optional<ProcessUsage> sample_process_tree(pid_t root);

}  // namespace muxbench
