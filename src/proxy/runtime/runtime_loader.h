#pragma once
// The bootstrap's layered_runtime on the main thread: static layers (google.protobuf.Struct,
// flattened to dotted keys as Envoy does) and at most one admin layer that /runtime_modify
// changes. Without layered_runtime there are no layers, as in Envoy.
// Each change produces a new Snapshot for the workers.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "envoy/config/bootstrap/v3/bootstrap.pb.h"
#include "proxy/runtime/runtime_snapshot.h"

namespace weft::proxy::runtime {

class Loader {
 public:
  // Throws ConfigError naming the path of a bad entry ("layered_runtime.layers[0].static_layer...").
  explicit Loader(const envoy::config::bootstrap::v3::Bootstrap& bootstrap);

  std::shared_ptr<const Snapshot> snapshot() const { return snapshot_; }
  bool hasAdminLayer() const { return admin_index_ >= 0; }
  size_t adminOverrides() const { return hasAdminLayer() ? layers_[admin_index_].values.size() : 0; }
  size_t layerCount() const { return layers_.size(); }

  // key=value pairs into the admin layer; an empty value removes the key. Requires an admin layer.
  void modify(const std::vector<std::pair<std::string, std::string>>& changes);

  // Envoy's /runtime body: {"layers": [...], "entries": {key: {"layer_values": [...], "final_value": v}}}.
  std::string renderJson() const;

 private:
  struct Layer {
    std::string name;
    std::map<std::string, Value, std::less<>> values;
  };
  void rebuild();

  std::vector<Layer> layers_;
  int admin_index_ = -1;
  std::shared_ptr<const Snapshot> snapshot_;
};

}  // namespace weft::proxy::runtime
