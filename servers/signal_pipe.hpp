#pragma once

#include <vector>

namespace muxbench {

// Turns SIGUSR1 (snapshot), SIGINT and SIGTERM (stop) into bytes on a pipe that the raw backends
// watch like any other descriptor, so a signal can never slip in between checking a flag and
// blocking in the wait call.
class SignalPipe {
 public:
  SignalPipe();  // installs the handlers; one instance per process
  SignalPipe(const SignalPipe&) = delete;
  SignalPipe& operator=(const SignalPipe&) = delete;
  ~SignalPipe();  // restores the default handlers

  int read_fd() const { return read_fd_; }
  // The signal numbers received since the last call.
  std::vector<int> take();

 private:
  int read_fd_ = -1;
};

}  // namespace muxbench
