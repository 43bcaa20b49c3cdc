#pragma once

// Helpers of the sweep's result models: fields a result file leaves out (rather than writing null)
// when there is nothing to say.
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

// A key that may be absent (older files) or null: both read as nullopt.
template <class T>
std::optional<T> get_nullable(const nlohmann::json& j, const std::string& key) {
  if (!j.contains(key) || j.at(key).is_null()) return std::nullopt;
  return j.at(key).get<T>();
}

}  // namespace muxbench
