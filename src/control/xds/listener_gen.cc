#include <set>

#include "control/model/mtls_policy.h"
#include "control/xds/authz_gen.h"
#include "control/xds/generator.h"
#include "control/xds/istio_mtls.h"
#include "control/xds/jwt_gen.h"
#include "control/xds/pack.h"
#include "control/xds/telemetry_gen.h"
#include "envoy/config/listener/v3/listener.pb.h"
#include "envoy/extensions/filters/http/cors/v3/cors.pb.h"
#include "envoy/extensions/filters/http/fault/v3/fault.pb.h"
#include "envoy/extensions/filters/http/router/v3/router.pb.h"
#include "envoy/extensions/filters/listener/original_dst/v3/original_dst.pb.h"
#include "envoy/extensions/filters/listener/tls_inspector/v3/tls_inspector.pb.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h"
#include "envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.pb.h"

namespace weft::control::xds {

namespace hcmv3 = envoy::extensions::filters::network::http_connection_manager::v3;
namespace lv3 = envoy::config::listener::v3;

namespace {

// `sidecar`: a sidecar's outbound chain; else a proxyless gRPC client's API listener, whose
// clients take only the filters they implement (the router).
hcmv3::HttpConnectionManager hcmWithRds(const std::string& stat_prefix, const std::string& route_name,
                                        const MeshModel& model, const ProxyInfo& proxy, bool sidecar) {
  hcmv3::HttpConnectionManager hcm;
  hcm.set_stat_prefix(stat_prefix);
  hcm.set_codec_type(hcmv3::HttpConnectionManager::AUTO);
  auto* rds = hcm.mutable_rds();
  rds->set_route_config_name(route_name);
  rds->mutable_config_source()->mutable_ads();
  rds->mutable_config_source()->set_resource_api_version(envoy::config::core::v3::V3);
  if (sidecar) {
    // As Istio's sidecar outbound chain: the metadata exchange; CORS and fault with empty
    // configs, the routes' own (typed_per_filter_config, from VirtualService corsPolicy / fault)
    // applying; the standard metrics; the router last.
    *hcm.add_http_filters() = peerMetadataFilter(false);
    auto* cors = hcm.add_http_filters();
    cors->set_name("envoy.filters.http.cors");
    pack(*cors->mutable_typed_config(), envoy::extensions::filters::http::cors::v3::Cors());
    auto* fault = hcm.add_http_filters();
    fault->set_name("envoy.filters.http.fault");
    pack(*fault->mutable_typed_config(), envoy::extensions::filters::http::fault::v3::HTTPFault());
    if (auto stats = istioStatsFilter(model, proxy, false)) *hcm.add_http_filters() = std::move(*stats);
    for (auto& log : accessLogs(model, proxy, false)) *hcm.add_access_log() = std::move(log);
    setTracing(hcm, model, proxy, false);
  }
  auto* router = hcm.add_http_filters();
  router->set_name("envoy.filters.http.router");
  pack(*router->mutable_typed_config(), envoy::extensions::filters::http::router::v3::Router());
  return hcm;
}

void setAddress(lv3::Listener& l, const std::string& ip, uint32_t port) {
  auto* sa = l.mutable_address()->mutable_socket_address();
  sa->set_address(ip);
  sa->set_port_value(port);
}

lv3::Filter tcpProxyTo(const std::string& stat_prefix, const std::string& cluster,
                       const std::vector<envoy::config::accesslog::v3::AccessLog>& logs = {}) {
  envoy::extensions::filters::network::tcp_proxy::v3::TcpProxy tcp;
  tcp.set_stat_prefix(stat_prefix);
  tcp.set_cluster(cluster);
  for (const auto& log : logs) *tcp.add_access_log() = log;
  lv3::Filter f;
  f.set_name("envoy.filters.network.tcp_proxy");
  pack(*f.mutable_typed_config(), tcp);
  return f;
}

// One port's inbound chains, by the workload's PeerAuthentication mode for the port (Istio's
// filterchain_options.go). PERMISSIVE (the default): mutual TLS from sidecars (TLS with Istio's
// ALPNs) and plaintext on one port; for TCP also TLS the application itself speaks. STRICT:
// mutual TLS only; plaintext reaches a chain that drops it (not the passthrough). DISABLE:
// plaintext only. A proxy without a workload certificate gets plaintext whatever the mode.
void addInboundChains(lv3::Listener& vi, uint32_t port, bool http, bool sds, MtlsMode mode,
                      const std::vector<lv3::Filter>& filters) {
  auto chain = [&](const char* transport, bool istio_alpn, bool terminate) {
    auto* c = vi.add_filter_chains();
    c->set_name("0.0.0.0_" + std::to_string(port));
    auto* m = c->mutable_filter_chain_match();
    m->mutable_destination_port()->set_value(port);
    if (transport) m->set_transport_protocol(transport);
    if (istio_alpn)
      for (const auto& a : kAllIstioMtlsAlpns) m->add_application_protocols(a);
    if (terminate) *c->mutable_transport_socket() = istioMutualDownstream(http);
    // Sidecars' mutual TLS with ALPN istio-peer-exchange: Istio's TCP metadata exchange first.
    if (terminate && !http) *c->add_filters() = tcpMetadataExchangeFilter();
    for (const auto& f : filters) *c->add_filters() = f;
  };
  if (!sds || mode == MtlsMode::Disable) return chain(nullptr, false, false);
  if (mode == MtlsMode::Strict) {
    chain("tls", false, true);
    auto* refuse = vi.add_filter_chains();
    refuse->set_name("0.0.0.0_" + std::to_string(port) + "-plaintext-refused");
    refuse->mutable_filter_chain_match()->mutable_destination_port()->set_value(port);
    refuse->mutable_filter_chain_match()->set_transport_protocol("raw_buffer");
    *refuse->add_filters() = tcpProxyTo("BlackHoleCluster", "BlackHoleCluster");
    return;
  }
  chain("tls", true, true);
  if (!http) chain("tls", false, false);
  chain("raw_buffer", false, false);
}

// Istio's capture listeners: virtualOutbound (15001) hands each connection to the listener
// of its original destination, or passes it through (REGISTRY_ONLY: drops it);
// virtualInbound (15006) serves the ports of this workload's services, one chain per
// destination port, and passes other ports through to the app from 127.0.0.6.
void addCaptureListeners(const MeshModel& model, const ProxyInfo& proxy, ResourceMap& out) {
  lv3::Listener vo;
  vo.set_name("virtualOutbound");
  setAddress(vo, "0.0.0.0", 15001);
  vo.mutable_use_original_dst()->set_value(true);
  vo.set_traffic_direction(envoy::config::core::v3::OUTBOUND);
  const auto outbound_logs = accessLogs(model, proxy, false);
  *vo.add_filter_chains()->add_filters() =
      tcpProxyTo(model.registry_only ? "BlackHoleCluster" : "PassthroughCluster",
                 model.registry_only ? "BlackHoleCluster" : "PassthroughCluster", outbound_logs);
  vo.mutable_filter_chains(0)->set_name(model.registry_only ? "virtualOutbound-blackhole"
                                                            : "virtualOutbound-catchall-tcp");
  pack(out[vo.name()], vo);

  lv3::Listener vi;
  vi.set_name("virtualInbound");
  setAddress(vi, "0.0.0.0", 15006);
  vi.set_traffic_direction(envoy::config::core::v3::INBOUND);
  auto* od = vi.add_listener_filters();
  od->set_name("envoy.filters.listener.original_dst");
  pack(*od->mutable_typed_config(), envoy::extensions::filters::listener::original_dst::v3::OriginalDst());
  const MtlsPolicy mtls =
      effectiveMtls(model.config ? model.config->peer_authentications : std::vector<PeerAuthentication>{},
                    model.root_namespace, proxy.ns, proxy.labels);
  const auto inbound_logs = accessLogs(model, proxy, true);
  const auto inbound_tcp_stats = istioTcpStatsFilter(model, proxy, true);
  std::set<uint32_t> done;
  if (!proxy.ip.empty()) {
    for (const auto& [host, svc] : model.services) {
      for (const auto& port : svc.ports) {
        for (const auto& e : port.endpoints) {
          if (e.ip != proxy.ip || !done.insert(e.port).second) continue;
          std::string cluster = "inbound|" + std::to_string(port.port) + "||";
          std::vector<lv3::Filter> filters;
          if (!isHttp(port.protocol)) {
            filters = authzNetworkFilters(model, proxy);
            if (inbound_tcp_stats) filters.push_back(*inbound_tcp_stats);
          }
          auto* f = &filters.emplace_back();
          if (isHttp(port.protocol)) {
            hcmv3::HttpConnectionManager hcm;
            hcm.set_stat_prefix("inbound_0.0.0.0_" + std::to_string(e.port));
            auto* vh = hcm.mutable_route_config()->add_virtual_hosts();
            hcm.mutable_route_config()->set_name(cluster);
            vh->set_name("inbound|http|" + std::to_string(port.port));
            vh->add_domains("*");
            auto* r = vh->add_routes();
            r->set_name("default");
            r->mutable_match()->set_prefix("/");
            r->mutable_decorator()->set_operation(routeOperation(host, port.port));
            r->mutable_route()->set_cluster(cluster);
            r->mutable_route()->mutable_timeout()->set_seconds(0);
            *hcm.add_http_filters() = peerMetadataFilter(true);
            if (auto jwt = jwtHttpFilter(model, proxy)) *hcm.add_http_filters() = std::move(*jwt);
            for (auto& authz : authzHttpFilters(model, proxy)) *hcm.add_http_filters() = std::move(authz);
            if (auto stats = istioStatsFilter(model, proxy, true)) *hcm.add_http_filters() = std::move(*stats);
            for (const auto& log : inbound_logs) *hcm.add_access_log() = log;
            setTracing(hcm, model, proxy, true);
            auto* router = hcm.add_http_filters();
            router->set_name("envoy.filters.http.router");
            pack(*router->mutable_typed_config(), envoy::extensions::filters::http::router::v3::Router());
            f->set_name("envoy.filters.network.http_connection_manager");
            pack(*f->mutable_typed_config(), hcm);
          } else {
            *f = tcpProxyTo(cluster, cluster, inbound_logs);
          }
          addInboundChains(vi, e.port, isHttp(port.protocol), proxy.sds, mtls.forPort(e.port), filters);
          break;
        }
      }
    }
  }
  if (proxy.sds) {
    // Tells TLS (and its ALPN) from plaintext for the chains above.
    auto* ti = vi.add_listener_filters();
    ti->set_name("envoy.filters.listener.tls_inspector");
    pack(*ti->mutable_typed_config(), envoy::extensions::filters::listener::tls_inspector::v3::TlsInspector());
  }
  auto* fallback = vi.mutable_default_filter_chain();
  fallback->set_name("inbound-passthrough");
  // Ports no service declares are TCP to Istio too, under the workload's policies.
  for (auto& authz : authzNetworkFilters(model, proxy)) *fallback->add_filters() = std::move(authz);
  if (inbound_tcp_stats) *fallback->add_filters() = *inbound_tcp_stats;
  *fallback->add_filters() = tcpProxyTo("InboundPassthroughCluster", "InboundPassthroughCluster", inbound_logs);
  // STRICT covers the workload's other ports too: the passthrough takes mutual TLS only.
  if (proxy.sds && mtls.mode == MtlsMode::Strict) *fallback->mutable_transport_socket() = istioMutualDownstream(false);
  pack(out[vi.name()], vi);
}

}  // namespace

ResourceMap generateListeners(const MeshModel& model, const ProxyInfo& proxy, const std::vector<std::string>& names) {
  ResourceMap out;
  if (!names.empty()) {
    // Proxyless gRPC subscribes to "HOST:PORT" by name and gets an api_listener.
    for (const auto& name : names) {
      const MeshService* svc = nullptr;
      if (servicePortByName(model, name, &svc) == nullptr) continue;
      lv3::Listener l;
      l.set_name(name);
      pack(*l.mutable_api_listener()->mutable_api_listener(), hcmWithRds(name, name, model, proxy, false));
      pack(out[name], l);
    }
    return out;
  }
  // Sidecars: one HTTP listener per port (routes by Host), one TCP listener per VIP:port.
  std::set<uint32_t> http_ports;
  for (const MeshService* svc : visibleServices(model, proxy)) {
    for (const auto& port : svc->ports) {
      if (isHttp(port.protocol)) {
        if (!http_ports.insert(port.port).second) continue;
        lv3::Listener l;
        l.set_name("0.0.0.0_" + std::to_string(port.port));
        setAddress(l, "0.0.0.0", port.port);
        if (!proxy.capture_none) l.mutable_bind_to_port()->set_value(false);
        l.set_traffic_direction(envoy::config::core::v3::OUTBOUND);
        auto* f = l.add_filter_chains()->add_filters();
        f->set_name("envoy.filters.network.http_connection_manager");
        pack(*f->mutable_typed_config(), hcmWithRds(l.name(), std::to_string(port.port), model, proxy, true));
        pack(out[l.name()], l);
      } else {
        std::string ip = svc->vip.empty() ? "0.0.0.0" : svc->vip;
        lv3::Listener l;
        l.set_name(ip + "_" + std::to_string(port.port));
        if (out.count(l.name())) continue;
        setAddress(l, ip, port.port);
        if (!proxy.capture_none) l.mutable_bind_to_port()->set_value(false);
        l.set_traffic_direction(envoy::config::core::v3::OUTBOUND);
        envoy::extensions::filters::network::tcp_proxy::v3::TcpProxy tcp;
        tcp.set_stat_prefix(ClusterName{"outbound", port.port, "", svc->hostname}.str());
        tcp.set_cluster(tcp.stat_prefix());
        auto* chain = l.add_filter_chains();
        if (proxy.type == "sidecar") {
          if (auto stats = istioTcpStatsFilter(model, proxy, false)) *chain->add_filters() = std::move(*stats);
          for (const auto& log : accessLogs(model, proxy, false)) *tcp.add_access_log() = log;
        }
        auto* f = chain->add_filters();
        f->set_name("envoy.filters.network.tcp_proxy");
        pack(*f->mutable_typed_config(), tcp);
        pack(out[l.name()], l);
      }
    }
  }
  if (!proxy.capture_none && proxy.type == "sidecar") addCaptureListeners(model, proxy, out);
  return out;
}

ResourceMap generate(const std::string& type_url, const MeshModel& model, const ProxyInfo& proxy,
                     const std::vector<std::string>& names) {
  if (type_url == kClusterType) return generateClusters(model, proxy, names);
  if (type_url == kEndpointType) return generateEndpoints(model, proxy, names);
  if (type_url == kListenerType) return generateListeners(model, proxy, names);
  if (type_url == kRouteType) return generateRoutes(model, proxy, names);
  return {};
}

}  // namespace weft::control::xds
