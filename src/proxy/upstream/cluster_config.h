#pragma once
// A compiled envoy.config.cluster.v3.Cluster: its discovery type, load-balancing policy,
// timeouts and the hosts known at compile time. Immutable; host sets that change later (DNS,
// EDS) reach workers as new HostSet snapshots.
#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/net/address.h"
#include "common/stats/stats.h"
#include "common/tls/tls_context.h"
#include "proxy/tls/context_source.h"

namespace weft::proxy::tls {
class SdsSecrets;
}
#include "envoy/config/cluster/v3/cluster.pb.h"
#include "proxy/http/http2_options.h"
#include "proxy/upstream/host_health.h"
#include "proxy/upstream/resource_limits.h"

namespace weft::proxy::upstream {

#define WEFT_CLUSTER_STATS(COUNTER, GAUGE)                                                                          \
  COUNTER(upstream_cx_total)                                                                                        \
  GAUGE(upstream_cx_active)                                                                                         \
  COUNTER(upstream_cx_connect_fail)                                                                                 \
  COUNTER(upstream_cx_connect_timeout)                                                                              \
  COUNTER(upstream_cx_destroy)                                                                                      \
  COUNTER(upstream_cx_rx_bytes_total)                                                                               \
  COUNTER(upstream_cx_tx_bytes_total)                                                                               \
  COUNTER(upstream_cx_none_healthy)                                                                                 \
  COUNTER(upstream_rq_total)                                                                                        \
  GAUGE(upstream_rq_active)                                                                                         \
  COUNTER(upstream_rq_completed)                                                                                    \
  COUNTER(upstream_rq_1xx)                                                                                          \
  COUNTER(upstream_rq_2xx)                                                                                          \
  COUNTER(upstream_rq_3xx)                                                                                          \
  COUNTER(upstream_rq_4xx)                                                                                          \
  COUNTER(upstream_rq_5xx)                                                                                          \
  COUNTER(upstream_rq_timeout)                                                                                      \
  COUNTER(upstream_rq_rx_reset)                                                                                     \
  COUNTER(upstream_rq_retry)                                                                                        \
  COUNTER(upstream_cx_overflow)                                                                                     \
  COUNTER(upstream_rq_pending_overflow) COUNTER(upstream_rq_pending_total) GAUGE(upstream_rq_pending_active)        \
      GAUGE(membership_total) GAUGE(membership_healthy) COUNTER(update_success) COUNTER(update_failure)             \
          COUNTER(upstream_rq_retry_success) COUNTER(upstream_rq_retry_overflow)                                    \
              COUNTER(upstream_rq_retry_limit_exceeded) COUNTER(upstream_rq_retry_backoff_exponential)              \
                  COUNTER(upstream_rq_per_try_timeout) COUNTER(upstream_rq_per_try_idle_timeout)                    \
                      COUNTER(lb_healthy_panic) COUNTER(upstream_cx_max_requests) COUNTER(upstream_cx_idle_timeout) \
                          COUNTER(upstream_cx_max_duration_reached) COUNTER(upstream_cx_pool_overflow)
WEFT_STATS_STRUCT(ClusterStats, WEFT_CLUSTER_STATS)

#define WEFT_HOST_STATS(COUNTER, GAUGE) \
  GAUGE(cx_active)                      \
  COUNTER(cx_total)                     \
  COUNTER(cx_connect_fail) GAUGE(rq_active) COUNTER(rq_total) COUNTER(rq_success) COUNTER(rq_error) COUNTER(rq_timeout)
WEFT_STATS_STRUCT(HostStats, WEFT_HOST_STATS)

// cluster.<name>.grpc.<status> for each gRPC status code, and .success/.failure/.total:
// counted by the router for gRPC requests (Envoy's grpc_stats names without a method prefix).
struct GrpcStats {
  enum Index : size_t { kSuccess = 17, kFailure = 18, kTotal = 19, kCount = 20 };
  static constexpr ::weft::stats::StatDef kDefs[] = {
      {"0", stats::Kind::Counter},       {"1", stats::Kind::Counter},    {"2", stats::Kind::Counter},
      {"3", stats::Kind::Counter},       {"4", stats::Kind::Counter},    {"5", stats::Kind::Counter},
      {"6", stats::Kind::Counter},       {"7", stats::Kind::Counter},    {"8", stats::Kind::Counter},
      {"9", stats::Kind::Counter},       {"10", stats::Kind::Counter},   {"11", stats::Kind::Counter},
      {"12", stats::Kind::Counter},      {"13", stats::Kind::Counter},   {"14", stats::Kind::Counter},
      {"15", stats::Kind::Counter},      {"16", stats::Kind::Counter},   {"success", stats::Kind::Counter},
      {"failure", stats::Kind::Counter}, {"total", stats::Kind::Counter}};
};

// What outlier detection counts per host on the request path, from any worker.
struct OutlierCounters {
  std::atomic<uint32_t> consecutive_5xx{0}, consecutive_gateway{0}, consecutive_local{0};
  // This interval's requests (external and local origin), for success rate and failure %.
  std::atomic<uint64_t> ext_total{0}, ext_success{0}, local_total{0}, local_success{0};
};

struct Host : std::enable_shared_from_this<Host> {
  net::Address address;
  std::string address_string;  // "10.0.0.1:8080": access logs, /clusters
  std::string hostname;        // the endpoint's DNS name, if any
  uint32_t weight = 1;
  uint32_t priority = 0;  // EDS / load_assignment priority: 0 is the highest
  std::string locality;   // "region/zone/sub_zone" (empty parts allowed); "" for none
  // The endpoint's filter_metadata["envoy.transport_socket_match"] (Istio: tlsMode: istio),
  // values as text: picks the cluster's transport_socket_matches entry.
  std::vector<std::pair<std::string, std::string>> socket_match;
  std::shared_ptr<stats::Scope> stats;            // per host, shown by /clusters
  mutable std::atomic<uint32_t> health_flags{0};  // health::Flag bits
  mutable OutlierCounters outlier;
  bool healthy() const { return (health_flags.load(std::memory_order_relaxed) & health::kUnhealthy) == 0; }
};

// A LocalityLbEndpoints' load_balancing_weight, for locality_weighted_lb_config.
struct LocalityWeight {
  uint32_t priority = 0;
  std::string locality;
  uint32_t weight = 0;  // 0: the locality gets no load (Envoy's rule for an unset weight)
};

struct HostSet {
  std::vector<std::shared_ptr<const Host>> hosts;
  uint64_t total_weight = 0;
  bool equal_weights = true;
  uint32_t priorities = 1;  // 1 + the highest priority number among the hosts
  std::vector<LocalityWeight> locality_weights;
  uint32_t overprovisioning_factor = 140;  // percent, ClusterLoadAssignment.policy
};

struct EndpointSpec {
  std::string address;  // IP, or DNS name for STRICT_DNS/LOGICAL_DNS, or a unix socket path (pipe)
  uint16_t port = 0;
  uint32_t weight = 1;
  uint32_t priority = 0;
  std::string locality;
  bool pipe = false;  // Envoy's Address.pipe: a unix-domain socket (STATIC clusters only)
  std::vector<std::pair<std::string, std::string>> socket_match;  // Host::socket_match
};

// At most this many priority levels (a retry's excluded priorities are a 64-bit mask).
constexpr uint32_t kMaxPriorities = 64;
// "region/zone/sub_zone" of an envoy.config.core.v3.Locality ("" when all three are empty).
std::string localityName(const envoy::config::core::v3::Locality& l);
// A LocalityLbEndpoints' priority (checked against kMaxPriorities), locality and weight, and a
// ClusterLoadAssignment's overprovisioning factor; both throw ConfigError naming `path`.
LocalityWeight localityWeightOf(const envoy::config::endpoint::v3::LocalityLbEndpoints& loc, const std::string& path);
uint32_t overprovisioningFactor(const envoy::config::endpoint::v3::ClusterLoadAssignment& cla, const std::string& path);

class OutlierDetector;
struct HealthCheckConfig;

struct ClusterConfig {
  enum class Type { Static, StrictDns, LogicalDns, OriginalDst, Eds };
  enum class Lb { RoundRobin, LeastRequest, Random, ClusterProvided, RingHash, Maglev };
  enum class DnsFamily { Auto, V4Only, V6Only, V4Preferred, All };

