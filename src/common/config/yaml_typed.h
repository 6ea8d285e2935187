#pragma once
// Kubernetes objects between YAML and JSON with their types: plain YAML scalars become numbers,
// booleans or null as YAML 1.2's core schema reads them (quoted ones stay strings), and JSON is
// written back as block YAML whose strings stay strings ("8080" quoted, 8080 not).
#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>
#include <string>

namespace weft::config {

nlohmann::json yamlToTypedJson(const YAML::Node& node);
std::string jsonToYaml(const nlohmann::json& value);

}  // namespace weft::config
