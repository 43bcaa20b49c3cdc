#include "servers/uring_ring.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <system_error>

namespace muxbench {

UringRing::UringRing(unsigned entries) {
  io_uring_params params{};
  // One thread submits everything; completions are processed when it enters the kernel, which
  // is when it asks for them anyway (kernel >= 6.1; older kernels get the plain flags).
  params.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
  int result = io_uring_queue_init_params(entries, &ring_, &params);
  if (result == -EINVAL) {
    params = io_uring_params{};
    result = io_uring_queue_init_params(entries, &ring_, &params);
  }
  if (result < 0) {
    throw UringUnavailable(
        fmt::format("io_uring is not available here: {}", std::strerror(-result)));
  }
}

void UringRing::submit_queued() {
  if (const int result = io_uring_submit(&ring_); result < 0) {
    throw std::system_error(-result, std::generic_category(), "io_uring_submit");
  }
}

bool UringRing::submit_and_wait(int timeout_ms) {
  io_uring_cqe* cqe = nullptr;
  int result;
  if (timeout_ms < 0) {
    result = io_uring_submit_and_wait(&ring_, 1);
  } else {
    __kernel_timespec timeout{timeout_ms / 1000, (timeout_ms % 1000) * 1'000'000LL};
    result = io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &timeout, nullptr);
  }
  return result >= 0;
}

}  // namespace muxbench
