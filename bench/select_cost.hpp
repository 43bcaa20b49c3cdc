#pragma once

#include <nlohmann/json.hpp>

namespace muxbench {

// What sets select's cost and what sets its limit, measured on this machine (claims.json's
// "select_cost"): the number of descriptors watched, and the highest descriptor number.
nlohmann::json select_cost_by_number();

}  // namespace muxbench
