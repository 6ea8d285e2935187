#pragma once
// Kubernetes as a config source: one reflector per watched type, all on one thread, into one
// ObjectStore. The reload adds the store's objects to the directory's (addTo).
#include <array>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/kube/api_client.h"
#include "control/kube/object_store.h"
#include "control/kube/reflector.h"

namespace boost::asio {
class io_context;
}

namespace weft::control::kube {

class KubeSource {
 public:
  // `on_change` is called on the watch thread after each change to the store.
  KubeSource(weft::kube::ApiServer server, ReflectorOptions options, std::function<void()> on_change);
  ~KubeSource();
  void start();
  void stop();  // ends the watches (on_change is not called after it); the store stays readable
  // True once every type has been listed (false when `timeout` passed first).
  bool waitForSync(std::chrono::milliseconds timeout) const;
  bool synced() const;
  void addTo(ConfigSnapshot& out) const {
    out.endpoints_controller = true;
    addKubernetesObjects(store_, out);
  }
  std::string metrics() const;  // Prometheus text
  const weft::kube::ApiClient& client() const { return client_; }

 private:
  weft::kube::ApiClient client_;
  ReflectorOptions options_;
  ObjectStore store_;
  std::array<ReflectorStats, kWatchedTypeCount> stats_;
  std::vector<std::unique_ptr<Reflector>> reflectors_;
  std::unique_ptr<boost::asio::io_context> io_;
  std::thread thread_;
};

}  // namespace weft::control::kube
