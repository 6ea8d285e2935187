#pragma once
// The shape of JSON from a peer, checked before it is read: nlohmann's typed reads throw on a
// value of another type, and a peer may send anything. A shape is JSON too:
//   "string" | "boolean" | "integer" | "number" | "port" (an integer or a port name) | "any"
//   {"key": shape, ...}   an object; listed keys, when present, have their shape; others are free
//   {"*": shape}          an object whose every value has the shape
//   [shape]               an array whose every item has the shape
// A null value stands for an absent one (as Kubernetes reads it, and as YAML writes "labels:"
// with nothing after it): it is removed, so that the reads that follow see the field absent.
#include <nlohmann/json.hpp>

#include <optional>
#include <string>

namespace weft {

// The first place where `value` does not have `shape`, as "path: must be ..." (path from
// `path`, "a.b[0].c"); nullopt when it has.
std::optional<std::string> jsonShapeError(nlohmann::json& value, const nlohmann::json& shape, const std::string& path);

}  // namespace weft
