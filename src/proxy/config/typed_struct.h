#pragma once
// Istio sends its own filters' configs as a TypedStruct (xds.type.v3 or udpa.type.v1): a type
// name and its fields as a Struct. HTTP and network filters are looked up by that type.
#include <google/protobuf/any.pb.h>
#include <google/protobuf/struct.pb.h>

#include <optional>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

namespace weft::proxy::config {

// The type a TypedStruct names and its value; nullopt when `any` is not one.
std::optional<std::pair<std::string, google::protobuf::Struct>> typedStruct(const google::protobuf::Any& any);
// The type `any` configures: a TypedStruct's named type, else its own type URL.
std::string configuredType(const google::protobuf::Any& any);
// A TypedStruct's value as JSON (the Struct's fields); throws ConfigError naming `path` when
// `any` is not a TypedStruct.
nlohmann::json typedStructJson(const google::protobuf::Any& any, const std::string& path);

}  // namespace weft::proxy::config
