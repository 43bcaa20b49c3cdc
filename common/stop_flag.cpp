#include "common/stop_flag.hpp"

#include <signal.h>
#include <unistd.h>

#include "common/exit_codes.hpp"

namespace muxbench {
namespace {

std::atomic<bool> g_stop{false};

extern "C" void on_stop_signal(int) {
  if (g_stop.exchange(true)) ::_exit(kExitInterrupted);
}

}  // namespace

const std::atomic<bool>& stop_requested() { return g_stop; }

void install_stop_handlers() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGINT, &action, nullptr);
  ::sigaction(SIGTERM, &action, nullptr);
}

}  // namespace muxbench
