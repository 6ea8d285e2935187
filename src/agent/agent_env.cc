#include "agent/agent_env.h"

#include "common/json_shape.h"

#include <netdb.h>

#include <algorithm>

namespace weft::agent {

using json = nlohmann::json;

std::string AgentEnv::nodeId() const {
  return "sidecar~" + instance_ip + "~" + pod_name + "." + pod_namespace + "~" + pod_namespace + "." + dns_domain;
}

std::string AgentEnv::nodeCluster() const {
  std::string workload = pod_name;
  if (auto it = meta.find("WORKLOAD_NAME"); it != meta.end() && !it->second.empty())
    workload = it->second;
  else if (labels.contains("app") && labels["app"].is_string())
    workload = labels["app"].get<std::string>();
  return workload + "." + pod_namespace;
}

std::optional<net::Address> resolveHostPort(const std::string& host_port, std::string& error) {
  auto colon = host_port.rfind(':');
  int port = colon == std::string::npos ? 0 : std::atoi(host_port.c_str() + colon + 1);
  if (colon == std::string::npos || port <= 0 || port > 65535) {
    error = "'" + host_port + "' is not HOST:PORT";
    return std::nullopt;
  }
  std::string host = host_port.substr(0, colon);
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  if (auto ip = net::Address::parse(host, static_cast<uint16_t>(port))) return ip;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (int rc = getaddrinfo(host.c_str(), nullptr, &hints, &res); rc != 0 || res == nullptr) {
    error = "cannot resolve '" + host + "': " + gai_strerror(rc);
    return std::nullopt;
  }
  const addrinfo* pick = res;
  for (const addrinfo* a = res; a; a = a->ai_next)
    if (a->ai_family == AF_INET) {
      pick = a;
      break;
    }
  auto addr = net::Address::fromSockaddr(pick->ai_addr, pick->ai_addrlen);
  freeaddrinfo(res);
  return net::Address::parse(addr.ip(), static_cast<uint16_t>(port));
}

std::optional<AgentEnv> readAgentEnv(const std::map<std::string, std::string>& env, std::string& error) {
  AgentEnv a;
  auto get = [&](const char* k) -> std::string {
    auto it = env.find(k);
    return it == env.end() ? std::string() : it->second;
  };
  a.pod_name = get("POD_NAME");
  if (a.pod_name.empty()) {
    error = "POD_NAME is not set (the injector sets it from metadata.name)";
    return std::nullopt;
  }
  if (!get("POD_NAMESPACE").empty()) a.pod_namespace = get("POD_NAMESPACE");
  if (!get("INSTANCE_IP").empty()) a.instance_ip = get("INSTANCE_IP");
  if (!get("SERVICE_ACCOUNT").empty()) a.service_account = get("SERVICE_ACCOUNT");
  a.discovery_address = get("WEFT_DISCOVERY_ADDRESS");
  if (a.discovery_address.empty()) a.discovery_address = get("PILOT_ADDRESS");
  if (a.discovery_address.empty()) {
    error = "WEFT_DISCOVERY_ADDRESS (or PILOT_ADDRESS) is not set: the xDS server's host:port";
    return std::nullopt;
  }
  if (a.discovery_address.rfind(':') == std::string::npos) {
    error = "WEFT_DISCOVERY_ADDRESS '" + a.discovery_address + "' must be host:port";
    return std::nullopt;
  }
  for (const auto& [k, v] : env) {
    if (k.rfind("ISTIO_META_", 0) == 0) a.meta[k.substr(11)] = v;
  }
  if (std::string labels = get("ISTIO_METAJSON_LABELS"); !labels.empty()) {
    try {
      a.labels = json::parse(labels);
    } catch (const std::exception& e) {
      error = std::string("ISTIO_METAJSON_LABELS is not JSON: ") + e.what();
      return std::nullopt;
    }
    if (!a.labels.is_object()) {
      error = "ISTIO_METAJSON_LABELS must be a JSON object of label: value";
      return std::nullopt;
    }
  }
  if (std::string probers = get("ISTIO_KUBE_APP_PROBERS"); !probers.empty()) {
    try {
      a.app_probers = json::parse(probers);
    } catch (const std::exception& e) {
      error = std::string("ISTIO_KUBE_APP_PROBERS is not JSON: ") + e.what();
      return std::nullopt;
    }
    // Istio's prober map: "/app-health/<container>/<kind>" -> the probe's action and timeout.
    static const json probe = {
        {"httpGet", {{"port", "port"}, {"path", "string"}, {"scheme", "string"}, {"host", "string"}}},
        {"tcpSocket", {{"port", "port"}}},
        {"grpc", {{"port", "integer"}, {"service", "string"}}},
        {"timeoutSeconds", "integer"}};
    if (!a.app_probers.is_object()) {
      error = "ISTIO_KUBE_APP_PROBERS must be a JSON object of path: probe";
      return std::nullopt;
    }
    if (auto e = jsonShapeError(a.app_probers, json{{"*", probe}}, "ISTIO_KUBE_APP_PROBERS")) {
      error = *e;
      return std::nullopt;
    }
  }
  return a;
}

namespace {

json socketAddress(const std::string& ip, int port) {
  return {{"socket_address", {{"address", ip}, {"port_value", port}}}};
}

json staticCluster(const std::string& name, const std::string& host, int port, bool http2 = false) {
  json c = {
      {"name", name},
      {"type", "STATIC"},
      {"connect_timeout", "1s"},
      {"load_assignment",
       {{"cluster_name", name},
        {"endpoints",
         json::array({{{"lb_endpoints", json::array({{{"endpoint", {{"address", socketAddress(host, port)}}}}})}}})}}}};
  if (http2) {
    c["typed_extension_protocol_options"] = {
        {"envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
         {{"@type", "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions"},
          {"explicit_http_config", {{"http2_protocol_options", json::object()}}}}}};
  }
  return c;
}

json routeListener(const std::string& name, int port, const std::string& path, const std::string& cluster,
                   const std::string& rewrite) {
  json route = {{"match", {{"path", path}}}, {"route", {{"cluster", cluster}, {"prefix_rewrite", rewrite}}}};
  return {
      {"name", name},
      {"address", socketAddress("0.0.0.0", port)},
      {"filter_chains",
       json::array(
           {{{"filters",
              json::array(
                  {{{"name", "envoy.filters.network.http_connection_manager"},
                    {"typed_config",
                     {{"@type",
                       "type.googleapis.com/"
                       "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"},
                      {"stat_prefix", name},
                      {"route_config",
                       {{"name", name},
                        {"virtual_hosts",
                         json::array(
                             {{{"name", name}, {"domains", json::array({"*"})}, {"routes", json::array({route})}}})}}},
                      {"http_filters",
                       json::array(
                           {{{"name", "envoy.filters.http.router"},
                             {"typed_config",
                              {{"@type",
                                "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}}}})}}}}})}}})}};
}

// pilot-agent's node locality: the topology.istio.io/locality label, else istio-locality, as
// "region/zone/subzone" (or with '.' for '/', since Kubernetes labels cannot hold '/').
json localityOf(const json& labels) {
  std::string l;
  for (const char* key : {"topology.istio.io/locality", "istio-locality"}) {
    auto it = labels.find(key);
    if (it != labels.end() && it->is_string()) {
      l = it->get<std::string>();
      break;
    }
  }
  if (l.empty()) return json::object();
  if (l.find('/') == std::string::npos) std::replace(l.begin(), l.end(), '.', '/');
  json out = json::object();
  const char* keys[] = {"region", "zone", "sub_zone"};
  size_t start = 0;
  for (const char* key : keys) {
    size_t slash = l.find('/', start);
    std::string part = l.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (!part.empty()) out[key] = part;
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return out;
}

}  // namespace

json proxyBootstrap(const AgentEnv& env, const BootstrapOptions& o) {
  json metadata = json::object();
  for (const auto& [k, v] : env.meta) metadata[k] = v;
  metadata["NAMESPACE"] = env.pod_namespace;
  metadata["NAME"] = env.pod_name;
  metadata["SERVICE_ACCOUNT"] = env.service_account;
  metadata["INSTANCE_IPS"] = env.instance_ip;
  // What Istio's metrics name a workload by; the injector sets them (ISTIO_META_*), and these
  // are pilot-agent's defaults when it does not.
  if (!metadata.contains("WORKLOAD_NAME") || metadata["WORKLOAD_NAME"] == "") metadata["WORKLOAD_NAME"] = env.pod_name;
  if (!metadata.contains("CLUSTER_ID") || metadata["CLUSTER_ID"] == "") metadata["CLUSTER_ID"] = "Kubernetes";
  if (!metadata.contains("INTERCEPTION_MODE")) metadata["INTERCEPTION_MODE"] = "REDIRECT";
  if (!env.labels.empty()) metadata["LABELS"] = env.labels;
  auto colon = env.discovery_address.rfind(':');
  std::string xds_host = env.discovery_address.substr(0, colon);
  int xds_port = std::atoi(env.discovery_address.c_str() + colon + 1);
  json xds = staticCluster("xds-grpc", xds_host, xds_port, true);
  // A name, not an IP: resolved like Envoy's STRICT_DNS.
  if (!xds_host.empty() && (std::isalpha(static_cast<unsigned char>(xds_host[0])) != 0)) xds["type"] = "STRICT_DNS";
  json clusters = json::array({xds, staticCluster("prometheus_stats", "127.0.0.1", o.admin_port),
                               staticCluster("agent", "127.0.0.1", o.status_port)});
  if (!o.sds_socket.empty()) {
    json sds = staticCluster("sds-grpc", "", 0, true);
    sds["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"] = {
        {"pipe", {{"path", o.sds_socket}}}};
    clusters.push_back(sds);
  }
  if (!o.sds_socket.empty()) metadata["WEFT_SDS"] = "true";  // weftd: this proxy can do Istio's mTLS
  json node = {{"id", env.nodeId()}, {"cluster", env.nodeCluster()}, {"metadata", metadata}};
  if (json locality = localityOf(env.labels); !locality.empty()) node["locality"] = locality;
  return {
      {"node", node},
      {"admin", {{"address", socketAddress("127.0.0.1", o.admin_port)}}},
      {"dynamic_resources",
       {{"ads_config",
         {{"api_type", "GRPC"},
          {"transport_api_version", "V3"},
          {"grpc_services", json::array({{{"envoy_grpc", {{"cluster_name", "xds-grpc"}}}}})}}},
        {"cds_config", {{"ads", json::object()}, {"resource_api_version", "V3"}}},
        {"lds_config", {{"ads", json::object()}, {"resource_api_version", "V3"}}}}},
      {"static_resources",
       {{"listeners", json::array({routeListener("prometheus_stats", o.stats_port, "/stats/prometheus",
                                                 "prometheus_stats", "/stats/prometheus"),
                                   routeListener("agent_readiness", o.readiness_port, "/healthz/ready", "agent",
                                                 "/healthz/ready")})},
        {"clusters", clusters}}},
  };
}

}  // namespace weft::agent
