#include "common/subprocess.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>
#include <thread>
#include <utility>

#include "common/deadline.hpp"

namespace muxbench {
namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void throw_errno(const char* what) {
  throw std::system_error(errno, std::generic_category(), what);
}

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// Runs in the forked child: only async-signal-safe calls until exec.
[[noreturn]] void exec_child(char* const* argv, const SpawnOptions& options, int stdout_w,
                             int stderr_w, int report_w) {
  if (options.kill_with_parent) ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (options.own_process_group) ::setpgid(0, 0);
  if (options.cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(*options.cpu, &set);
    ::sched_setaffinity(0, sizeof set, &set);
  }
  if (stdout_w >= 0) ::dup2(stdout_w, STDOUT_FILENO);
  if (stderr_w >= 0) ::dup2(stderr_w, STDERR_FILENO);
  if (options.fd_limit) {
    const rlimit limit{*options.fd_limit, *options.fd_limit};
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
  ::execv(argv[0], argv);
  const int error = errno;
  [[maybe_unused]] const auto ignored = ::write(report_w, &error, sizeof error);
  ::_exit(127);
}

}  // namespace

Subprocess Subprocess::spawn(const std::vector<std::string>& argv, const SpawnOptions& options) {
  std::vector<char*> raw_argv;
  for (const auto& arg : argv) raw_argv.push_back(const_cast<char*>(arg.c_str()));
  raw_argv.push_back(nullptr);

  int out[2] = {-1, -1}, err[2] = {-1, -1}, report[2] = {-1, -1};
  if (options.capture_stdout && ::pipe2(out, O_CLOEXEC) != 0) throw_errno("pipe");
  if (options.capture_stderr && ::pipe2(err, O_CLOEXEC) != 0) throw_errno("pipe");
  if (::pipe2(report, O_CLOEXEC) != 0) throw_errno("pipe");

  Subprocess child;
  child.pid_ = ::fork();
  if (child.pid_ < 0) throw_errno("fork");
  if (child.pid_ == 0) exec_child(raw_argv.data(), options, out[1], err[1], report[1]);
  child.own_process_group_ = options.own_process_group;
  if (options.own_process_group) ::setpgid(child.pid_, child.pid_);  // whichever runs first

  close_fd(out[1]);
  close_fd(err[1]);
  close_fd(report[1]);
  child.stdout_fd_ = out[0];
  child.stderr_fd_ = err[0];
  int exec_error = 0;
  ssize_t n;
  do {
    n = ::read(report[0], &exec_error, sizeof exec_error);
  } while (n < 0 && errno == EINTR);
  close_fd(report[0]);
  if (n == sizeof exec_error) {
    child.wait(std::chrono::seconds(5));
    throw std::system_error(exec_error, std::generic_category(), "cannot execute " + argv.at(0));
  }
  return child;
}

Subprocess::Subprocess(Subprocess&& other) noexcept { *this = std::move(other); }

Subprocess& Subprocess::operator=(Subprocess&& other) noexcept {
  if (this != &other) {
    release();
    pid_ = std::exchange(other.pid_, -1);
    own_process_group_ = std::exchange(other.own_process_group_, false);
    stdout_fd_ = std::exchange(other.stdout_fd_, -1);
    stderr_fd_ = std::exchange(other.stderr_fd_, -1);
    stdout_buffer_ = std::move(other.stdout_buffer_);
    stderr_buffer_ = std::move(other.stderr_buffer_);
    exit_status_ = std::exchange(other.exit_status_, std::nullopt);
    terminating_signal_ = std::exchange(other.terminating_signal_, std::nullopt);
  }
  return *this;
}

Subprocess::~Subprocess() { release(); }

void Subprocess::release() {
  if (running()) {
    ::kill(own_process_group_ ? -pid_ : pid_, SIGKILL);
    wait(std::chrono::seconds(10));
  }
  close_fd(stdout_fd_);
  close_fd(stderr_fd_);
  pid_ = -1;
}

bool Subprocess::pump(Clock::time_point deadline) {
  pollfd fds[2] = {{stdout_fd_, POLLIN, 0}, {stderr_fd_, POLLIN, 0}};
  std::string* buffers[2] = {&stdout_buffer_, &stderr_buffer_};
  int* owners[2] = {&stdout_fd_, &stderr_fd_};
  if (stdout_fd_ < 0 && stderr_fd_ < 0) return false;
  const int ready = ::poll(fds, 2, milliseconds_until(deadline));
  if (ready < 0) return errno == EINTR;
  if (ready == 0) return false;
  for (int i = 0; i < 2; ++i) {
    if (fds[i].fd < 0 || fds[i].revents == 0) continue;
    char chunk[4096];
    const ssize_t n = ::read(fds[i].fd, chunk, sizeof chunk);
    if (n > 0) {
      buffers[i]->append(chunk, static_cast<std::size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      close_fd(*owners[i]);
    }
  }
  return true;
}

std::optional<std::string> Subprocess::read_line(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    if (const auto newline = stdout_buffer_.find('\n'); newline != std::string::npos) {
      std::string line = stdout_buffer_.substr(0, newline);
      stdout_buffer_.erase(0, newline + 1);
      return line;
    }
    if (stdout_fd_ < 0 || !pump(deadline)) return std::nullopt;
  }
}

std::string Subprocess::drain_stdout(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (pump(deadline)) {
  }
  return std::exchange(stdout_buffer_, {});
}

std::string Subprocess::drain_stderr(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (pump(deadline)) {
  }
  return std::exchange(stderr_buffer_, {});
}

bool Subprocess::send_signal(int signal_number) const {
  return running() && ::kill(own_process_group_ ? -pid_ : pid_, signal_number) == 0;
}

std::optional<int> Subprocess::wait(std::chrono::milliseconds timeout) {
  if (exit_status_ || pid_ <= 0) return exit_status_;
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    int status = 0;
    const pid_t done = ::waitpid(pid_, &status, WNOHANG);
    if (done == pid_) {
      // What it started goes with it (its group outlives it only while a member lives).
      if (own_process_group_) ::kill(-pid_, SIGKILL);
      exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      if (WIFSIGNALED(status)) terminating_signal_ = WTERMSIG(status);
      return exit_status_;
    }
    if (done < 0 && errno != EINTR) return std::nullopt;
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

CommandResult run_command(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                          SpawnOptions options) {
  options.capture_stdout = true;
  options.capture_stderr = true;
  auto child = Subprocess::spawn(argv, options);
  const auto deadline = Clock::now() + timeout;
  CommandResult result;
  result.out = child.drain_stdout(timeout);
  result.err = child.drain_stderr(std::chrono::milliseconds(0));
  result.exit_code = child.wait(std::chrono::milliseconds(milliseconds_until(deadline)));
  result.signal = child.terminating_signal();
  return result;
}

std::string signal_description(int signal_number) {
  const char* name = ::sigdescr_np(signal_number);
  return name ? fmt::format("signal {} ({})", signal_number, name)
              : fmt::format("signal {}", signal_number);
}

std::string exit_description(int exit_code, std::optional<int> terminating_signal) {
  return terminating_signal ? "killed by " + signal_description(*terminating_signal)
                            : fmt::format("exited with code {}", exit_code);
}

}  // namespace muxbench
