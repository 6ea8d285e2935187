#pragma once
// Istio's telemetry in a sidecar's HTTP chains, as istiod builds it: the peer metadata exchange
// (istio.metadata_exchange: io.istio.http.peer_metadata.Config as a TypedStruct) first, the
// standard metrics (istio.stats: stats.PluginConfig) just before the router; and the `istio`
// cluster metadata (services: host, name, namespace) that names destination_service.
#include <optional>
#include <vector>

#include "control/model/mesh_model.h"
#include "control/xds/proxy_info.h"
#include "envoy/config/accesslog/v3/accesslog.pb.h"
#include "envoy/config/cluster/v3/cluster.pb.h"
#include "envoy/config/listener/v3/listener_components.pb.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h"

namespace weft::control::xds {

// Inbound: learns the client from the request, answers with this workload's metadata.
// Outbound: sends this workload's metadata (not outside the mesh), learns the server.
envoy::extensions::filters::network::http_connection_manager::v3::HttpFilter peerMetadataFilter(bool inbound);
// istio.stats with the metric overrides the Telemetry API gives the proxy's inbound or outbound
// side; none when its metrics are off. Inbound: no Host header fallback for destination_service
// (Istio's disableHostHeaderFallback).
std::optional<envoy::extensions::filters::network::http_connection_manager::v3::HttpFilter> istioStatsFilter(
    const MeshModel& model, const ProxyInfo& proxy, bool inbound);
// Istio's TCP metadata exchange (ALPN istio-peer-exchange): the network filter of an inbound
// mutual TLS TCP chain, and the upstream filter of an outbound TCP cluster.
envoy::config::listener::v3::Filter tcpMetadataExchangeFilter();
envoy::config::cluster::v3::Filter tcpClusterMetadataExchange();
// istio.stats for a TCP chain (before tcp_proxy): Istio's TCP metrics.
std::optional<envoy::config::listener::v3::Filter> istioTcpStatsFilter(const MeshModel& model, const ProxyInfo& proxy,
                                                                       bool inbound);
// Istio's HCM `tracing` for the proxy's side: the Telemetry API's tracing provider (Zipkin,
// its collector an outbound cluster) with its sampling and tags, else meshConfig.enableTracing's
// sampling without a provider, else none. Istio's tags: istio.canonical_service,
// istio.canonical_revision, istio.namespace, istio.mesh_id, istio.cluster_id.
void setTracing(envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager& hcm,
                const MeshModel& model, const ProxyInfo& proxy, bool inbound);
// The route decorator Istio gives a service's routes: "<host>:<port>/*".
std::string routeOperation(const std::string& host, uint32_t port);
// The access logs of the proxy's inbound or outbound HCMs and tcp_proxies: the Telemetry API's
// providers, else meshConfig.accessLogFile (Istio's text or JSON format), else none.
std::vector<envoy::config::accesslog::v3::AccessLog> accessLogs(const MeshModel& model, const ProxyInfo& proxy,
                                                                bool inbound);
// filter_metadata["istio"] = {services: [{host, name, namespace}], external: true outside the mesh}.
void setIstioServiceMetadata(envoy::config::cluster::v3::Cluster& c, const MeshService& svc);

}  // namespace weft::control::xds