  std::string name;
  // Istio's metadata.filter_metadata["istio"]: the first of `services` (what Istio's
  // destination_service labels name) and `external` (outside the mesh: no peer metadata sent).
  struct IstioService {
    std::string host, name, ns;
  };
  std::optional<IstioService> istio_service;
  bool istio_external = false;
  // `filters`: Istio's upstream TCP metadata exchange (istio.metadata_exchange): its ALPN
  // protocol (empty: none). tcp_proxy sessions exchange metadata when TLS negotiated it.
  std::string mx_protocol;
  Type type = Type::Static;
  Lb lb = Lb::RoundRobin;
  std::chrono::milliseconds connect_timeout{5000};
  // ring_hash_lb_config and maglev_lb_config, with Envoy's defaults.
  uint64_t ring_min_size = 1024, ring_max_size = 8 * 1024 * 1024;
  uint64_t maglev_table_size = 65537;
  // least_request_lb_config: hosts compared per pick, and how strongly requests in flight
  // lower a weighted host's share (weight / (active + 1)^bias).
  uint32_t lr_choice_count = 2;
  double lr_active_request_bias = 1.0;
  bool consistentHash() const { return lb == Lb::RingHash || lb == Lb::Maglev; }
  uint32_t buffer_limit = 1024 * 1024;
  std::chrono::milliseconds dns_refresh{5000};
  DnsFamily dns_family = DnsFamily::Auto;
  std::vector<EndpointSpec> endpoints;
  std::shared_ptr<const HostSet> static_hosts;           // STATIC: known now
  std::string original_dst_header;                       // ORIGINAL_DST with use_http_header
  std::string eds_service_name;                          // EDS: the ClusterLoadAssignment to subscribe to
  std::shared_ptr<const proxy::tls::ContextSource> tls;  // transport_socket: UpstreamTlsContext
  // transport_socket_matches: the first whose criteria the host's metadata has wins; none:
  // `tls` above. Istio's auto mTLS: tlsMode: istio -> ISTIO_MUTUAL, others plaintext.
  struct SocketMatch {
    std::string name;
    std::vector<std::pair<std::string, std::string>> criteria;
    std::shared_ptr<const proxy::tls::ContextSource> tls;  // null: plaintext
  };
  std::vector<SocketMatch> socket_matches;
  const proxy::tls::ContextSource* tlsFor(const Host& host) const;
  // Every TLS context of the cluster has its certificates (SDS): the cluster is warm.
  bool tlsReady() const;
  std::optional<net::Address> bind_source;  // upstream_bind_config.source_address (port 0: any)
  // upstream_connection_options.tcp_keepalive (0: the kernel's value for that one).
  struct TcpKeepalive {
    uint32_t probes = 0, time = 0, interval = 0;
  };
  std::optional<TcpKeepalive> tcp_keepalive;
  // typed_extension_protocol_options' HttpProtocolOptions: the protocol spoken upstream.
  // Auto (auto_config): HTTP/2 when TLS ALPN picks "h2", else HTTP/1.1; learnt per host.
  enum class Protocol { Http1, Http2, UseDownstream, Auto } protocol = Protocol::Http1;
  // upstream_http_protocol_options: SNI from the request's host (or override_auto_sni_header),
  // and the certificate checked against it.
  bool auto_sni = false;
  bool auto_san_validation = false;
  std::string override_auto_sni_header;  // lower case; empty: the host
  http::Http2Options http2;
  // common_http_protocol_options: a connection idle this long is closed (Envoy's upstream default
  // 1 h; 0: never), and one that carried max_requests_per_connection requests (0: no limit).
  std::chrono::milliseconds idle_timeout{3600 * 1000};
  uint32_t max_requests_per_connection = 0;
  // common_http_protocol_options.max_connection_duration: an older connection takes no new
  // request and closes once idle (0: no limit).
  std::chrono::milliseconds max_connection_duration{0};
  // Response head limits (common_http_protocol_options.max_headers_count, max_response_headers_kb).
  uint32_t max_response_headers_count = 100;
  size_t max_response_headers_bytes = 60 * 1024;
  // circuit_breakers: counted across workers; Envoy's defaults without config.
  std::shared_ptr<ResourceLimits> limits = std::make_shared<ResourceLimits>(1024, 1024, 1024);
  // The cluster for priority HIGH routes: this config with the HIGH thresholds (null in itself).
  std::shared_ptr<const ClusterConfig> high_priority;
  // outlier_detection (null: none). Shared by every worker's view; ejections are the main thread's.
  std::shared_ptr<OutlierDetector> outlier;
  // health_checks (null: none): run by the main thread's HealthChecker.
  std::shared_ptr<const HealthCheckConfig> health_check;
  std::shared_ptr<stats::Scope> health_check_stats;
  // common_lb_config.healthy_panic_threshold: below this percentage of healthy hosts the load
  // balancer uses all of them (0 turns panic mode off).
  double healthy_panic_threshold = 50;
  // common_lb_config.locality_weighted_lb_config: within a priority, localities get load in
  // proportion to their weights scaled by their healthy share.
  bool locality_weighted = false;
  std::vector<LocalityWeight> locality_weights;  // of load_assignment
  uint32_t overprovisioning_factor = 140;        // of load_assignment.policy
  std::shared_ptr<stats::Scope> stats;
  // Envoy's histogram envoy_cluster_upstream_rq_time{envoy_cluster_name} (ms, per request).
  std::shared_ptr<stats::Family> rq_time;
  // Envoy's histogram envoy_cluster_upstream_cx_connect_ms{envoy_cluster_name} (ms, per connection).
  std::shared_ptr<stats::Family> cx_connect_ms;
  std::shared_ptr<stats::Scope> grpc_stats;
  uint32_t stat_rows = 1;                      // rows of per-host stats (workers + main thread)
  envoy::config::cluster::v3::Cluster source;  // for /config_dump
};

// Compiles a cluster; throws ConfigError naming `path`. `sds` serves TLS contexts that use SDS.
std::shared_ptr<const ClusterConfig> compileCluster(const envoy::config::cluster::v3::Cluster& c,
                                                    const std::string& path, stats::Store& store,
                                                    proxy::tls::SdsSecrets* sds = nullptr);

// An endpoint's filter_metadata["envoy.transport_socket_match"], as Host::socket_match.
std::vector<std::pair<std::string, std::string>> socketMatchMetadata(const envoy::config::core::v3::Metadata& md);

std::shared_ptr<Host> makeHost(const net::Address& addr, uint32_t weight, const std::string& cluster,
                               const std::string& hostname, uint32_t stat_rows);
std::shared_ptr<const HostSet> makeHostSet(std::vector<std::shared_ptr<const Host>> hosts,
                                           std::vector<LocalityWeight> locality_weights = {},
                                           uint32_t overprovisioning_factor = 140);
// A new membership keeps the Host objects (their stats, health and outlier state) of the hosts
// it shares with `previous` (same address, weight, priority and locality), as Envoy keeps its hosts.
std::shared_ptr<const HostSet> keepKnownHosts(std::vector<std::shared_ptr<const Host>> hosts, const HostSet* previous,
                                              std::vector<LocalityWeight> locality_weights = {},
                                              uint32_t overprovisioning_factor = 140);

}  // namespace weft::proxy::upstream
