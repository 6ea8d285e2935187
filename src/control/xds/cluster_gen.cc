#include <map>
#include <set>

#include "common/strings.h"
#include "control/model/mtls_policy.h"
#include "control/model/traffic_policy.h"
#include "control/xds/generator.h"
#include "control/xds/istio_mtls.h"
#include "control/xds/locality_lb.h"
#include "control/xds/pack.h"
#include "control/xds/telemetry_gen.h"
#include "control/xds/tls_origination.h"
#include "envoy/config/cluster/v3/cluster.pb.h"
#include "envoy/config/endpoint/v3/endpoint.pb.h"
#include "envoy/extensions/upstreams/http/v3/http_protocol_options.pb.h"

namespace weft::control::xds {

namespace cv3 = envoy::config::cluster::v3;

bool ClusterName::parse(const std::string& name, ClusterName& out) {
  size_t a = name.find('|');
  size_t b = a == std::string::npos ? a : name.find('|', a + 1);
  size_t c = b == std::string::npos ? b : name.find('|', b + 1);
  if (c == std::string::npos) return false;
  out.direction = name.substr(0, a);
  try {
    out.port = static_cast<uint32_t>(std::stoul(name.substr(a + 1, b - a - 1)));
  } catch (...) {
    return false;
  }
  out.subset = name.substr(b + 1, c - b - 1);
  out.host = name.substr(c + 1);
  return true;
}

std::string ClusterName::str() const { return direction + "|" + std::to_string(port) + "|" + subset + "|" + host; }

namespace {

bool selectedBy(const Sidecar& sc, const ProxyInfo& proxy) {
  if (sc.meta.ns != proxy.ns) return false;
  for (const auto& [k, v] : sc.workload_selector) {
    auto it = proxy.labels.find(k);
    if (it == proxy.labels.end() || it->second != v) return false;
  }
  return true;
}

bool egressAllows(const Sidecar& sc, const MeshService& svc) {
  for (const auto& h : sc.egress_hosts) {
    auto slash = h.find('/');
    std::string ns = h.substr(0, slash), host = h.substr(slash + 1);
    bool ns_ok = ns == "*" || ns == svc.ns || (ns == "." && svc.ns == sc.meta.ns);
    bool host_ok =
        host == "*" || host == svc.hostname ||
        (host.rfind("*.", 0) == 0 && svc.hostname.size() > host.size() - 1 &&
         svc.hostname.compare(svc.hostname.size() - (host.size() - 1), host.size() - 1, host.substr(1)) == 0);
    if (ns_ok && host_ok) return true;
  }
  return false;
}

// Istio's applyLoadBalancer / ApplyRingHashLoadBalancer.
void applyLoadBalancer(const LoadBalancer* lb, const ProxyInfo& proxy, cv3::Cluster& c) {
  if (lb && lb->consistent_hash) {
    const ConsistentHash& ch = *lb->consistent_hash;
    if (ch.maglev) {
      c.set_lb_policy(cv3::Cluster::MAGLEV);
      if (ch.maglev_table_size) c.mutable_maglev_lb_config()->mutable_table_size()->set_value(ch.maglev_table_size);
    } else {
      // ringHash (its minimum if set), or neither: a ring of the deprecated minimumRingSize or 1024.
      c.set_lb_policy(cv3::Cluster::RING_HASH);
      if (!ch.ring_hash || ch.ring_min_size) {
        c.mutable_ring_hash_lb_config()->mutable_minimum_ring_size()->set_value(ch.ring_min_size ? ch.ring_min_size
                                                                                                 : 1024);
      }
    }
    return;
  }
  std::string simple = lb ? lb->simple : "";
  if (simple == "LEAST_REQUEST") {
    c.set_lb_policy(cv3::Cluster::LEAST_REQUEST);
  } else if (simple == "RANDOM") {
    c.set_lb_policy(cv3::Cluster::RANDOM);
  } else if (simple == "ROUND_ROBIN") {
    c.set_lb_policy(cv3::Cluster::ROUND_ROBIN);
  } else {
    // Unset or UNSPECIFIED: LEAST_REQUEST for sidecars (Istio >= 1.14). Proxyless gRPC keeps
    // ROUND_ROBIN, as Istio's gRPC generator does: grpc-js-xds refuses lb_policy LEAST_REQUEST.
    c.set_lb_policy(proxy.proxyless_grpc ? cv3::Cluster::ROUND_ROBIN : cv3::Cluster::LEAST_REQUEST);
  }
}

// Istio's applyConnectionPool: circuit breakers start from Istio's defaults (all MaxUint32, so
// Envoy's small defaults never apply in a mesh) and take the connectionPool's limits. The
// upstream protocol, as Istio's setUpstreamProtocol then applyH2Upgrade: HTTP/2 for http2 and
// gRPC ports and with h2UpgradePolicy UPGRADE; useClientProtocol: the downstream's protocol.
void applyConnectionPool(const TrafficPolicy& tp, const MeshPort& port, cv3::Cluster& c) {
  const ConnectionPool* cp = tp.connection_pool ? &*tp.connection_pool : nullptr;
  auto* t = c.mutable_circuit_breakers()->add_thresholds();
  constexpr uint32_t kMax = 4294967295u;
  t->mutable_max_connections()->set_value(kMax);
  t->mutable_max_pending_requests()->set_value(kMax);
  t->mutable_max_requests()->set_value(kMax);
  t->mutable_max_retries()->set_value(kMax);
  t->set_track_remaining(true);
  const ConnectionPool::Http* http = cp && cp->http ? &*cp->http : nullptr;
  bool use_client = http && http->use_client_protocol;
  bool h2 = port.protocol == Protocol::Http2 || port.protocol == Protocol::Grpc ||
            (http && !use_client && http->h2_upgrade == ConnectionPool::Http::H2Upgrade::Upgrade);
  envoy::extensions::upstreams::http::v3::HttpProtocolOptions o;
  auto* common = o.mutable_common_http_protocol_options();
  std::optional<int64_t> idle = http ? http->idle_timeout_ms : std::nullopt;
  if (!idle && cp && cp->tcp) idle = cp->tcp->idle_timeout_ms;
  if (idle) *common->mutable_idle_timeout() = weft::durationFromMillis(*idle);
  if (http && http->max_requests_per_connection.value_or(0) > 0)
    common->mutable_max_requests_per_connection()->set_value(static_cast<uint32_t>(*http->max_requests_per_connection));
  if (cp && cp->tcp && cp->tcp->max_connection_duration_ms)
    *common->mutable_max_connection_duration() = weft::durationFromMillis(*cp->tcp->max_connection_duration_ms);
  if (use_client) {
    auto* d = o.mutable_use_downstream_protocol_config();
    d->mutable_http_protocol_options();
    d->mutable_http2_protocol_options();
  } else if (h2) {
    auto* h2o = o.mutable_explicit_http_config()->mutable_http2_protocol_options();
    if (http && http->max_concurrent_streams.value_or(0) > 0)
      h2o->mutable_max_concurrent_streams()->set_value(static_cast<uint32_t>(*http->max_concurrent_streams));
  } else if (common->ByteSizeLong() > 0) {
    o.mutable_explicit_http_config()->mutable_http_protocol_options();  // the protocol they must name
  }
  if (common->ByteSizeLong() == 0) o.clear_common_http_protocol_options();
  if (o.ByteSizeLong() > 0) {
    pack((*c.mutable_typed_extension_protocol_options())["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"], o);
  }
  if (cp == nullptr) return;
  auto set = [](const std::optional<int64_t>& v, google::protobuf::UInt32Value* out) {
    if (v && *v > 0) out->set_value(static_cast<uint32_t>(*v));
  };
  if (http) {
    set(http->http2_max_requests, t->mutable_max_requests());
    set(http->http1_max_pending_requests, t->mutable_max_pending_requests());
    set(http->max_retries, t->mutable_max_retries());
  }
  if (cp->tcp) {
    if (cp->tcp->connect_timeout_ms)
      *c.mutable_connect_timeout() = weft::durationFromMillis(*cp->tcp->connect_timeout_ms);
    set(cp->tcp->max_connections, t->mutable_max_connections());
    if (const auto& k = cp->tcp->keepalive) {
      auto* ka = c.mutable_upstream_connection_options()->mutable_tcp_keepalive();
      if (k->probes && *k->probes > 0) ka->mutable_keepalive_probes()->set_value(static_cast<uint32_t>(*k->probes));
      if (k->time_ms)
        ka->mutable_keepalive_time()->set_value(static_cast<uint32_t>(std::max<int64_t>(1, *k->time_ms / 1000)));
      if (k->interval_ms)
        ka->mutable_keepalive_interval()->set_value(
            static_cast<uint32_t>(std::max<int64_t>(1, *k->interval_ms / 1000)));
    }
  }
}

// Istio's applyOutlierDetection: success-rate ejection off, each consecutive threshold enforced
// when set above 0, and the panic threshold at minHealthPercent (0, panic off, by default).
void applyOutlierDetection(const TrafficPolicy& tp, cv3::Cluster& c) {
  if (!tp.outlier_detection) return;
  const OutlierDetection* od = &*tp.outlier_detection;
  auto* out = c.mutable_outlier_detection();
  out->mutable_enforcing_success_rate()->set_value(0);
  if (const auto& v = od->consecutive_5xx_errors) {
    out->mutable_consecutive_5xx()->set_value(static_cast<uint32_t>(*v));
    out->mutable_enforcing_consecutive_5xx()->set_value(*v > 0 ? 100 : 0);
  }
  if (const auto& v = od->consecutive_gateway_errors) {
    out->mutable_consecutive_gateway_failure()->set_value(static_cast<uint32_t>(*v));
    out->mutable_enforcing_consecutive_gateway_failure()->set_value(*v > 0 ? 100 : 0);
  }
  if (od->interval_ms) *out->mutable_interval() = weft::durationFromMillis(*od->interval_ms);
  if (od->base_ejection_time_ms)
    *out->mutable_base_ejection_time() = weft::durationFromMillis(*od->base_ejection_time_ms);
  if (od->max_ejection_percent > 0)
    out->mutable_max_ejection_percent()->set_value(static_cast<uint32_t>(od->max_ejection_percent));
  if (od->split_external_local_origin_errors) {
    out->set_split_external_local_origin_errors(true);
    if (od->consecutive_local_origin_failures.value_or(0) > 0) {
      out->mutable_consecutive_local_origin_failure()->set_value(
          static_cast<uint32_t>(*od->consecutive_local_origin_failures));
      out->mutable_enforcing_consecutive_local_origin_failure()->set_value(100);
    }
    out->mutable_enforcing_local_origin_success_rate()->set_value(0);
  }
  c.mutable_common_lb_config()->mutable_healthy_panic_threshold()->set_value(
      static_cast<double>(od->min_health_percent));
}

// Istio's TLS for a cluster (buildUpstreamClusterTLSContext, auto mTLS): the rule's tls mode
// when set; otherwise, in the mesh, mutual TLS to endpoints with a sidecar (tlsMode: istio)
// and plaintext to the rest. Proxies without a workload certificate stay plaintext.
void applyTls(const TrafficPolicy& tp, const MeshService& svc, const MeshPort& port, const std::string& subset,
              const MeshModel& model, const ProxyInfo& proxy, cv3::Cluster& c) {
  const std::string& trust_domain = model.trust_domain;
  const std::string& root_namespace = model.root_namespace;
  static const std::vector<PeerAuthentication> kNone;
  const auto& peer_authentications = model.config ? model.config->peer_authentications : kNone;
  if (proxy.proxyless_grpc) return;
  if (tp.tls && tp.tls->mode == ClientTls::Mode::Disable) return;
  bool h2 = false;
  auto opts = c.typed_extension_protocol_options().find("envoy.extensions.upstreams.http.v3.HttpProtocolOptions");
  if (opts != c.typed_extension_protocol_options().end()) {
    envoy::extensions::upstreams::http::v3::HttpProtocolOptions o;
    opts->second.UnpackTo(&o);
    h2 = o.explicit_http_config().has_http2_protocol_options();
  }
  if (tp.tls && (tp.tls->mode == ClientTls::Mode::Simple || tp.tls->mode == ClientTls::Mode::Mutual)) {
    ClientTls tls = *tp.tls;
    if (tls.subject_alt_names.empty()) tls.subject_alt_names = svc.subject_alt_names;  // a ServiceEntry's
    return applyTlsOrigination(tls, isHttp(port.protocol), h2, proxy.sds, c);
  }
  if (!proxy.sds) return;
  // The peers' identities: the rule's subjectAltNames, else the service accounts of the endpoints.
  std::vector<std::string> sans;
  if (tp.tls && !tp.tls->subject_alt_names.empty()) {
    sans = tp.tls->subject_alt_names;
  } else {
    std::set<std::string> accounts;
    for (const auto& e : port.endpoints) {
      // A Service's workloads live in its namespace (Pods, and the WorkloadEntries it selects).
      if (!e.service_account.empty())
        accounts.insert("spiffe://" + trust_domain + "/ns/" + svc.ns + "/sa/" + e.service_account);
    }
    sans.assign(accounts.begin(), accounts.end());
  }
  std::string sni = tp.tls && !tp.tls->sni.empty() ? tp.tls->sni : istioSni(port.port, subset, svc.hostname);
  auto mutual = istioMutualUpstream(sans, sni, h2);
  if (tp.tls) {
    *c.mutable_transport_socket() = mutual;  // ISTIO_MUTUAL, whatever the endpoints
    return;
  }
  if (svc.resolution != MeshService::Resolution::Endpoints || svc.external) return;
  // Auto mTLS follows the destination's namespace (or mesh) PeerAuthentication: DISABLE there
  // means plaintext.
  if (effectiveMtls(peer_authentications, root_namespace, svc.ns, {}).forPort(port.target_port) == MtlsMode::Disable)
    return;
  if (model.mesh && !model.mesh->enable_auto_mtls) return;  // mesh-wide: mTLS only where a DestinationRule asks
  setAutoMtlsMatches(c, mutual);
}

cv3::Cluster makeCluster(const MeshService& svc, const MeshPort& port, const std::string& subset,
                         const DestinationRule* dr, const ProxyInfo& proxy, const MeshModel& model) {
  cv3::Cluster c;
  ClusterName cn{"outbound", port.port, subset, svc.hostname};
  c.set_name(cn.str());
  c.mutable_connect_timeout()->set_seconds(10);
  setIstioServiceMetadata(c, svc);
  TrafficPolicy tp = effectiveTrafficPolicy(dr, subset, port.port);
  applyLoadBalancer(tp.load_balancer ? &*tp.load_balancer : nullptr, proxy, c);
  applyConnectionPool(tp, port, c);
  // weft-proxy has no outlier detection for ORIGINAL_DST hosts (made per request), and refuses it.
  if (svc.resolution == MeshService::Resolution::Passthrough) tp.outlier_detection.reset();
  applyOutlierDetection(tp, c);
  if (needsLocalityWeightedLb(tp)) c.mutable_common_lb_config()->mutable_locality_weighted_lb_config();
  applyTls(tp, svc, port, subset, model, proxy, c);
  // Istio's TCP metadata exchange, with sidecars that speak it (ALPN istio-peer-exchange).
  if (!isHttp(port.protocol) && proxy.type == "sidecar" && proxy.sds &&
      (c.transport_socket_matches_size() > 0 || c.has_transport_socket()))
    *c.add_filters() = tcpClusterMetadataExchange();
  switch (svc.resolution) {
    case MeshService::Resolution::Endpoints:
      c.set_type(cv3::Cluster::EDS);
      c.mutable_eds_cluster_config()->mutable_eds_config()->mutable_ads();
      c.mutable_eds_cluster_config()->mutable_eds_config()->set_resource_api_version(envoy::config::core::v3::V3);
      c.mutable_eds_cluster_config()->set_service_name(cn.str());
      break;
    case MeshService::Resolution::Dns: {
      c.set_type(cv3::Cluster::STRICT_DNS);
      c.set_dns_lookup_family(cv3::Cluster::V4_ONLY);
      auto* la = c.mutable_load_assignment();
      la->set_cluster_name(cn.str());
      // One LocalityLbEndpoints per locality, with Istio's locality priorities or weights.
      std::map<std::string, std::vector<const MeshEndpoint*>> by_locality;
      for (const auto& e : port.endpoints) by_locality[e.locality].push_back(&e);
      std::vector<std::vector<const MeshEndpoint*>> groups;
      for (const auto& [locality, endpoints] : by_locality) {
        auto* loc = la->add_endpoints();
        if (!locality.empty()) *loc->mutable_locality() = toLocality(locality);
        uint32_t total = 0;
        for (const MeshEndpoint* e : endpoints) {
          total += e->weight;
          auto* lbe = loc->add_lb_endpoints();
          auto* sa = lbe->mutable_endpoint()->mutable_address()->mutable_socket_address();
          sa->set_address(e->ip);
          sa->set_port_value(e->port);
          if (!locality.empty()) lbe->mutable_load_balancing_weight()->set_value(e->weight);
        }
        if (!locality.empty()) loc->mutable_load_balancing_weight()->set_value(total);
        groups.push_back(endpoints);
      }
      if (la->endpoints_size() == 0) la->add_endpoints();
      applyLocalityLb(tp, proxy, *la, groups);
      break;
    }
    case MeshService::Resolution::Passthrough:
      c.set_type(cv3::Cluster::ORIGINAL_DST);
      c.set_lb_policy(cv3::Cluster::CLUSTER_PROVIDED);
      break;
  }
  return c;
}

}  // namespace

const MeshPort* servicePortByName(const MeshModel& model, const std::string& name, const MeshService** svc) {
  auto colon = name.rfind(':');
  if (colon == std::string::npos) return nullptr;
  std::string port = name.substr(colon + 1);
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos) return nullptr;
  *svc = model.service(name.substr(0, colon));
  return *svc ? (*svc)->port(static_cast<uint32_t>(std::stoul(port))) : nullptr;
}

