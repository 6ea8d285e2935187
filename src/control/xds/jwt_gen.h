#pragma once
// RequestAuthentication -> envoy.filters.http.jwt_authn, as Istio builds it: one provider per
// JWT rule of the policies that apply to the workload (root namespace, its namespace, matching
// selector), "origins-N"; the one rule requires any of them or no token at all, so a request
// without a token passes (AuthorizationPolicy decides) and a bad token is 401.
#include <optional>

#include "control/model/mesh_model.h"
#include "control/xds/proxy_info.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h"

namespace weft::control::xds {

std::optional<envoy::extensions::filters::network::http_connection_manager::v3::HttpFilter> jwtHttpFilter(
    const MeshModel& model, const ProxyInfo& proxy);

}  // namespace weft::control::xds
