#include <spdlog/spdlog.h>

#include <deque>

#include "control/xds/ads_stream.h"

namespace weft::control::xds {

using envoy::service::discovery::v3::DeltaDiscoveryRequest;
using envoy::service::discovery::v3::DeltaDiscoveryResponse;

// Incremental xDS: a response carries only resources that changed for this proxy, plus the
// names of those that went away; subscriptions change by name.
class AdsServer::DeltaStream final : public ReactorStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse> {
 public:
  using ReactorStream::ReactorStream;

 private:
  void handle(const DeltaDiscoveryRequest& req) override {
    if (!learnNode(req)) return;
    const std::string& type = req.type_url();
    if (type != kClusterType && type != kEndpointType && type != kListenerType && type != kRouteType) return;
    TypeState& ts = types_[type];
    if (!req.response_nonce().empty()) {
      const std::string* error = req.has_error_detail() ? &req.error_detail().message() : nullptr;
      handleAck(ts, req.response_nonce(), ts.sent_version, error, type);
    }
    bool first = !ts.subscribed;
    bool changed = false;
    std::vector<std::string> names = ts.names ? ts.names->names : std::vector<std::string>{};
    if (first) {
      ts.subscribed = true;
      // Envoy's rule: a first request naming nothing is a wildcard subscription (LDS/CDS).
      ts.wildcard = req.resource_names_subscribe().empty() && (type == kClusterType || type == kListenerType);
      for (const auto& [name, version] : req.initial_resource_versions()) ts.sent_hashes[name] = 0;  // unknown content
    }
    for (const auto& n : req.resource_names_subscribe()) {
      if (n == "*") {
        ts.wildcard = true;
      } else if (std::find(names.begin(), names.end(), n) == names.end()) {
        names.push_back(n);
      }
      changed = true;
    }
    for (const auto& n : req.resource_names_unsubscribe()) {
      if (n == "*") ts.wildcard = false;
      names.erase(std::remove(names.begin(), names.end(), n), names.end());
      ts.sent_hashes.erase(n);
    }
    std::sort(names.begin(), names.end());
    ts.names = server_.intern(std::move(names));
    if (first || changed) push(server_.model(), type, ts, first);
  }

  void push(const std::shared_ptr<const MeshModel>& model, const std::string& type, TypeState& ts,
            bool force) override {
    // Not wildcard and no names: subscribed to nothing (an empty list means "all" to generate()).
    static const auto kNothing = std::make_shared<const Generated>();
    static const AdsServer::NameList kAll;  // id 0: no names, i.e. everything
    auto gen = (ts.wildcard || !ts.names->names.empty())
                   ? server_.generated(model, type, proxy_, ts.wildcard ? kAll : *ts.names)
                   : kNothing;
    DeltaDiscoveryResponse resp;
    resp.set_type_url(type);
    std::string version = gen->version.empty() ? versionOf({}) : gen->version;
    resp.set_system_version_info(version);
    for (const auto& [name, any] : gen->resources) {
      uint64_t h = gen->hashes.at(name);
      auto it = ts.sent_hashes.find(name);
      if (it != ts.sent_hashes.end() && it->second == h) continue;
      ts.sent_hashes[name] = h;
      auto* r = resp.add_resources();
      r->set_name(name);
      char buf[17];
      snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(h));
      r->set_version(buf);
      *r->mutable_resource() = any;
    }
    for (auto it = ts.sent_hashes.begin(); it != ts.sent_hashes.end();) {
      if (gen->resources.count(it->first) == 0) {
        resp.add_removed_resources(it->first);
        it = ts.sent_hashes.erase(it);
      } else {
        ++it;
      }
    }
    ts.sent_count = ts.sent_hashes.size();
    if (!force && resp.resources_size() == 0 && resp.removed_resources_size() == 0) return;
    ts.sent_version = version;
    send(std::move(resp), type, ts);
  }
};

grpc::ServerBidiReactor<DeltaDiscoveryRequest, DeltaDiscoveryResponse>* AdsServer::DeltaAggregatedResources(
    grpc::CallbackServerContext* context) {
  auto* s = new DeltaStream(*this, next_id_++, context->peer());
  add(s);
  return s;
}

}  // namespace weft::control::xds
