#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace muxbench {

struct SpawnOptions {
  bool capture_stdout = true;
  bool capture_stderr = false;
  // Sets both the soft and the hard RLIMIT_NOFILE of the child (to simulate a small limit).
  std::optional<std::uint64_t> fd_limit;
  // The child gets SIGKILL if this process dies first, so no server outlives a crashed test.
  bool kill_with_parent = true;
  // The child leads a process group of its own: signals reach every process it starts (a shell's
  // children, forked workers), and none of them outlives it.
  bool own_process_group = false;
  // Pinned to this CPU before exec, so every process it starts inherits the CPU.
  std::optional<int> cpu;
};

// A child process with optional pipes on its stdout/stderr. Every blocking call takes a timeout,
// so a misbehaving child can never hang its caller. The destructor kills and reaps the child.
class Subprocess {
 public:
  // Throws std::system_error when the program cannot be started (fork or exec failure).
  static Subprocess spawn(const std::vector<std::string>& argv, const SpawnOptions& options = {});

  Subprocess(Subprocess&& other) noexcept;
  Subprocess& operator=(Subprocess&& other) noexcept;
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;
  ~Subprocess();

  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0 && !exit_status_; }

  // One line of the child's stdout without its newline; nullopt on end of file or timeout.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout);

  bool send_signal(int signal_number) const;

  // The exit code (128 + signal number when killed by a signal), or nullopt on timeout.
  std::optional<int> wait(std::chrono::milliseconds timeout);

  // Once wait() saw the child end: the signal that killed it, nullopt if it exited (137 from
  // wait() is either SIGKILL or `exit(137)`; this tells them apart).
  std::optional<int> terminating_signal() const { return terminating_signal_; }

  // Reads both captured streams until the child closes them or the timeout passes, and returns
  // everything not yet consumed from one of them.
  std::string drain_stdout(std::chrono::milliseconds timeout);
  std::string drain_stderr(std::chrono::milliseconds timeout);

 private:
  Subprocess() = default;
  // Reads whatever either captured stream has; false once both are closed or time is up.
  bool pump(std::chrono::steady_clock::time_point deadline);
  void release();

  pid_t pid_ = -1;
  bool own_process_group_ = false;
  int stdout_fd_ = -1;
  int stderr_fd_ = -1;
  std::string stdout_buffer_;
  std::string stderr_buffer_;
  std::optional<int> exit_status_;
  std::optional<int> terminating_signal_;
};

// "signal 11 (Segmentation fault)"
std::string signal_description(int signal_number);

// How a child ended, for a reason text: "exited with code 3", "killed by signal 9 (Killed)".
std::string exit_description(int exit_code, std::optional<int> terminating_signal);

struct CommandResult {
  std::optional<int> exit_code;  // nullopt: timed out and was killed
  std::optional<int> signal;     // the signal that ended it (exit_code is then 128 + signal)
  std::string out;
  std::string err;
};

// Runs a command to completion with both streams captured.
CommandResult run_command(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                          SpawnOptions options = {});

}  // namespace muxbench
