#include "control/kube/object_store.h"

#include <spdlog/spdlog.h>
#include <yaml-cpp/yaml.h>

namespace weft::control::kube {

namespace {

std::string member(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// Scalars become plain YAML scalars: the decoders read numbers and booleans from their text,
// as they read them from a file.
YAML::Node toYaml(const nlohmann::json& j) {
  switch (j.type()) {
    case nlohmann::json::value_t::object: {
      YAML::Node n(YAML::NodeType::Map);
      for (const auto& [k, v] : j.items()) n[k] = toYaml(v);
      return n;
    }
    case nlohmann::json::value_t::array: {
      YAML::Node n(YAML::NodeType::Sequence);
      for (const auto& v : j) n.push_back(toYaml(v));
      return n;
    }
    case nlohmann::json::value_t::string:
      return YAML::Node(j.get<std::string>());
    case nlohmann::json::value_t::null:
      return YAML::Node(YAML::NodeType::Null);
    default:
      return YAML::Node(j.dump());
  }
}

std::string keyOf(const std::string& kind, const std::string& ns, const std::string& name) {
  return kind + "/" + ns + "/" + name;
}

}  // namespace

KubeObject::KubeObject(nlohmann::json json) : json_(std::move(json)) {
  kind_ = member(json_, "kind");
  auto md = json_.find("metadata");
  if (md != json_.end() && md->is_object()) {
    ns_ = member(*md, "namespace");
    name_ = member(*md, "name");
    resource_version_ = member(*md, "resourceVersion");
  }
}

const DecodeResult& KubeObject::decoded() const {
  std::call_once(decode_once_, [this] {
    decoded_ = decodeResource(toYaml(json_));
    if (decoded_.errors.empty()) {
      for (const auto& w : decoded_.warnings)
        spdlog::warn("kubernetes {} {}/{} (resourceVersion {}): {}", kind_, ns_, name_, resource_version_, w);
    }
  });
  return decoded_;
}

void ObjectStore::replace(const std::string& kind, std::vector<std::shared_ptr<const KubeObject>> objects) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    std::string prefix = kind + "/";
    for (auto it = objects_.lower_bound(prefix); it != objects_.end() && it->first.starts_with(prefix);)
      it = objects_.erase(it);
    for (auto& o : objects) {
      std::string key = keyOf(o->kind(), o->ns(), o->name());
      objects_[key] = std::move(o);
    }
  }
  on_change_();
}

void ObjectStore::put(std::shared_ptr<const KubeObject> object) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    objects_[keyOf(object->kind(), object->ns(), object->name())] = std::move(object);
  }
  on_change_();
}

void ObjectStore::remove(const std::string& kind, const std::string& ns, const std::string& name) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    objects_.erase(keyOf(kind, ns, name));
  }
  on_change_();
}

std::vector<std::shared_ptr<const KubeObject>> ObjectStore::all() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::shared_ptr<const KubeObject>> out;
  out.reserve(objects_.size());
  for (const auto& [key, o] : objects_) out.push_back(o);
  return out;
}

size_t ObjectStore::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return objects_.size();
}

void addKubernetesObjects(const ObjectStore& store, ConfigSnapshot& out) {
  for (const auto& o : store.all()) {
    const DecodeResult& r = o->decoded();
    addDecoded(r, SourceRef{"kubernetes", 0, o->kind(), r.ns, r.name}, out);
  }
}

}  // namespace weft::control::kube
