#pragma once

#include <stdexcept>

#include "common/exit_codes.hpp"

namespace muxbench {

// A problem with what the user asked for (bad option, port in use, limit too low): exit code 2.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace muxbench
