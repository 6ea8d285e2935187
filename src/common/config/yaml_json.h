#pragma once
// YAML (or JSON, which is YAML) -> JSON text, and JSON/YAML -> protobuf messages with
// protobuf's own JSON parser, so Envoy's field names and `typed_config` Any types work as
// in Envoy. Plain YAML scalars stay strings: protobuf's parser accepts quoted numbers and
// booleans for numeric and bool fields, and strings must not turn into numbers.
#include <google/protobuf/message.h>

#include <string>
#include <vector>

#include "common/config/error.h"

namespace weft::config {

// `source` names the input in errors (a file path, "xDS resource", ...).
std::string yamlToJson(const std::string& text, const std::string& source);

// Enum names are matched case-insensitively (`type: strict_dns`), as Envoy parses them.
void jsonToMessage(const std::string& json, google::protobuf::Message& msg, const std::string& source);

// A google.protobuf.Any in a JSON document: its "@type" (without the URL prefix), its path
// from the root in proto field names ("static_resources.listeners[0].filter_chains[0]
// .filters[0].typed_config") and the `name` of the object holding it, if any. Lets a caller
// name an Any whose type it does not know before protobuf's parser fails on it with a path
// relative to the Any.
struct AnyType {
  std::string path;
  std::string type;
  std::string owner_name;
};
std::vector<AnyType> anyTypes(const std::string& json);

// Reads a .yaml/.yml/.json file into msg.
void loadMessageFromFile(const std::string& path, google::protobuf::Message& msg);
// The file as JSON text (for anyTypes), then jsonToMessage.
std::string readFileAsJson(const std::string& path);

// `defaults`: also print fields holding their default value (e.g. an enum's first value).
std::string messageToJson(const google::protobuf::Message& msg, bool pretty = true, bool defaults = false);

}  // namespace weft::config
