#pragma once

#include <gtest/gtest.h>

#include <string>

namespace muxbench::testing {

inline const auto kAllBackends = ::testing::Values(
    std::string("select"), std::string("poll"), std::string("epoll-lt"), std::string("epoll-et"),
    std::string("asio"), std::string("uring-poll"), std::string("uring"));

// gtest test names may not contain '-'.
inline std::string backend_test_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string name = info.param;
  for (char& c : name) {
    if (c == '-') c = '_';
  }
  return name;
}

}  // namespace muxbench::testing
