#pragma once
// The Envoy v3 resource type URLs both ends of ADS use.
namespace weft::xds {

inline constexpr const char* kListenerType = "type.googleapis.com/envoy.config.listener.v3.Listener";
inline constexpr const char* kClusterType = "type.googleapis.com/envoy.config.cluster.v3.Cluster";
inline constexpr const char* kEndpointType = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";
inline constexpr const char* kRouteType = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration";

}  // namespace weft::xds
