#include "common/config/yaml_json.h"

#include <google/protobuf/util/json_util.h>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace weft::config {

namespace {

nlohmann::json toJson(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return nullptr;
    case YAML::NodeType::Scalar:
      // A quoted or plain scalar alike: protobuf's JSON parser converts strings to the
      // field's type and reports a precise error when it cannot.
      if (node.Tag() == "?" && (node.Scalar() == "~" || node.Scalar() == "null")) return nullptr;
      return node.Scalar();
    case YAML::NodeType::Sequence: {
      nlohmann::json arr = nlohmann::json::array();
      for (const auto& item : node) arr.push_back(toJson(item));
      return arr;
    }
    case YAML::NodeType::Map: {
      nlohmann::json obj = nlohmann::json::object();
      for (const auto& kv : node) obj[kv.first.as<std::string>()] = toJson(kv.second);
      return obj;
    }
  }
  return nullptr;
}

}  // namespace

std::string yamlToJson(const std::string& text, const std::string& source) {
  try {
    YAML::Node root = YAML::Load(text);
    return toJson(root).dump();
  } catch (const YAML::Exception& e) {
    std::ostringstream msg;
    msg << source << ": YAML error at line " << (e.mark.line + 1) << ", column " << (e.mark.column + 1) << ": "
        << e.msg;
    throw ConfigError(msg.str());
  }
}

void jsonToMessage(const std::string& json, google::protobuf::Message& msg, const std::string& source) {
  google::protobuf::util::JsonParseOptions opts;
  opts.ignore_unknown_fields = false;
  auto status = google::protobuf::util::JsonStringToMessage(json, &msg, opts);
  if (!status.ok()) {
    throw ConfigError(source + ": not a valid " + msg.GetDescriptor()->full_name() + ": " +
                      std::string(status.message()));
  }
}

void loadMessageFromFile(const std::string& path, google::protobuf::Message& msg) {
  std::ifstream in(path);
  if (!in) throw ConfigError(path + ": cannot read the file");
  std::stringstream ss;
  ss << in.rdbuf();
  jsonToMessage(yamlToJson(ss.str(), path), msg, path);
}

std::string messageToJson(const google::protobuf::Message& msg, bool pretty, bool defaults) {
  google::protobuf::util::JsonPrintOptions opts;
  opts.always_print_primitive_fields = defaults;
  opts.add_whitespace = pretty;
  opts.preserve_proto_field_names = true;
  std::string out;
  auto status = google::protobuf::util::MessageToJsonString(msg, &out, opts);
  if (!status.ok()) return "{\"error\": \"cannot render config: " + std::string(status.message()) + "\"}";
  return out;
}

}  // namespace weft::config
