#pragma once
// YAML (or JSON, which is YAML) -> JSON text, and JSON/YAML -> protobuf messages with
// protobuf's own JSON parser, so Envoy's field names and `typed_config` Any types work as
// in Envoy. Plain YAML scalars stay strings: protobuf's parser accepts quoted numbers and
// booleans for numeric and bool fields, and strings must not turn into numbers.
#include <google/protobuf/message.h>

#include <string>

#include "common/config/error.h"

namespace weft::config {

// `source` names the input in errors (a file path, "xDS resource", ...).
std::string yamlToJson(const std::string& text, const std::string& source);

void jsonToMessage(const std::string& json, google::protobuf::Message& msg, const std::string& source);

// Reads a .yaml/.yml/.json file into msg.
void loadMessageFromFile(const std::string& path, google::protobuf::Message& msg);

// `defaults`: also print fields holding their default value (e.g. an enum's first value).
std::string messageToJson(const google::protobuf::Message& msg, bool pretty = true, bool defaults = false);

}  // namespace weft::config
