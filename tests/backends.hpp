#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/backend_table.hpp"

namespace muxbench::testing {

inline std::vector<std::string> all_backend_names() {
  std::vector<std::string> names;
  for (const auto& backend : kBackendTable) names.emplace_back(backend.name);
  return names;
}

// Every backend of the table, in its order.
inline const auto kAllBackends = ::testing::ValuesIn(all_backend_names());

// gtest test names may not contain '-'.
inline std::string backend_test_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string name = info.param;
  for (char& c : name) {
    if (c == '-') c = '_';
  }
  return name;
}

}  // namespace muxbench::testing
