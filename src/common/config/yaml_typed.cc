#include "common/config/yaml_typed.h"

#include <cerrno>
#include <cstdlib>
#include <string_view>

namespace weft::config {

namespace {

bool digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

// [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
bool isFloat(std::string_view s) {
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) s.remove_prefix(1);
  size_t e = s.find_first_of("eE");
  std::string_view mantissa = s.substr(0, e);
  if (e != std::string_view::npos) {
    std::string_view exp = s.substr(e + 1);
    if (!exp.empty() && (exp[0] == '-' || exp[0] == '+')) exp.remove_prefix(1);
    if (!digits(exp)) return false;
  }
  size_t dot = mantissa.find('.');
  if (dot == std::string_view::npos) return digits(mantissa);
  std::string_view whole = mantissa.substr(0, dot), frac = mantissa.substr(dot + 1);
  return whole.empty() ? digits(frac) : digits(whole) && (frac.empty() || digits(frac));
}

// YAML 1.2 core schema: what a plain scalar means.
nlohmann::json plainScalar(const std::string& s) {
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  std::string_view body = s;
  if (body[0] == '-' || body[0] == '+') body.remove_prefix(1);
  if (digits(body)) {
    errno = 0;
    long long v = std::strtoll(s.c_str(), nullptr, 10);
    if (errno == 0) return v;
  }
  if (isFloat(s)) return std::strtod(s.c_str(), nullptr);
  return s;
}

// A string that a YAML reader would take for something else, or that block YAML cannot hold plain.
bool needsQuotes(const std::string& s) {
  if (s.empty() || !plainScalar(s).is_string() || s.back() == ' ') return true;
  auto safe = [](char c, bool first) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '/')
      return true;
    return !first && (c == '-' || c == ' ' || c == ',' || c == '(' || c == ')' || c == '+' || c == '=' || c == '@');
  };
  for (size_t i = 0; i < s.size(); ++i)
    if (!safe(s[i], i == 0)) return true;
  return false;
}

void emit(YAML::Emitter& out, const nlohmann::json& v) {
  switch (v.type()) {
    case nlohmann::json::value_t::object:
      out << YAML::BeginMap;
      for (const auto& [k, e] : v.items()) {
        out << YAML::Key;
        if (needsQuotes(k)) out << YAML::DoubleQuoted;
        out << k << YAML::Value;
        emit(out, e);
      }
      out << YAML::EndMap;
      break;
    case nlohmann::json::value_t::array:
      out << YAML::BeginSeq;
      for (const auto& e : v) emit(out, e);
      out << YAML::EndSeq;
      break;
    case nlohmann::json::value_t::string: {
      const std::string& s = v.get_ref<const std::string&>();
      if (s.find('\n') != std::string::npos) {
        out << YAML::Literal << s;
      } else {
        if (needsQuotes(s)) out << YAML::DoubleQuoted;
        out << s;
      }
      break;
    }
    case nlohmann::json::value_t::null:
      out << YAML::Null;
      break;
    default:
      out << v.dump();  // numbers and booleans as JSON writes them, which YAML reads back alike
      break;
  }
}

}  // namespace

nlohmann::json yamlToTypedJson(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      nlohmann::json out = nlohmann::json::object();
      for (const auto& kv : node) out[kv.first.as<std::string>()] = yamlToTypedJson(kv.second);
      return out;
    }
    case YAML::NodeType::Sequence: {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& e : node) out.push_back(yamlToTypedJson(e));
      return out;
    }
    case YAML::NodeType::Scalar:
      return node.Tag() == "!" ? nlohmann::json(node.Scalar()) : plainScalar(node.Scalar());
    default:
      return nullptr;
  }
}

std::string jsonToYaml(const nlohmann::json& value) {
  YAML::Emitter out;
  out.SetIndent(2);
  out.SetSeqFormat(YAML::Block);
  out.SetMapFormat(YAML::Block);
  emit(out, value);
  return std::string(out.c_str()) + "\n";
}

}  // namespace weft::config
