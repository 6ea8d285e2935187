#pragma once
// weftd's debug and monitoring endpoints (Istio's 15014): /debug/syncz, /debug/configz,
// /metrics, /ready.
#include <atomic>
#include <functional>
#include <memory>

#include "common/http/admin_server.h"
#include "control/config/config_snapshot.h"
#include "control/xds/ads_server.h"

namespace weft::control {

struct DebugState {
  xds::AdsServer* ads = nullptr;
  std::function<std::string()> ca_metrics;    // the CA's counters, when the CA runs
  std::function<std::string()> kube_metrics;  // the Kubernetes watches', when they run
  std::atomic<std::shared_ptr<const ConfigSnapshot>> config;
  std::atomic<uint64_t> config_reloads{0};
  std::atomic<bool> ready{false};
};

void addDebugHandlers(weft::http::AdminServer& server, DebugState& state);

// The rejected resources as one line each: "FILE#DOC KIND NS/NAME: error; error".
std::string describeRejected(const ConfigSnapshot& config);

}  // namespace weft::control
