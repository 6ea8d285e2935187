#include "ctl/kube_inject.h"

#include <yaml-cpp/yaml.h>

#include <iostream>
#include <sstream>

#include "common/config/yaml_typed.h"
#include "common/json_shape.h"

namespace weft::ctl {

using nlohmann::json;

namespace {

// Where a kind keeps its pod: the object itself (Pod) or a template inside it.
json* podOf(json& doc, const std::string& kind) {
  static const char* const kTemplated[] = {"Deployment", "StatefulSet", "DaemonSet",
                                           "ReplicaSet", "Job",         "ReplicationController"};
  if (kind == "Pod") return &doc;
  for (const char* k : kTemplated)
    if (kind == k) return doc.contains("spec") ? &doc["spec"]["template"] : nullptr;
  if (kind == "CronJob" && doc.contains("spec") && doc["spec"].contains("jobTemplate"))
    return &doc["spec"]["jobTemplate"]["spec"]["template"];
  return nullptr;
}

// What is read of a document before its pod: the pod itself is checked by injectPod.
const json& documentShape() {
  static const json pod_template = {{"metadata", json::object()}, {"spec", json::object()}};
  static const json shape = {
      {"apiVersion", "string"},
      {"kind", "string"},
      {"metadata", {{"name", "string"}, {"namespace", "string"}}},
      {"spec", {{"template", pod_template}, {"jobTemplate", {{"spec", {{"template", pod_template}}}}}}}};
  return shape;
}

}  // namespace

int kubeInject(std::istream& in, std::ostream& out, std::ostream& err, const inject::InjectionConfig& config) {
  std::stringstream text;
  text << in.rdbuf();
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(text.str());
  } catch (const YAML::Exception& e) {
    err << "weftctl kube-inject: YAML error at line " << e.mark.line + 1 << ", column " << e.mark.column + 1 << ": "
        << e.msg << "\n";
    return 1;
  }
  int rc = 0;
  bool first = true;
  for (size_t i = 0; i < docs.size(); ++i) {
    if (!docs[i] || docs[i].IsNull()) continue;
    json doc = config::yamlToTypedJson(docs[i]);
    if (auto e = doc.is_object() ? jsonShapeError(doc, documentShape(), "") : std::nullopt) {
      err << "weftctl kube-inject: document " << i + 1 << ": " << *e << "\n";
      rc = 1;
      continue;
    }
    const std::string kind = doc.is_object() ? doc.value("kind", "") : "";
    const std::string name = doc.is_object() && doc.contains("metadata") && doc["metadata"].is_object()
                                 ? doc["metadata"].value("name", "")
                                 : "";
    if (json* pod = doc.is_object() ? podOf(doc, kind) : nullptr) {
      json& meta = (*pod)["metadata"];
      json& spec = (*pod)["spec"];
      if (!spec.is_object()) {
        err << "weftctl kube-inject: document " << i + 1 << " (" << kind << " " << name
            << "): no pod spec to inject into\n";
        rc = 1;
      } else if (auto why = inject::skipReason(meta.is_object() ? meta : json::object(), spec)) {
        err << "weftctl kube-inject: " << kind << " " << name << " left as it is: " << *why << "\n";
      } else {
        inject::Workload w;
        w.api_version = doc.value("apiVersion", "v1");
        w.kind = kind;
        w.name = name;
        if (doc["metadata"].contains("namespace") && doc["metadata"]["namespace"].is_string())
          w.ns = doc["metadata"]["namespace"];
        try {
          inject::injectPod(meta, spec, w, config);
        } catch (const std::invalid_argument& e) {
          err << "weftctl kube-inject: document " << i + 1 << " (" << kind << " " << name << "): " << e.what() << "\n";
          rc = 1;
          continue;
        }
      }
    }
    if (!first) out << "---\n";
    first = false;
    out << config::jsonToYaml(doc);
  }
  return rc;
}

}  // namespace weft::ctl
