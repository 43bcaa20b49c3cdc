#include "servers/uring_ring.hpp"

#include <fmt/format.h>

#include <cstring>

namespace muxbench {

UringRing::UringRing(unsigned entries) {
  if (const int result = init_single_thread_ring(entries, ring_); result < 0) {
    throw UringUnavailable(
        fmt::format("io_uring is not available here: {}", std::strerror(-result)));
  }
}

}  // namespace muxbench