std::vector<const MeshService*> visibleServices(const MeshModel& model, const ProxyInfo& proxy) {
  const Sidecar* scope = nullptr;
  for (const auto& sc : model.sidecars) {
    if (selectedBy(sc, proxy) && (!scope || scope->workload_selector.empty())) scope = &sc;
  }
  std::vector<const MeshService*> out;
  for (const auto& [host, svc] : model.services) {
    if (!MeshModel::exported(svc.export_to, svc.ns, proxy.ns)) continue;
    if (scope == nullptr || egressAllows(*scope, svc)) out.push_back(&svc);
  }
  return out;
}

ResourceMap generateClusters(const MeshModel& model, const ProxyInfo& proxy, const std::vector<std::string>& names) {
  ResourceMap out;
  auto wanted = [&](const std::string& n) {
    if (names.empty()) return true;
    for (const auto& x : names) {
      if (x == n) return true;
    }
    return false;
  };
  // Inbound: each port of a service this proxy's workload serves, delivered to the
  // application on localhost (inbound|PORT||, named by the service port as Istio does).
  if (!proxy.ip.empty()) {
    for (const auto& [host, svc] : model.services) {
      for (const auto& port : svc.ports) {
        for (const auto& e : port.endpoints) {
          if (e.ip != proxy.ip) continue;
          std::string name = "inbound|" + std::to_string(port.port) + "||";
          if (out.count(name) || !wanted(name)) break;
          cv3::Cluster c;
          c.set_name(name);
          c.set_type(cv3::Cluster::STATIC);
          c.mutable_connect_timeout()->set_seconds(10);
          auto* la = c.mutable_load_assignment();
          la->set_cluster_name(name);
          auto* sa =
              la->add_endpoints()->add_lb_endpoints()->mutable_endpoint()->mutable_address()->mutable_socket_address();
          sa->set_address("127.0.0.1");
          sa->set_port_value(e.port);
          setIstioServiceMetadata(c, svc);
          pack(out[name], c);
          break;
        }
      }
    }
  }
  if (!proxy.capture_none && proxy.type == "sidecar") {
    // Captured traffic with no better place to go (Istio's names).
    auto original_dst = [&](const std::string& name, bool bind_127_0_0_6) {
      if (!wanted(name)) return;
      cv3::Cluster c;
      c.set_name(name);
      c.set_type(cv3::Cluster::ORIGINAL_DST);
      c.set_lb_policy(cv3::Cluster::CLUSTER_PROVIDED);
      c.mutable_connect_timeout()->set_seconds(10);
      if (bind_127_0_0_6) {
        // Inbound passthrough reaches the app from 127.0.0.6, which the capture rules exempt.
        auto* sa = c.mutable_upstream_bind_config()->mutable_source_address();
        sa->set_address("127.0.0.6");
        sa->set_port_value(0);
      }
      pack(out[name], c);
    };
    original_dst("PassthroughCluster", false);
    original_dst("InboundPassthroughCluster", true);
    if (wanted("BlackHoleCluster")) {
      cv3::Cluster c;
      c.set_name("BlackHoleCluster");
      c.set_type(cv3::Cluster::STATIC);
      c.mutable_connect_timeout()->set_seconds(10);
      c.mutable_load_assignment()->set_cluster_name("BlackHoleCluster");
      pack(out[c.name()], c);
    }
  }
  for (const MeshService* svc : visibleServices(model, proxy)) {
    const DestinationRule* dr = model.destinationRuleFor(svc->hostname, proxy.ns);
    for (const auto& port : svc->ports) {
      cv3::Cluster base = makeCluster(*svc, port, "", dr, proxy, model);
      if (wanted(base.name())) pack(out[base.name()], base);
      if (dr == nullptr) continue;
      for (const auto& subset : dr->subsets) {
        cv3::Cluster c = makeCluster(*svc, port, subset.name, dr, proxy, model);
        if (wanted(c.name())) pack(out[c.name()], c);
      }
    }
  }
  return out;
}

}  // namespace weft::control::xds
