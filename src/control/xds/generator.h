#pragma once
// Mesh model + proxy -> Envoy xDS resources, named as Istio names them:
//   clusters   outbound|PORT|SUBSET|HOST (EDS, or STRICT_DNS / ORIGINAL_DST for ServiceEntries)
//   endpoints  one ClusterLoadAssignment per EDS cluster, a locality with load_balancing_weight
//   listeners  0.0.0.0_PORT (HTTP, RDS "PORT") and VIP_PORT (TCP) for sidecars (wildcard
//              subscription); HOST:PORT api_listeners for proxyless gRPC (named subscription)
//   routes     "PORT" (every HTTP service on the port) or "HOST:PORT" (one service)
// Resources depend only on the model, the proxy and the requested names, so the same inputs
// give the same bytes: a push is skipped when nothing a proxy sees changed.
#include <google/protobuf/any.pb.h>

#include <map>
#include <string>
#include <vector>

#include "common/xds/type_urls.h"
#include "control/model/mesh_model.h"
#include "control/xds/proxy_info.h"

namespace weft::control::xds {

using weft::xds::kClusterType;
using weft::xds::kEndpointType;
using weft::xds::kListenerType;
using weft::xds::kRouteType;

using ResourceMap = std::map<std::string, google::protobuf::Any>;

// `names` empty means a wildcard subscription.
ResourceMap generate(const std::string& type_url, const MeshModel& model, const ProxyInfo& proxy,
                     const std::vector<std::string>& names);

ResourceMap generateClusters(const MeshModel& model, const ProxyInfo& proxy, const std::vector<std::string>& names);
ResourceMap generateEndpoints(const MeshModel& model, const ProxyInfo& proxy, const std::vector<std::string>& names);
ResourceMap generateListeners(const MeshModel& model, const ProxyInfo& proxy, const std::vector<std::string>& names);
ResourceMap generateRoutes(const MeshModel& model, const ProxyInfo& proxy, const std::vector<std::string>& names);

struct ClusterName {
  std::string direction;  // outbound / inbound
  uint32_t port = 0;
  std::string subset;
  std::string host;
  static bool parse(const std::string& name, ClusterName& out);
  std::string str() const;
};

// A "HOST:PORT" resource name (proxyless gRPC's listener and route names) -> the service port,
// or null when there is no such service port.
const MeshPort* servicePortByName(const MeshModel& model, const std::string& name, const MeshService** svc);

// The services a proxy may reach (Sidecar egress scoping; everything when none applies).
std::vector<const MeshService*> visibleServices(const MeshModel& model, const ProxyInfo& proxy);

}  // namespace weft::control::xds
