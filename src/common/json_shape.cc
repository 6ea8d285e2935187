#include "common/json_shape.h"

#include <iterator>

namespace weft {

using nlohmann::json;

namespace {

std::string child(const std::string& path, const std::string& key) { return path.empty() ? key : path + "." + key; }

std::optional<std::string> mustBe(const std::string& path, const char* what) {
  return (path.empty() ? std::string("document") : path) + ": must be " + what;
}

// Removes the members of `obj` that are null (they read as absent).
void dropNulls(json& obj) {
  for (auto it = obj.begin(); it != obj.end();) {
    it = it->is_null() ? obj.erase(it) : std::next(it);
  }
}

}  // namespace

std::optional<std::string> jsonShapeError(json& value, const json& shape, const std::string& path) {
  if (value.is_null()) return std::nullopt;
  if (shape.is_string()) {
    const std::string& t = shape.get_ref<const std::string&>();
    if (t == "string" && !value.is_string()) return mustBe(path, "a string");
    if (t == "boolean" && !value.is_boolean()) return mustBe(path, "true or false");
    if (t == "integer" && !value.is_number_integer()) return mustBe(path, "an integer");
    if (t == "number" && !value.is_number()) return mustBe(path, "a number");
    if (t == "port" && !value.is_number_integer() && !value.is_string())
      return mustBe(path, "a port number or a port name");
    return std::nullopt;
  }
  if (shape.is_array()) {
    if (!value.is_array()) return mustBe(path, "a list");
    for (const auto& item : value) {
      if (item.is_null() && !shape[0].is_string()) return mustBe(path + "[]", "an object, not null");
    }
    for (size_t i = 0; i < value.size(); ++i) {
      if (auto e = jsonShapeError(value[i], shape[0], path + "[" + std::to_string(i) + "]")) return e;
    }
    return std::nullopt;
  }
  if (!value.is_object()) return mustBe(path, "an object");
  if (shape.empty()) return std::nullopt;
  dropNulls(value);
  if (auto any = shape.find("*"); any != shape.end()) {
    for (auto& [k, v] : value.items()) {
      if (auto e = jsonShapeError(v, *any, path + "[" + k + "]")) return e;
    }
    return std::nullopt;
  }
  for (const auto& [k, s] : shape.items()) {
    if (auto it = value.find(k); it != value.end()) {
      if (auto e = jsonShapeError(*it, s, child(path, k))) return e;
    }
  }
  return std::nullopt;
}

}  // namespace weft
