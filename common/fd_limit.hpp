#pragma once

#include <cstdint>

namespace muxbench {

struct FdLimit {
  std::uint64_t soft = 0;
  std::uint64_t hard = 0;
};

FdLimit current_fd_limit();

// Benchmarks need as many descriptors as the system allows: raise the soft RLIMIT_NOFILE to the
// hard one (an unprivileged process may always do that) and return the limit now in force.
FdLimit raise_fd_limit_to_hard();

}  // namespace muxbench
