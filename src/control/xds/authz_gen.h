#pragma once
// AuthorizationPolicy -> Envoy RBAC, as Istio's authz builder: the policies that apply to a
// workload (mesh-wide in the root namespace, its namespace's, the ones whose selector matches
// it) become one RBAC filter per action, AUDIT (shadow rules), then DENY, then ALLOW; an ALLOW
// filter with no matching policy denies. Each rule is a policy "ns[NS]-policy[NAME]-rule[I]":
// its `to` operations are permissions, its `from` sources principals, its `when` conditions join
// whichever they concern. JWT attributes (requestPrincipals, request.auth.*) match the payload
// jwt_authn leaves in dynamic metadata.
//
// HTTP connection managers get envoy.filters.http.rbac; TCP chains get envoy.filters.network.rbac,
// where HTTP-only fields (hosts, methods, paths, request headers, JWT) cannot be seen: as Istio,
// an ALLOW rule using one is left out (it allows less), a DENY or AUDIT rule drops just that
// field (it denies more).
#include <vector>

#include "control/model/mesh_model.h"
#include "control/xds/proxy_info.h"
#include "envoy/config/listener/v3/listener_components.pb.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h"

namespace weft::control::xds {

// The RBAC filters for `proxy`'s inbound HTTP connection managers (none without policies).
std::vector<envoy::extensions::filters::network::http_connection_manager::v3::HttpFilter> authzHttpFilters(
    const MeshModel& model, const ProxyInfo& proxy);
// The RBAC network filters for `proxy`'s inbound TCP chains, to go before tcp_proxy.
std::vector<envoy::config::listener::v3::Filter> authzNetworkFilters(const MeshModel& model, const ProxyInfo& proxy);

}  // namespace weft::control::xds
