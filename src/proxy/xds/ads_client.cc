#include "proxy/xds/ads_client.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "envoy/service/discovery/v3/discovery.pb.h"

namespace weft::proxy::xds {

using envoy::service::discovery::v3::DiscoveryRequest;
using envoy::service::discovery::v3::DiscoveryResponse;

AdsClient::AdsClient(event::Reactor& reactor, const net::Address& server, envoy::config::core::v3::Node node,
                     XdsApplier& applier, bool cds, bool lds)
    : node_(std::move(node)),
      applier_(applier),
      cds_(cds),
      lds_(lds),
      client_(reactor, server, server.toString(),
              "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources", *this) {}

void AdsClient::start() { client_.start(); }

void AdsClient::onStreamReady() {
  status_.connected = true;
  node_sent_ = false;
  for (auto& [type, ts] : types_) {
    ts.nonce.clear();
    ts.requested = false;  // a new stream knows none of our subscriptions
  }
  // Clusters first, then listeners (what Envoy does); EDS and RDS follow from them. After a
  // reconnect, the versions we hold tell the server what we already have.
  if (cds_) request(kClusterType);
  if (lds_) request(kListenerType);
  updateSubscriptions();
}

void AdsClient::onStreamClosed(int grpc_status, const std::string& message) {
  status_.connected = false;
  status_.last_error = "grpc-status " + std::to_string(grpc_status) + ": " + message;
  spdlog::warn("xDS stream to {} closed ({}); the last good config keeps serving; reconnecting",
               client_.server().toString(), status_.last_error);
}

void AdsClient::request(const std::string& type, const std::string* error) {
  TypeState& ts = types_[type];
  DiscoveryRequest req;
  if (!node_sent_) {
    *req.mutable_node() = node_;
    node_sent_ = true;
  }
  req.set_type_url(type);
  req.set_version_info(ts.accepted_version);
  req.set_response_nonce(ts.nonce);
  for (const auto& n : ts.names) req.add_resource_names(n);
  if (error != nullptr) {
    req.mutable_error_detail()->set_code(3);  // INVALID_ARGUMENT
    req.mutable_error_detail()->set_message(*error);
  }
  ts.requested = true;
  client_.send(req);
}

// EDS and RDS subscriptions follow the accepted clusters and listeners.
void AdsClient::updateSubscriptions() {
  for (const char* type : {kEndpointType, kRouteType}) {
    auto names = applier_.wantedNames(type);
    std::sort(names.begin(), names.end());
    TypeState& ts = types_[type];
    if (names == ts.names && (ts.requested || names.empty())) continue;
    ts.names = names;
    request(type);
  }
}

void AdsClient::onMessage(std::string_view bytes) {
  DiscoveryResponse resp;
  if (!resp.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    spdlog::warn("xDS: cannot parse a DiscoveryResponse ({} bytes)", bytes.size());
    return;
  }
  const std::string& type = resp.type_url();
  bool subscribed =
      (type == kClusterType && cds_) || (type == kListenerType && lds_) || type == kEndpointType || type == kRouteType;
  if (!subscribed) {
    TypeState& ts = types_[type];
    ts.nonce = resp.nonce();
    std::string err = "weft-proxy does not subscribe to " + type;
    request(type, &err);
    return;
  }
  std::vector<const google::protobuf::Any*> resources;
  std::vector<std::string> errors;
  for (const auto& any : resp.resources()) {
    if (any.type_url() != type) {
      errors.push_back("a resource of type " + any.type_url() + " in a " + type + " response");
      continue;
    }
    resources.push_back(&any);
  }
  auto applied = applier_.apply(type, resources, resp.version_info());
  errors.insert(errors.end(), applied.begin(), applied.end());
  TypeState& ts = types_[type];
  ts.nonce = resp.nonce();
  if (errors.empty()) {
    ts.accepted_version = resp.version_info();
    status_.accepted_versions[type] = ts.accepted_version;
    request(type);
  } else {
    std::string detail;
    for (const auto& e : errors) detail += (detail.empty() ? "" : "\n") + e;
    spdlog::warn("xDS: rejecting part of {} version {}:\n{}", type, resp.version_info(), detail);
    request(type, &detail);
  }
  updateSubscriptions();
}

}  // namespace weft::proxy::xds
