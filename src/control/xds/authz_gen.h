#pragma once
// AuthorizationPolicy -> envoy.filters.http.rbac, as Istio's authz builder: the policies that
// apply to a workload (mesh-wide in the root namespace, its namespace's, the ones whose selector
// matches it) become one RBAC filter per action, DENY before ALLOW, in front of the router; an
// ALLOW filter with no matching policy denies; AUDIT policies are shadow rules (counted only).
// Each rule is a policy "ns[NS]-policy[NAME]-rule[I]": its `to` operations are permissions,
// its `from` sources principals, its `when` conditions join whichever they concern.
#include <vector>

#include "control/model/mesh_model.h"
#include "control/xds/proxy_info.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h"

namespace weft::control::xds {

// The RBAC filters for `proxy`'s inbound HTTP connection managers (none without policies).
std::vector<envoy::extensions::filters::network::http_connection_manager::v3::HttpFilter> authzHttpFilters(
    const MeshModel& model, const ProxyInfo& proxy);
// Whether any ALLOW or DENY policy applies to `proxy` (TCP ports are then closed: weft-proxy has
// no network RBAC yet, and failing closed is the safe side of the policy).
bool authzApplies(const MeshModel& model, const ProxyInfo& proxy);

}  // namespace weft::control::xds
