#include <set>

#include "control/xds/generator.h"
#include "envoy/config/listener/v3/listener.pb.h"
#include "envoy/extensions/filters/http/router/v3/router.pb.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h"
#include "envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.pb.h"

namespace weft::control::xds {

namespace hcmv3 = envoy::extensions::filters::network::http_connection_manager::v3;
namespace lv3 = envoy::config::listener::v3;

namespace {

hcmv3::HttpConnectionManager hcmWithRds(const std::string& stat_prefix, const std::string& route_name) {
  hcmv3::HttpConnectionManager hcm;
  hcm.set_stat_prefix(stat_prefix);
  hcm.set_codec_type(hcmv3::HttpConnectionManager::AUTO);
  auto* rds = hcm.mutable_rds();
  rds->set_route_config_name(route_name);
  rds->mutable_config_source()->mutable_ads();
  rds->mutable_config_source()->set_resource_api_version(envoy::config::core::v3::V3);
  auto* router = hcm.add_http_filters();
  router->set_name("envoy.filters.http.router");
  router->mutable_typed_config()->PackFrom(envoy::extensions::filters::http::router::v3::Router());
  return hcm;
}

void setAddress(lv3::Listener& l, const std::string& ip, uint32_t port) {
  auto* sa = l.mutable_address()->mutable_socket_address();
  sa->set_address(ip);
  sa->set_port_value(port);
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
      l.mutable_api_listener()->mutable_api_listener()->PackFrom(hcmWithRds(name, name));
      out[name].PackFrom(l);
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
        f->mutable_typed_config()->PackFrom(hcmWithRds(l.name(), std::to_string(port.port)));
        out[l.name()].PackFrom(l);
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
        auto* f = l.add_filter_chains()->add_filters();
        f->set_name("envoy.filters.network.tcp_proxy");
        f->mutable_typed_config()->PackFrom(tcp);
        out[l.name()].PackFrom(l);
      }
    }
  }
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
