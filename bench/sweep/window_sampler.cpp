#include "bench/sweep/window_sampler.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>
#include <system_error>
#include <thread>

#include "common/clock.hpp"

namespace muxbench {
namespace {

int g_wake_write_fd = -1;

extern "C" void on_window_edge(int) {
  const int saved_errno = errno;
  const char byte = 'e';
  [[maybe_unused]] const auto ignored = ::write(g_wake_write_fd, &byte, 1);
  errno = saved_errno;
}

}  // namespace

struct WindowSampler::State {
  int wake_read_fd = -1;
  int stop_read_fd = -1;
  int stop_write_fd = -1;
  std::mutex mutex;
  pid_t server = -1;
  std::vector<Sample> samples;
  std::thread thread;

  void loop() {
    pollfd fds[2] = {{wake_read_fd, POLLIN, 0}, {stop_read_fd, POLLIN, 0}};
    for (;;) {
      if (::poll(fds, 2, -1) < 0 && errno != EINTR) return;
      if (fds[1].revents != 0) return;
      if (fds[0].revents == 0) continue;
      const std::int64_t now = monotonic_ns();  // first, so the sample is close to the edge
      char bytes[16];
      while (::read(wake_read_fd, bytes, sizeof bytes) > 0) {
      }
      std::lock_guard lock(mutex);
      if (server <= 0) continue;
      if (const auto usage = sample_process_tree(server)) samples.push_back({now, *usage});
    }
  }
};

WindowSampler::WindowSampler() : state_(std::make_unique<State>()) {
  int wake[2], stop[2];
  if (::pipe2(wake, O_NONBLOCK | O_CLOEXEC) != 0 || ::pipe2(stop, O_CLOEXEC) != 0) {
    throw std::system_error(errno, std::generic_category(), "pipe2");
  }
  state_->wake_read_fd = wake[0];
  g_wake_write_fd = wake[1];
  state_->stop_read_fd = stop[0];
  state_->stop_write_fd = stop[1];
  struct sigaction action {};
  action.sa_handler = on_window_edge;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  ::sigaction(SIGUSR1, &action, nullptr);
  state_->thread = std::thread([this] { state_->loop(); });
}

WindowSampler::~WindowSampler() {
  ::signal(SIGUSR1, SIG_IGN);
  const char byte = 's';
  [[maybe_unused]] const auto ignored = ::write(state_->stop_write_fd, &byte, 1);
  state_->thread.join();
  for (const int fd :
       {state_->wake_read_fd, g_wake_write_fd, state_->stop_read_fd, state_->stop_write_fd}) {
    ::close(fd);
  }
  g_wake_write_fd = -1;
}

void WindowSampler::edge() {
  if (g_wake_write_fd >= 0) on_window_edge(SIGUSR1);
}

void WindowSampler::arm(pid_t server) {
  std::lock_guard lock(state_->mutex);
  state_->server = server;
  state_->samples.clear();
}

std::vector<WindowSampler::Sample> WindowSampler::disarm() {
  std::lock_guard lock(state_->mutex);
  state_->server = -1;
  return std::move(state_->samples);
}

}  // namespace muxbench
