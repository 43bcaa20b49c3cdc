#include "common/fd_limit.hpp"

#include <sys/resource.h>

namespace muxbench {

FdLimit current_fd_limit() {
  rlimit limit{};
  ::getrlimit(RLIMIT_NOFILE, &limit);
  return {limit.rlim_cur, limit.rlim_max};
}

FdLimit raise_fd_limit_to_hard() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
  return current_fd_limit();
}

}  // namespace muxbench
