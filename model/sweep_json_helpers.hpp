#pragma once

// Helpers of the sweep's result models: fields a result file leaves out (rather than writing null)
// when there is nothing to say, and an enum's spelling (its NLOHMANN_JSON_SERIALIZE_ENUM string).
#include <optional>
#include <string>

#include "model/json_support.hpp"

namespace muxbench {

template <class T>
void put_if_present(nlohmann::json& j, const std::string& key, const std::optional<T>& value) {
  if (value) j[key] = *value;
}

template <class T>
std::optional<T> get_if_present(const nlohmann::json& j, const std::string& key) {
  if (!j.contains(key)) return std::nullopt;
  return j.at(key).get<T>();
}

// The string an enum is written as in the result files (for messages and tables).
template <class Enum>
std::string enum_name(Enum value) {
  return nlohmann::json(value).template get<std::string>();
}

}  // namespace muxbench
