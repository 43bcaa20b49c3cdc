#pragma once

// What every result model needs at the JSON boundary: std::optional as null-or-value, and enums
// spelled as the strings the result files use.
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

namespace nlohmann {

template <class T>
struct adl_serializer<std::optional<T>> {
  static void to_json(json& j, const std::optional<T>& value) {
    if (value) {
      j = *value;
    } else {
      j = nullptr;
    }
  }
  static void from_json(const json& j, std::optional<T>& value) {
    if (j.is_null()) {
      value.reset();
    } else {
      value = j.get<T>();
    }
  }
};

}  // namespace nlohmann

// An enum written as strings, like NLOHMANN_JSON_SERIALIZE_ENUM, except that a string it does not
// know is an error rather than the first value: an unknown status must never read as "ok".
#define MUXBENCH_JSON_ENUM(EnumType, ...)                                                          \
  inline constexpr std::pair<EnumType, const char*> muxbench_spellings_##EnumType[] = __VA_ARGS__; \
  inline void to_json(nlohmann::json& j, const EnumType& value) {                                  \
    for (const auto& [known, text] : muxbench_spellings_##EnumType) {                              \
      if (known == value) {                                                                        \
        j = text;                                                                                  \
        return;                                                                                    \
      }                                                                                            \
    }                                                                                              \
    throw std::invalid_argument("no spelling for a value of " #EnumType);                          \
  }                                                                                                \
  inline void from_json(const nlohmann::json& j, EnumType& value) {                                \
    const std::string text = j.get<std::string>();                                                 \
    for (const auto& [known, spelling] : muxbench_spellings_##EnumType) {                          \
      if (text == spelling) {                                                                      \
        value = known;                                                                             \
        return;                                                                                    \
      }                                                                                            \
    }                                                                                              \
    throw std::invalid_argument("'" + text + "' is not a known " #EnumType);                       \
  }

namespace muxbench {

// The string an enum is written as in the result files (for messages and tables).
template <class Enum>
std::string enum_name(Enum value) {
  return nlohmann::json(value).template get<std::string>();
}

}  // namespace muxbench
