#pragma once
// Who is asking for configuration, from the xDS Node: Istio's node id
// "sidecar~IP~POD.NS~NS.svc.cluster.local" and metadata (NAMESPACE, LABELS, WORKLOAD_NAME).
#include <string>

#include "control/config/kinds.h"
#include "envoy/config/core/v3/base.pb.h"

namespace weft::control {

struct ProxyInfo {
  std::string id;
  std::string type;  // "sidecar", "router", ...
  std::string ip;
  std::string pod;
  std::string ns = "default";
  Labels labels;
  std::string cluster_id, mesh_id;  // node metadata CLUSTER_ID, MESH_ID (span tags)
  std::string locality;             // "region/zone/subzone": the Node's locality, else its locality label
  // Istio's INTERCEPTION_MODE=NONE: no traffic capture, so outbound listeners bind their ports.
  bool capture_none = false;
  // A proxyless gRPC client (node metadata GENERATOR=grpc, as Istio's agent writes it).
  bool proxyless_grpc = false;
  // It has a workload certificate over SDS (`sds-grpc`): node metadata WEFT_SDS=true, as
  // weft-agent writes it when it has a CA, or ISTIO_VERSION (pilot-agent always serves SDS).
  // Only such proxies get Istio's mTLS config; the others stay plaintext.
  bool sds = false;

  static ProxyInfo fromNode(const envoy::config::core::v3::Node& node);
};

}  // namespace weft::control
