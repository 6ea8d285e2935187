#include "proxy/upstream/cluster_config.h"
#include "proxy/config/typed_struct.h"
#include "proxy/telemetry/tcp_metadata_exchange.h"

#include <algorithm>

#include "envoy/extensions/upstreams/http/v3/http_protocol_options.pb.h"
#include "proxy/tls/tls_config.h"
#include "proxy/upstream/health_checker.h"
#include "proxy/upstream/outlier_detector.h"

#include "common/config/error.h"
#include "common/strings.h"

namespace weft::proxy::upstream {

namespace cv3 = envoy::config::cluster::v3;
using std::chrono::milliseconds;

namespace {
// Envoy's defaults (1024 connections, pending requests and requests, 3 retries) unless the
// priority's thresholds say otherwise.
std::shared_ptr<ResourceLimits> compileCircuitBreakers(const cv3::Cluster& c, const std::string& path,
                                                       envoy::config::core::v3::RoutingPriority priority) {
  uint64_t cx = 1024, pending = 1024, rq = 1024, retries = 3, pools = UINT64_MAX;
  bool track_remaining = false;
  const auto& cb = c.circuit_breakers();
  bool seen_default = false;
  for (int i = 0; i < cb.thresholds_size(); ++i) {
    const auto& t = cb.thresholds(i);
    if (t.priority() != priority) continue;
    if (seen_default) {
      throw ConfigError(path + ".circuit_breakers.thresholds[" + std::to_string(i) +
                        "]: a second threshold for priority " +
                        envoy::config::core::v3::RoutingPriority_Name(priority));
    }
    seen_default = true;
    if (t.has_max_connections()) cx = t.max_connections().value();
    if (t.has_max_pending_requests()) pending = t.max_pending_requests().value();
    if (t.has_max_requests()) rq = t.max_requests().value();
    if (t.has_max_retries()) retries = t.max_retries().value();
    if (t.has_max_connection_pools()) pools = t.max_connection_pools().value();
    track_remaining = t.track_remaining();
  }
  auto limits = std::make_shared<ResourceLimits>(cx, pending, rq, retries, pools);
  limits->track_remaining = track_remaining;
  for (int i = 0; i < cb.thresholds_size(); ++i) {
    const auto& t = cb.thresholds(i);
    if (t.priority() != priority || !t.has_retry_budget()) continue;
    const auto& b = t.retry_budget();
    std::string bp = path + ".circuit_breakers.thresholds[" + std::to_string(i) + "].retry_budget";
    limits->has_retry_budget = true;
    if (b.has_budget_percent()) {
      limits->budget_percent = b.budget_percent().value();
      if (limits->budget_percent < 0 || limits->budget_percent > 100)
        throw ConfigError(bp + ".budget_percent.value: must be 0-100");
    }
    if (b.has_min_retry_concurrency()) limits->min_retry_concurrency = b.min_retry_concurrency().value();
  }
  return limits;
}
// Envoy's limits: a ring of at most 8M points; a prime Maglev table of at most 5000011.
void compileRingHash(const cv3::Cluster& c, const std::string& path, ClusterConfig& out) {
  const auto& r = c.ring_hash_lb_config();
  std::string p = path + ".ring_hash_lb_config";
  constexpr uint64_t kMax = 8 * 1024 * 1024;
  if (r.has_minimum_ring_size()) out.ring_min_size = r.minimum_ring_size().value();
  if (r.has_maximum_ring_size()) out.ring_max_size = r.maximum_ring_size().value();
  if (out.ring_min_size < 1 || out.ring_min_size > kMax) throw ConfigError(p + ".minimum_ring_size: must be 1-8388608");
  if (out.ring_max_size < 1 || out.ring_max_size > kMax) throw ConfigError(p + ".maximum_ring_size: must be 1-8388608");
  if (out.ring_min_size > out.ring_max_size) {
    throw ConfigError(p + ": minimum_ring_size (" + std::to_string(out.ring_min_size) + ") > maximum_ring_size (" +
                      std::to_string(out.ring_max_size) + ")");
  }
  if (r.hash_function() != cv3::Cluster::RingHashLbConfig::XX_HASH) {
    throw ConfigError(p + ".hash_function: MURMUR_HASH_2 is not supported by weft-proxy (XX_HASH is)");
  }
}

void compileMaglev(const cv3::Cluster& c, const std::string& path, ClusterConfig& out) {
  if (!c.maglev_lb_config().has_table_size()) return;
  uint64_t n = c.maglev_lb_config().table_size().value();
  bool prime = n >= 2;
  for (uint64_t d = 2; prime && d * d <= n; ++d) prime = n % d != 0;
  if (!prime || n > 5000011) {
    throw ConfigError(path + ".maglev_lb_config.table_size: " + std::to_string(n) +
                      " must be a prime number of at most 5000011");
  }
  out.maglev_table_size = n;
}
}  // namespace

std::shared_ptr<Host> makeHost(const net::Address& addr, uint32_t weight, const std::string& cluster,
                               const std::string& hostname, uint32_t stat_rows) {
  auto h = std::make_shared<Host>();
  h->address = addr;
  h->address_string = addr.toString();
  h->hostname = hostname;
  h->weight = weight;
  h->stats =
      std::make_shared<stats::Scope>("cluster." + cluster + ".host." + h->address_string + ".", HostStats::kDefs,
                                     HostStats::kCount, stat_rows, std::vector<std::pair<std::string, std::string>>{});
  return h;
}

LocalityWeight localityWeightOf(const envoy::config::endpoint::v3::LocalityLbEndpoints& loc, const std::string& path) {
  if (loc.priority() >= kMaxPriorities) {
    throw ConfigError(path + ".priority: " + std::to_string(loc.priority()) + " is above weft-proxy's limit of " +
                      std::to_string(kMaxPriorities - 1));
  }
  return {loc.priority(), localityName(loc.locality()),
          loc.has_load_balancing_weight() ? loc.load_balancing_weight().value() : 0};
}

uint32_t overprovisioningFactor(const envoy::config::endpoint::v3::ClusterLoadAssignment& cla,
                                const std::string& path) {
  if (!cla.policy().has_overprovisioning_factor()) return 140;
  uint32_t f = cla.policy().overprovisioning_factor().value();
  if (f == 0) throw ConfigError(path + ".policy.overprovisioning_factor: must be greater than 0");
  return f;
}

std::string localityName(const envoy::config::core::v3::Locality& l) {
  if (l.region().empty() && l.zone().empty() && l.sub_zone().empty()) return "";
  return l.region() + "/" + l.zone() + "/" + l.sub_zone();
}

std::shared_ptr<const HostSet> makeHostSet(std::vector<std::shared_ptr<const Host>> hosts,
                                           std::vector<LocalityWeight> locality_weights,
                                           uint32_t overprovisioning_factor) {
  auto set = std::make_shared<HostSet>();
  set->hosts = std::move(hosts);
  for (const auto& h : set->hosts) {
    set->total_weight += h->weight;
    if (h->weight != set->hosts.front()->weight) set->equal_weights = false;
    set->priorities = std::max(set->priorities, h->priority + 1);
  }
  set->locality_weights = std::move(locality_weights);
  set->overprovisioning_factor = overprovisioning_factor;
  return set;
}

std::shared_ptr<const HostSet> keepKnownHosts(std::vector<std::shared_ptr<const Host>> hosts, const HostSet* previous,
                                              std::vector<LocalityWeight> locality_weights,
                                              uint32_t overprovisioning_factor) {
  if (previous != nullptr) {
    for (auto& h : hosts) {
      for (const auto& prev : previous->hosts) {
        if (prev->address == h->address && prev->weight == h->weight && prev->priority == h->priority &&
            prev->locality == h->locality && prev->socket_match == h->socket_match)
          h = prev;
      }
    }
  }
  return makeHostSet(std::move(hosts), std::move(locality_weights), overprovisioning_factor);
}

std::vector<std::pair<std::string, std::string>> socketMatchMetadata(const envoy::config::core::v3::Metadata& md) {
  std::vector<std::pair<std::string, std::string>> out;
  auto it = md.filter_metadata().find("envoy.transport_socket_match");
  if (it == md.filter_metadata().end()) return out;
  for (const auto& [k, v] : it->second.fields()) {
    switch (v.kind_case()) {
      case google::protobuf::Value::kStringValue:
        out.emplace_back(k, v.string_value());
        break;
      case google::protobuf::Value::kBoolValue:
        out.emplace_back(k, v.bool_value() ? "true" : "false");
        break;
      case google::protobuf::Value::kNumberValue:
        out.emplace_back(k, std::to_string(v.number_value()));
        break;
      default:
        break;  // lists and structs never equal a match criterion here
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

const proxy::tls::ContextSource* ClusterConfig::tlsFor(const Host& host) const {
  for (const auto& m : socket_matches) {
    bool all = true;
    for (const auto& c : m.criteria)
      all = all && std::binary_search(host.socket_match.begin(), host.socket_match.end(), c);
    if (all) return m.tls.get();
  }
  return tls.get();
}

bool ClusterConfig::tlsReady() const {
  if (tls && !tls->ready()) return false;
  for (const auto& m : socket_matches)
    if (m.tls && !m.tls->ready()) return false;
  return true;
}

// Label sets (clusters, connection managers) per worker for Envoy's histograms.
constexpr size_t kMaxHistogramSeries = 20000;

std::shared_ptr<const ClusterConfig> compileCluster(const cv3::Cluster& c, const std::string& path, stats::Store& store,
                                                    proxy::tls::SdsSecrets* sds) {
  auto out = std::make_shared<ClusterConfig>();
  out->name = c.name();
  out->rq_time = store.family("envoy_cluster_upstream_rq_time", {"envoy_cluster_name"}, stats::Family::Type::Histogram,
                              kMaxHistogramSeries);
  out->cx_connect_ms = store.family("envoy_cluster_upstream_cx_connect_ms", {"envoy_cluster_name"},
                                    stats::Family::Type::Histogram, kMaxHistogramSeries);
  if (auto it = c.metadata().filter_metadata().find("istio"); it != c.metadata().filter_metadata().end()) {
    const auto& fields = it->second.fields();
    if (auto svc = fields.find("services"); svc != fields.end() && svc->second.list_value().values_size() > 0) {
      const auto& first = svc->second.list_value().values(0).struct_value().fields();
      auto get = [&](const char* k) {
        auto f = first.find(k);
        return f == first.end() ? std::string() : f->second.string_value();
      };
      out->istio_service = ClusterConfig::IstioService{get("host"), get("name"), get("namespace")};
    }
    if (auto ext = fields.find("external"); ext != fields.end()) out->istio_external = ext->second.bool_value();
  }
  out->source = c;
  if (c.name().empty()) throw ConfigError(path + ".name: must not be empty");
  for (int i = 0; i < c.filters_size(); ++i) {
    const std::string fp = path + ".filters[" + std::to_string(i) + "]";
    std::string type = config::configuredType(c.filters(i).typed_config());
    if (type.substr(type.rfind('/') + 1) != "envoy.tcp.metadataexchange.config.MetadataExchange")
      throw ConfigError(fp + ": upstream network filter '" + c.filters(i).name() + "' (" + type +
                        ") is not supported by weft-proxy (Istio's metadata exchange is)");
    out->mx_protocol = telemetry::mxProtocol(c.filters(i).typed_config(), fp + ".typed_config");
  }
  switch (c.type()) {
    case cv3::Cluster::STATIC:
      out->type = ClusterConfig::Type::Static;
      break;
    case cv3::Cluster::STRICT_DNS:
      out->type = ClusterConfig::Type::StrictDns;
      break;
    case cv3::Cluster::LOGICAL_DNS:
      out->type = ClusterConfig::Type::LogicalDns;
      break;
    case cv3::Cluster::ORIGINAL_DST:
      out->type = ClusterConfig::Type::OriginalDst;
      break;
    case cv3::Cluster::EDS:
      out->type = ClusterConfig::Type::Eds;
      if (!c.eds_cluster_config().eds_config().has_ads()) {
        throw ConfigError(path + ".eds_cluster_config.eds_config: only ads is supported by weft-proxy");
      }
      out->eds_service_name =
          c.eds_cluster_config().service_name().empty() ? c.name() : c.eds_cluster_config().service_name();
      break;
    default:
      throw ConfigError(path + ".type: " + cv3::Cluster::DiscoveryType_Name(c.type()) +
                        " is not supported by weft-proxy (STATIC, STRICT_DNS, LOGICAL_DNS, ORIGINAL_DST, EDS are)");
  }
  switch (c.lb_policy()) {
    case cv3::Cluster::ROUND_ROBIN:
      out->lb = ClusterConfig::Lb::RoundRobin;
      break;
    case cv3::Cluster::LEAST_REQUEST: {
      out->lb = ClusterConfig::Lb::LeastRequest;
      const auto& lr = c.least_request_lb_config();
      std::string lp = path + ".least_request_lb_config";
      if (lr.has_choice_count()) out->lr_choice_count = lr.choice_count().value();
      if (out->lr_choice_count < 2) throw ConfigError(lp + ".choice_count: must be at least 2");
      if (lr.has_active_request_bias()) {
        if (!lr.active_request_bias().runtime_key().empty()) {
          throw ConfigError(lp + ".active_request_bias.runtime_key: not supported by weft-proxy (default_value is)");
        }
        out->lr_active_request_bias = lr.active_request_bias().default_value();
        if (out->lr_active_request_bias < 0) throw ConfigError(lp + ".active_request_bias: must not be negative");
      }
      break;
    }
    case cv3::Cluster::RANDOM:
      out->lb = ClusterConfig::Lb::Random;
      break;
    case cv3::Cluster::CLUSTER_PROVIDED:
      out->lb = ClusterConfig::Lb::ClusterProvided;
      break;
    case cv3::Cluster::RING_HASH:
      out->lb = ClusterConfig::Lb::RingHash;
      compileRingHash(c, path, *out);
      break;
    case cv3::Cluster::MAGLEV:
      out->lb = ClusterConfig::Lb::Maglev;
      compileMaglev(c, path, *out);
      break;
    default:
      throw ConfigError(path + ".lb_policy: " + cv3::Cluster::LbPolicy_Name(c.lb_policy()) +
                        " is not supported by weft-proxy (ROUND_ROBIN, LEAST_REQUEST, RANDOM, RING_HASH, MAGLEV are)");
  }
  bool original_dst = out->type == ClusterConfig::Type::OriginalDst;
  if (original_dst != (out->lb == ClusterConfig::Lb::ClusterProvided)) {
    throw ConfigError(path + ".lb_policy: ORIGINAL_DST clusters need CLUSTER_PROVIDED and only they may use it");
  }
  if (c.has_connect_timeout()) out->connect_timeout = weft::toMillis(c.connect_timeout());
  if (out->connect_timeout.count() <= 0) throw ConfigError(path + ".connect_timeout: must be greater than 0");
  for (const auto& [name, any] : c.typed_extension_protocol_options()) {
    std::string opath = path + ".typed_extension_protocol_options['" + name + "']";
    if (!any.Is<envoy::extensions::upstreams::http::v3::HttpProtocolOptions>()) {
      throw ConfigError(opath + ": '" + any.type_url() + "' is not supported by weft-proxy (use HttpProtocolOptions)");
    }
    envoy::extensions::upstreams::http::v3::HttpProtocolOptions o;
    any.UnpackTo(&o);
    if (o.has_explicit_http_config()) {
      const auto& e = o.explicit_http_config();
      if (e.has_http2_protocol_options()) {
        out->protocol = ClusterConfig::Protocol::Http2;
        out->http2 = http::compileHttp2Options(e.http2_protocol_options(),
                                               opath + ".explicit_http_config.http2_protocol_options");
      } else if (e.has_http3_protocol_options()) {
        throw ConfigError(opath +
                          ".explicit_http_config.http3_protocol_options: HTTP/3 is not supported by weft-proxy");
      }
    } else if (o.has_auto_config()) {
      const auto& a = o.auto_config();
      if (a.has_http3_protocol_options()) {
        throw ConfigError(opath + ".auto_config.http3_protocol_options: HTTP/3 is not supported by weft-proxy");
      }
      out->protocol = ClusterConfig::Protocol::Auto;
      out->http2 = http::compileHttp2Options(a.http2_protocol_options(), opath + ".auto_config.http2_protocol_options");
    } else if (o.has_use_downstream_protocol_config()) {
      const auto& d = o.use_downstream_protocol_config();
      if (d.has_http3_protocol_options()) {
        throw ConfigError(
            opath + ".use_downstream_protocol_config.http3_protocol_options: HTTP/3 is not supported by weft-proxy");
      }
      out->protocol = ClusterConfig::Protocol::UseDownstream;
      out->http2 = http::compileHttp2Options(d.http2_protocol_options(),
                                             opath + ".use_downstream_protocol_config.http2_protocol_options");
    }
    if (o.has_common_http_protocol_options()) {
      const auto& common = o.common_http_protocol_options();
      std::string cpath = opath + ".common_http_protocol_options";
      if (common.has_idle_timeout()) out->idle_timeout = weft::toMillis(common.idle_timeout());
      if (out->idle_timeout.count() < 0) throw ConfigError(cpath + ".idle_timeout: must not be negative");
      if (common.has_max_requests_per_connection()) {
        out->max_requests_per_connection = common.max_requests_per_connection().value();
      }
      if (common.has_max_connection_duration()) {
        out->max_connection_duration = weft::toMillis(common.max_connection_duration());
        if (out->max_connection_duration.count() < 0)
          throw ConfigError(cpath + ".max_connection_duration: must not be negative");
      }
      if (common.has_max_headers_count()) {
        if (common.max_headers_count().value() == 0)
          throw ConfigError(cpath + ".max_headers_count: must be at least 1");
        out->max_response_headers_count = common.max_headers_count().value();
      }
    }
    if (o.has_upstream_http_protocol_options()) {
      const auto& u = o.upstream_http_protocol_options();
      out->auto_sni = u.auto_sni();
      out->auto_san_validation = u.auto_san_validation();
      out->override_auto_sni_header = weft::toLower(u.override_auto_sni_header());
    }
  }
  out->limits = compileCircuitBreakers(c, path, envoy::config::core::v3::DEFAULT);
  auto high_limits = compileCircuitBreakers(c, path, envoy::config::core::v3::HIGH);
  // The deprecated cluster-level field, when the protocol options do not set it.
  if (c.has_max_requests_per_connection() && out->max_requests_per_connection == 0) {
    out->max_requests_per_connection = c.max_requests_per_connection().value();
  }
  if (c.has_upstream_bind_config()) {
    const auto& sa = c.upstream_bind_config().source_address();
    std::string bpath = path + ".upstream_bind_config.source_address";
    if (sa.port_value() > 65535) throw ConfigError(bpath + ".port_value: must be 0-65535");
    auto a = net::Address::parse(sa.address(), static_cast<uint16_t>(sa.port_value()));
    if (!a) throw ConfigError(bpath + ".address: '" + sa.address() + "' is not an IP address");
    out->bind_source = *a;
  }
  if (c.upstream_connection_options().has_tcp_keepalive()) {
    const auto& k = c.upstream_connection_options().tcp_keepalive();
    ClusterConfig::TcpKeepalive ka;
    if (k.has_keepalive_probes()) ka.probes = k.keepalive_probes().value();
    if (k.has_keepalive_time()) ka.time = k.keepalive_time().value();
    if (k.has_keepalive_interval()) ka.interval = k.keepalive_interval().value();
    out->tcp_keepalive = ka;
  }
  bool auto_protocol = out->protocol == ClusterConfig::Protocol::Auto;
  if (c.has_transport_socket()) {
    out->tls = proxy::tls::compileUpstreamTransportSocket(
        c.transport_socket(), path + ".transport_socket",
        auto_protocol ? std::vector<std::string>{"h2", "http/1.1"} : std::vector<std::string>{}, sds);
  }
  for (int i = 0; i < c.transport_socket_matches_size(); ++i) {
    const auto& m = c.transport_socket_matches(i);
    std::string mpath = path + ".transport_socket_matches[" + std::to_string(i) + "]";
    ClusterConfig::SocketMatch sm;
    sm.name = m.name();
    envoy::config::core::v3::Metadata md;
    (*md.mutable_filter_metadata())["envoy.transport_socket_match"] = m.match();
    sm.criteria = socketMatchMetadata(md);
    if (static_cast<int>(sm.criteria.size()) != m.match().fields_size())
      throw ConfigError(mpath + ".match: values must be strings, numbers or booleans");
    if (m.has_transport_socket())
      sm.tls = proxy::tls::compileUpstreamTransportSocket(m.transport_socket(), mpath + ".transport_socket", {}, sds);
    out->socket_matches.push_back(std::move(sm));
  }
  if (auto_protocol && !out->tls) {
    // Envoy: "ALPN configured for cluster X which has a non-ALPN transport socket".
    throw ConfigError(path + ".typed_extension_protocol_options: ALPN configured for cluster " + out->name +
                      " which has a non-ALPN transport socket (auto_config picks HTTP/2 or HTTP/1.1 by TLS ALPN)");
  }
  if (c.has_per_connection_buffer_limit_bytes()) out->buffer_limit = c.per_connection_buffer_limit_bytes().value();
  if (c.has_dns_refresh_rate()) {
    out->dns_refresh = weft::toMillis(c.dns_refresh_rate());
    if (out->dns_refresh.count() < 1) throw ConfigError(path + ".dns_refresh_rate: must be at least 1ms");
  }
  switch (c.dns_lookup_family()) {
    case cv3::Cluster::AUTO:
      out->dns_family = ClusterConfig::DnsFamily::Auto;
      break;
    case cv3::Cluster::V4_ONLY:
      out->dns_family = ClusterConfig::DnsFamily::V4Only;
      break;
    case cv3::Cluster::V6_ONLY:
      out->dns_family = ClusterConfig::DnsFamily::V6Only;
      break;
    case cv3::Cluster::V4_PREFERRED:
      out->dns_family = ClusterConfig::DnsFamily::V4Preferred;
      break;
    case cv3::Cluster::ALL:
      out->dns_family = ClusterConfig::DnsFamily::All;
      break;
    default:
      throw ConfigError(path + ".dns_lookup_family: unknown value");
  }
  if (c.has_original_dst_lb_config()) {
    if (!original_dst) throw ConfigError(path + ".original_dst_lb_config: only for ORIGINAL_DST clusters");
    if (c.original_dst_lb_config().use_http_header()) {
      out->original_dst_header = c.original_dst_lb_config().http_header_name().empty()
                                     ? "x-envoy-original-dst-host"
                                     : c.original_dst_lb_config().http_header_name();
    }
  }

  std::string stat_name = c.alt_stat_name().empty() ? c.name() : c.alt_stat_name();
  out->stat_rows = store.rows();
  out->stats = store.scope("cluster." + stat_name + ".", ClusterStats::kDefs, ClusterStats::kCount,
                           {{"envoy_cluster_name", stat_name}});
  out->grpc_stats = store.scope("cluster." + stat_name + ".grpc.", GrpcStats::kDefs, GrpcStats::kCount,
                                {{"envoy_cluster_name", stat_name}});
  if (c.has_outlier_detection()) {
    if (original_dst) throw ConfigError(path + ".outlier_detection: not supported for ORIGINAL_DST clusters");
    out->outlier =
        OutlierDetector::compile(c.outlier_detection(), path + ".outlier_detection",
                                 store.scope("cluster." + stat_name + ".outlier_detection.", OutlierStats::kDefs,
                                             OutlierStats::kCount, {{"envoy_cluster_name", stat_name}}));
  }
  if (c.health_checks_size() > 1) {
    throw ConfigError(path + ".health_checks: one health check per cluster is supported by weft-proxy");
  }
  if (c.health_checks_size() == 1) {
    if (original_dst) throw ConfigError(path + ".health_checks: not supported for ORIGINAL_DST clusters");
    out->health_check = HealthCheckConfig::compile(c.health_checks(0), path + ".health_checks[0]");
    out->health_check_stats = store.scope("cluster." + stat_name + ".health_check.", HealthCheckStats::kDefs,
                                          HealthCheckStats::kCount, {{"envoy_cluster_name", stat_name}});
  }
  out->locality_weighted = c.common_lb_config().has_locality_weighted_lb_config();
  if (c.common_lb_config().has_healthy_panic_threshold()) {
    double v = c.common_lb_config().healthy_panic_threshold().value();
    if (v < 0 || v > 100) throw ConfigError(path + ".common_lb_config.healthy_panic_threshold.value: must be 0-100");
    out->healthy_panic_threshold = v;
  }

  const auto& la = c.load_assignment();
  if (original_dst && la.endpoints_size() > 0) {
    throw ConfigError(path + ".load_assignment: ORIGINAL_DST clusters take no endpoints");
  }
  out->overprovisioning_factor = overprovisioningFactor(la, path + ".load_assignment");
  for (int li = 0; li < la.endpoints_size(); ++li) {
    const auto& loc = la.endpoints(li);
    std::string lpath = path + ".load_assignment.endpoints[" + std::to_string(li) + "]";
    LocalityWeight lw = localityWeightOf(loc, lpath);
    for (int ei = 0; ei < loc.lb_endpoints_size(); ++ei) {
      const auto& lbe = loc.lb_endpoints(ei);
      std::string epath = lpath + ".lb_endpoints[" + std::to_string(ei) + "]";
      const auto& sa = lbe.endpoint().address().socket_address();
      if (lbe.endpoint().address().has_pipe()) {
        // A unix socket, as Istio's bootstrap reaches the agent's SDS server.
        const auto& pipe = lbe.endpoint().address().pipe();
        if (out->type != ClusterConfig::Type::Static)
          throw ConfigError(epath + ".endpoint.address.pipe: only STATIC clusters take pipe addresses");
        if (!net::Address::unixPath(pipe.path()))
          throw ConfigError(epath + ".endpoint.address.pipe.path: '" + pipe.path() + "' is empty or too long");
        EndpointSpec e{pipe.path(),
                       0,
                       lbe.has_load_balancing_weight() ? lbe.load_balancing_weight().value() : 1,
                       lw.priority,
                       lw.locality,
                       true,
                       socketMatchMetadata(lbe.metadata())};
        out->endpoints.push_back(std::move(e));
        continue;
      }
      if (!lbe.endpoint().address().has_socket_address()) {
        throw ConfigError(epath + ".endpoint.address: a socket_address or pipe is required");
      }
      if (sa.port_value() == 0 || sa.port_value() > 65535) {
        throw ConfigError(epath + ".endpoint.address.socket_address.port_value: must be 1-65535");
      }
      if (sa.protocol() != envoy::config::core::v3::SocketAddress::TCP) {
        throw ConfigError(epath + ".endpoint.address.socket_address.protocol: only TCP is supported");
      }
      EndpointSpec e{sa.address(),
                     static_cast<uint16_t>(sa.port_value()),
                     lbe.has_load_balancing_weight() ? lbe.load_balancing_weight().value() : 1,
                     lw.priority,
                     lw.locality,
                     false,
                     socketMatchMetadata(lbe.metadata())};
      if (e.weight == 0) throw ConfigError(epath + ".load_balancing_weight: must be at least 1");
      if (out->type == ClusterConfig::Type::Static && !net::Address::parse(e.address, e.port)) {
        throw ConfigError(epath + ".endpoint.address.socket_address.address: '" + e.address +
                          "' is not an IP address (STATIC clusters need IPs; use STRICT_DNS for names)");
      }
      out->endpoints.push_back(std::move(e));
    }
    out->locality_weights.push_back(std::move(lw));
  }
  if (out->type == ClusterConfig::Type::LogicalDns && out->endpoints.size() != 1) {
    throw ConfigError(path + ".load_assignment: LOGICAL_DNS clusters take exactly one endpoint");
  }
  if (out->type == ClusterConfig::Type::Static) {
    std::vector<std::shared_ptr<const Host>> hosts;
    for (const auto& e : out->endpoints) {
      auto address = e.pipe ? net::Address::unixPath(e.address) : net::Address::parse(e.address, e.port);
      auto h = makeHost(*address, e.weight, stat_name, "", store.rows());
      h->socket_match = e.socket_match;
      h->priority = e.priority;
      h->locality = e.locality;
      hosts.push_back(std::move(h));
    }
    out->static_hosts = makeHostSet(std::move(hosts), out->locality_weights, out->overprovisioning_factor);
  }
  auto high = std::make_shared<ClusterConfig>(*out);
  high->limits = std::move(high_limits);
  high->source.Clear();  // /config_dump shows the cluster itself
  out->high_priority = std::move(high);
  return out;
}

}  // namespace weft::proxy::upstream
