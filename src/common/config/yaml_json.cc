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

// lowerCamel JSON names to the proto names errors use elsewhere.
std::string protoName(const std::string& key) {
  std::string out;
  for (char c : key) {
    if (c >= 'A' && c <= 'Z') {
      out += '_';
      out += static_cast<char>(c - 'A' + 'a');
    } else {
      out += c;
    }
  }
  return out;
}

void collectAnyTypes(const nlohmann::json& j, const std::string& path, const std::string& owner,
                     std::vector<AnyType>& out) {
  if (j.is_array()) {
    for (size_t i = 0; i < j.size(); ++i) collectAnyTypes(j[i], path + "[" + std::to_string(i) + "]", "", out);
    return;
  }
  if (!j.is_object()) return;
  if (auto t = j.find("@type"); t != j.end() && t->is_string()) {
    std::string type = t->get<std::string>();
    out.push_back({path, type.substr(type.rfind('/') == std::string::npos ? 0 : type.rfind('/') + 1), owner});
  }
  std::string name;
  if (auto n = j.find("name"); n != j.end() && n->is_string()) name = n->get<std::string>();
  for (const auto& [key, value] : j.items()) {
    if (key == "@type") continue;
    std::string k = protoName(key);
    collectAnyTypes(value, path.empty() ? k : path + "." + k, k == "typed_config" ? name : "", out);
  }
}

}  // namespace

std::vector<AnyType> anyTypes(const std::string& json) {
  std::vector<AnyType> out;
  auto j = nlohmann::json::parse(json, nullptr, false);
  if (!j.is_discarded()) collectAnyTypes(j, "", "", out);
  return out;
}

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
  opts.case_insensitive_enum_parsing = true;
  auto status = google::protobuf::util::JsonStringToMessage(json, &msg, opts);
  if (!status.ok()) {
    throw ConfigError(source + ": not a valid " + msg.GetDescriptor()->full_name() + ": " +
                      std::string(status.message()));
  }
}

std::string readFileAsJson(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ConfigError(path + ": cannot read the file");
  std::stringstream ss;
  ss << in.rdbuf();
  return yamlToJson(ss.str(), path);
}

void loadMessageFromFile(const std::string& path, google::protobuf::Message& msg) {
  jsonToMessage(readFileAsJson(path), msg, path);
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
