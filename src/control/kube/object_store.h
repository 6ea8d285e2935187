#pragma once
// The objects the watches hold now, by kind, namespace and name. Written by the watch thread,
// read by the reload; an object is immutable once stored (an update stores a new one), and
// decodes itself once, when a reload first needs it, so a burst of updates to one object
// costs one decode.
#include <nlohmann/json.hpp>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "control/config/config_snapshot.h"

namespace weft::control::kube {

class KubeObject {
 public:
  // `json` with its kind and apiVersion set (LIST items come without them).
  explicit KubeObject(nlohmann::json json);
  const std::string& kind() const { return kind_; }
  const std::string& ns() const { return ns_; }
  const std::string& name() const { return name_; }
  const std::string& resourceVersion() const { return resource_version_; }
  const nlohmann::json& json() const { return json_; }
  // Decoded through the one validation path (decodeResource); Istio's warnings are logged the
  // first time. Thread-safe.
  const DecodeResult& decoded() const;

 private:
  std::string kind_, ns_, name_, resource_version_;
  nlohmann::json json_;
  mutable std::once_flag decode_once_;
  mutable DecodeResult decoded_;
};

class ObjectStore {
 public:
  explicit ObjectStore(std::function<void()> on_change) : on_change_(std::move(on_change)) {}
  // A LIST's result: the kind's objects become exactly these.
  void replace(const std::string& kind, std::vector<std::shared_ptr<const KubeObject>> objects);
  void put(std::shared_ptr<const KubeObject> object);                                    // ADDED, MODIFIED
  void remove(const std::string& kind, const std::string& ns, const std::string& name);  // DELETED
  std::vector<std::shared_ptr<const KubeObject>> all() const;                            // by kind, namespace, name
  size_t size() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<const KubeObject>> objects_;  // "kind/ns/name"
  std::function<void()> on_change_;
};

// Adds the store's objects to a snapshot after the directory's: the accepted ones, and the
// rejected ones with their errors (source "kubernetes").
void addKubernetesObjects(const ObjectStore& store, ConfigSnapshot& out);

}  // namespace weft::control::kube
