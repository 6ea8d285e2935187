#pragma once
// The Kubernetes and Istio resources weftd understands, decoded from their YAML into plain
// structs (Istio's own field names, unchanged). Only what weftd acts on is kept; every field
// a decoder does not know is rejected by validation, never silently dropped.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace weft::control {

using Labels = std::map<std::string, std::string>;

struct ObjectMeta {
  std::string name;
  std::string ns = "default";
  Labels labels;
  std::map<std::string, std::string> annotations;
};

// --- Kubernetes ---------------------------------------------------------------------------
struct ServicePort {
  std::string name;
  uint32_t port = 0;
  uint32_t target_port = 0;      // 0: same as port (or named, below)
  std::string target_port_name;  // a named targetPort: the Pods' container port of that name
  std::string protocol = "TCP";
  std::string app_protocol;
};
struct Service {
  ObjectMeta meta;
  Labels selector;
  std::string cluster_ip;
  std::vector<ServicePort> ports;
};
struct EndpointAddress {
  std::string ip;
  std::string pod;  // targetRef name when it names a Pod
};
struct EndpointPort {
  std::string name;
  uint32_t port = 0;
};
struct EndpointSubset {
  std::vector<EndpointAddress> addresses;
  std::vector<EndpointPort> ports;
};
struct Endpoints {
  ObjectMeta meta;
  std::vector<EndpointSubset> subsets;
};
// discovery.k8s.io/v1 EndpointSlice: what Kubernetes >= 1.21 publishes instead of Endpoints.
struct EndpointSlice {
  ObjectMeta meta;
  std::string service;                     // label kubernetes.io/service-name
  std::vector<EndpointAddress> endpoints;  // ready ones only
  std::vector<EndpointPort> ports;
};
struct Pod {
  ObjectMeta meta;
  std::string ip;
  std::string service_account = "default";
  std::map<std::string, uint32_t> container_ports;  // by name, for a Service's named targetPort
  // As Kubernetes' endpoints controller reads it: the Ready condition (true when absent) and
  // not finished (phase Succeeded or Failed).
  bool ready = true;
  std::string node_name;  // spec.nodeName: its Node's topology labels give the locality
};
struct Namespace {
  ObjectMeta meta;
};
// Its labels (topology.kubernetes.io/region and zone, topology.istio.io/subzone: the locality of
// its pods) and its kubelet's version (native sidecars need 1.33).
struct Node {
  ObjectMeta meta;
  std::string kubelet_version;  // status.nodeInfo.kubeletVersion, e.g. "v1.33.1"
};

// Only one ConfigMap means something to weftd: `istio` in istio-system, whose `mesh` is the
// MeshConfig (as istiod reads it). Others are kept but not used.
struct ConfigMap {
  ObjectMeta meta;
  std::map<std::string, std::string> data;
  bool isMeshConfig() const { return meta.name == "istio" && meta.ns == "istio-system"; }
};

// --- Istio networking ------------------------------------------------------------------------
struct StringMatch {
  // Present: `{}`, no match type (Istio's CRD allows it): the header or parameter is there.
  enum class Kind { Exact, Prefix, Regex, Present } kind = Kind::Exact;
  std::string value;
};
struct HttpMatch {
  std::string name;
  std::optional<StringMatch> uri;
  std::optional<StringMatch> method;
  std::optional<StringMatch> authority;
  std::map<std::string, StringMatch> headers;
  std::map<std::string, StringMatch> without_headers;
  std::map<std::string, StringMatch> query_params;
  uint32_t port = 0;
  Labels source_labels;
  bool ignore_uri_case = false;
};
struct Destination {
  std::string host;
  std::string subset;
  uint32_t port = 0;
};
struct HeaderOps {
  std::map<std::string, std::string> set;
  std::map<std::string, std::string> add;
  std::vector<std::string> remove;
};
struct RouteDestination {
  Destination destination;
  int32_t weight = 0;
  bool weight_set = false;
  HeaderOps request_headers;
  HeaderOps response_headers;
};
struct HttpRoute {
  std::string name;
  std::vector<HttpMatch> match;
  std::vector<RouteDestination> route;
  struct Redirect {
    std::string uri;
    std::string authority;
    uint32_t port = 0;
    std::string scheme;
    int code = 301;
  };
  std::optional<Redirect> redirect;
  struct DirectResponse {
    int status = 200;
    std::string body;
  };
  std::optional<DirectResponse> direct_response;
  struct Rewrite {
    std::string uri;
    std::string authority;
  };
  std::optional<Rewrite> rewrite;
  std::optional<int64_t> timeout_ms;
  // mirror (+ mirrorPercentage) and mirrors: copies of the request, fire and forget.
  struct Mirror {
    Destination destination;
    double percent = 100;       // 0: Istio sends no mirror
    bool from_percent = false;  // given as a Percent (per million in xDS), else an integer (per hundred)
  };
  std::vector<Mirror> mirrors;
  // HTTPRetry. Unset: Istio's default policy; attempts 0: no retries.
  struct Retries {
    int64_t attempts = 0;
    std::optional<int64_t> per_try_timeout_ms;
    std::string retry_on;  // Envoy's conditions and HTTP status codes, comma separated
    std::optional<bool> retry_ignore_previous_hosts;
    bool retry_remote_localities = false;  // retries leave the priority (locality) tried
    std::optional<int64_t> backoff_ms;
  };
  std::optional<Retries> retries;
  HeaderOps request_headers;
  HeaderOps response_headers;
  // HTTPFaultInjection: percentages are Istio's (0..100, fractional).
  struct Fault {
    struct Delay {
      int64_t fixed_ms = 0;
      double percent = 100;
    };
    struct Abort {
      std::optional<int> http_status;
      std::optional<int> grpc_status;
      double percent = 100;
    };
    std::optional<Delay> delay;
    std::optional<Abort> abort;
  };
  std::optional<Fault> fault;
  struct Cors {
    std::vector<StringMatch> allow_origins;
    std::vector<std::string> allow_methods;
    std::vector<std::string> allow_headers;
    std::vector<std::string> expose_headers;
    std::optional<int64_t> max_age_ms;
    std::optional<bool> allow_credentials;
    bool forward_unmatched_preflights = true;  // unmatchedPreflights: FORWARD (Istio's default)
  };
  std::optional<Cors> cors;
};
struct TcpRoute {
  std::vector<RouteDestination> route;
  uint32_t match_port = 0;
};
struct VirtualService {
  ObjectMeta meta;
  std::vector<std::string> hosts;
  std::vector<std::string> gateways;
  std::vector<std::string> export_to;
  std::vector<HttpRoute> http;
  std::vector<TcpRoute> tcp;
  std::vector<std::string> warnings;  // Istio's validation warnings ("path: message")
};
// LoadBalancerSettings.ConsistentHashLB: what to hash, and the ring or Maglev table.
struct ConsistentHash {
  enum class Key { None, Header, Cookie, SourceIp, QueryParameter } key = Key::None;
  std::string name;  // header, cookie or query parameter name
  std::string cookie_path;
  std::optional<int64_t> cookie_ttl_ms;
  std::vector<std::pair<std::string, std::string>> cookie_attributes;
  bool maglev = false;
  bool ring_hash = false;      // ringHash given (its minimumRingSize may be 0: Envoy's default)
  uint64_t ring_min_size = 0;  // ringHash.minimumRingSize, or the deprecated minimumRingSize
  uint64_t maglev_table_size = 0;
};
// LocalityLoadBalancerSetting: weights between localities, or the failover order.
struct LocalityLbSetting {
  struct Distribute {
    std::string from;
    std::vector<std::pair<std::string, uint32_t>> to;  // locality (may end in '*') -> weight
  };
  struct Failover {
    std::string from, to;  // regions
  };
  std::vector<Distribute> distribute;
  std::vector<Failover> failover;
  std::vector<std::string> failover_priority;  // label names, or "label=value"
  std::optional<bool> enabled;
};
struct LoadBalancer {
  std::string simple;  // ROUND_ROBIN, LEAST_REQUEST, RANDOM (others rejected until implemented)
  std::optional<ConsistentHash> consistent_hash;
  std::optional<LocalityLbSetting> locality;
};
// ConnectionPoolSettings: the parts weftd translates (the rest is refused by validation).
struct ConnectionPool {
  struct Tcp {
    std::optional<int64_t> max_connections;
    std::optional<int64_t> connect_timeout_ms;
    std::optional<int64_t> idle_timeout_ms;
    std::optional<int64_t> max_connection_duration_ms;
    struct Keepalive {
      std::optional<int64_t> probes, time_ms, interval_ms;
    };
    std::optional<Keepalive> keepalive;
  };
  struct Http {
    std::optional<int64_t> http1_max_pending_requests, http2_max_requests, max_retries;
    std::optional<int64_t> max_requests_per_connection, idle_timeout_ms, max_concurrent_streams;
    enum class H2Upgrade { Default, DoNotUpgrade, Upgrade } h2_upgrade = H2Upgrade::Default;
    bool use_client_protocol = false;
  };
  std::optional<Tcp> tcp;
  std::optional<Http> http;
};
// OutlierDetection, as Istio's API has it (unset wrappers stay unset).
struct OutlierDetection {
  std::optional<int64_t> consecutive_5xx_errors, consecutive_gateway_errors, consecutive_local_origin_failures;
  std::optional<int64_t> interval_ms, base_ejection_time_ms;
  int64_t max_ejection_percent = 0;
  int64_t min_health_percent = 0;
  bool split_external_local_origin_errors = false;
};
// PortTrafficPolicy: a port's settings replace the policy's own, field by field.
// DestinationRule trafficPolicy.tls (ClientTLSSettings).
// SIMPLE and MUTUAL take files in the workload's filesystem (credentialName waits for
// Kubernetes secrets).
struct ClientTls {
  enum class Mode { Disable, Simple, Mutual, IstioMutual };
  Mode mode = Mode::Disable;
  std::string sni;
  std::vector<std::string> subject_alt_names;
  std::string client_certificate, private_key, ca_certificates;  // paths
  bool insecure_skip_verify = false;
};
struct PortTrafficPolicy {
  uint32_t port = 0;
  std::optional<LoadBalancer> load_balancer;
  std::optional<ConnectionPool> connection_pool;
  std::optional<OutlierDetection> outlier_detection;
  std::optional<ClientTls> tls;
};
struct TrafficPolicy {
  std::optional<ClientTls> tls;
  std::optional<LoadBalancer> load_balancer;
  std::optional<ConnectionPool> connection_pool;
  std::optional<OutlierDetection> outlier_detection;
  std::vector<PortTrafficPolicy> port_level_settings;
};
struct Subset {
  std::string name;
  Labels labels;
  std::optional<TrafficPolicy> traffic_policy;
};
struct DestinationRule {
  ObjectMeta meta;
  std::string host;
  std::optional<TrafficPolicy> traffic_policy;
  std::vector<Subset> subsets;
  std::vector<std::string> export_to;
  std::vector<std::string> warnings;  // Istio's validation warnings
};
struct ServiceEntryPort {
  uint32_t number = 0;
  std::string protocol;
  std::string name;
  uint32_t target_port = 0;
};
struct WorkloadEntrySpec {
  std::string address;
  std::string network;
  std::map<std::string, uint32_t> ports;        // the valid ones
  std::map<std::string, int64_t> port_numbers;  // as written, for validation
  Labels labels;
  uint32_t weight = 0;
  std::string service_account;
  std::string locality;  // "region/zone/subzone"
};
struct ServiceEntry {
  ObjectMeta meta;
  std::vector<std::string> hosts;
  std::vector<std::string> addresses;
  std::vector<ServiceEntryPort> ports;
  std::string location = "MESH_EXTERNAL";
  std::string resolution = "NONE";
  std::vector<WorkloadEntrySpec> endpoints;
  bool has_workload_selector = false;
  Labels workload_selector;
  std::vector<std::string> export_to;
  std::vector<std::string> subject_alt_names;  // the identities its TLS servers present
  std::vector<std::string> warnings;           // Istio's validation warnings ("path: message")
};
struct WorkloadEntry {
  ObjectMeta meta;
  WorkloadEntrySpec spec;
  std::vector<std::string> warnings;
};
struct Sidecar {
  ObjectMeta meta;
  Labels workload_selector;
  std::vector<std::string> egress_hosts;  // "ns/host" forms, as Istio writes them
  std::vector<std::string> warnings;      // Istio's validation warnings
};

// --- security.istio.io ----------------------------------------------------------------------
enum class MtlsMode { Unset, Disable, Permissive, Strict };
// PeerAuthentication: the mutual TLS a workload accepts. Without a selector it applies to its
// namespace (mesh-wide in the root namespace); portLevelMtls needs a selector.
struct PeerAuthentication {
  ObjectMeta meta;
  Labels selector;  // matchLabels; empty: namespace- or mesh-wide
  MtlsMode mode = MtlsMode::Unset;
  std::map<uint32_t, MtlsMode> port_modes;  // portLevelMtls, by workload (target) port
  std::vector<std::string> warnings;        // Istio's validation warnings ("path: message")
};

// AuthorizationPolicy: who may do what to a workload. Values keep Istio's forms (exact,
// "prefix*", "*suffix", "*"); each field pairs with its not* negation.
struct AuthzField {
  std::vector<std::string> values, not_values;
  bool empty() const { return values.empty() && not_values.empty(); }
};
struct AuthzSource {
  AuthzField principals, namespaces, ip_blocks, remote_ip_blocks, request_principals, service_accounts, trust_domains;
};
struct AuthzOperation {
  AuthzField hosts, ports, methods, paths;
};
struct AuthzCondition {
  std::string key;  // request.headers[x], source.ip, remote.ip, source.namespace, source.principal,
                    // source.serviceAccount, source.trustDomain, request.auth.principal,
                    // request.auth.audiences, request.auth.presenter, request.auth.claims[x][y],
                    // destination.ip, destination.port, connection.sni
  AuthzField values;
};
struct AuthzRule {
  std::vector<AuthzSource> from;
  std::vector<AuthzOperation> to;
  std::vector<AuthzCondition> when;
};
// RequestAuthentication: the JWTs a workload accepts (a request without one still passes, as
// Istio; AuthorizationPolicy decides what it may do).
struct JwtRule {
  std::string issuer;
  std::vector<std::string> audiences;
  std::string jwks;  // inline JWKS JSON; after loading, the fetched key set for jwksUri
  std::vector<std::pair<std::string, std::string>> from_headers;  // name, prefix
  std::vector<std::string> from_params;
  std::vector<std::string> from_cookies;
  std::vector<std::string> space_delimited_claims;  // besides Istio's "scope" and "permission"
  std::string jwks_uri;                             // fetched by weftd when `jwks` is empty
  std::optional<int64_t> fetch_timeout_ms;          // `timeout`: how long weftd waits for the keys
  bool forward_original_token = false;
  std::string output_payload_to_header;
  std::vector<std::pair<std::string, std::string>> output_claim_to_headers;  // header, claim
};
struct RequestAuthentication {
  ObjectMeta meta;
  Labels selector;
  std::vector<JwtRule> jwt_rules;
  std::vector<std::string> warnings;  // Istio's validation warnings ("path: message")
};

struct AuthorizationPolicy {
  ObjectMeta meta;
  Labels selector;  // matchLabels; empty: the namespace (mesh-wide in the root namespace)
  enum class Action { Allow, Deny, Audit } action = Action::Allow;
  std::vector<AuthzRule> rules;
  bool dry_run = false;               // istio.io/dry-run: counted (shadow rules), not enforced
  std::vector<std::string> warnings;  // Istio's validation warnings ("path: message")
};

// telemetry.istio.io Telemetry: the access logs and metrics of the workloads it selects.
enum class WorkloadMode { ClientAndServer, Client, Server };
struct TelemetryAccessLogging {
  WorkloadMode mode = WorkloadMode::ClientAndServer;
  std::vector<std::string> providers;  // empty: the parent's (meshConfig.defaultProviders)
  std::optional<bool> disabled;
  std::string filter;  // filter.expression (CEL); empty: none
};
struct TelemetryMetricOverride {
  std::vector<std::string> metrics;  // Istio's names (REQUEST_COUNT ...); ALL_METRICS expanded
  bool all_metrics = false;
  WorkloadMode mode = WorkloadMode::ClientAndServer;
  std::optional<bool> disabled;
  std::vector<std::string> remove_tags;            // tagOverrides with operation REMOVE
  std::map<std::string, std::string> upsert_tags;  // tagOverrides with operation UPSERT: tag -> CEL
};
struct TelemetryMetrics {
  std::vector<std::string> providers;
  std::optional<int64_t> reporting_interval_ms;  // TCP byte reports (Istio's default 5 s)
  std::vector<TelemetryMetricOverride> overrides;
};
struct TelemetryCustomTag {
  std::string name;
  enum class Kind { Literal, Environment, Header } kind = Kind::Literal;
  std::string value;  // literal value, environment variable or header name
  std::string default_value;
};
struct TelemetryTracing {
  WorkloadMode mode = WorkloadMode::ClientAndServer;
  std::vector<std::string> providers;
  std::optional<double> random_sampling_percentage;
  std::optional<bool> disable_span_reporting;
  std::vector<TelemetryCustomTag> custom_tags;
};
struct Telemetry {
  ObjectMeta meta;
  Labels selector;
  std::vector<TelemetryAccessLogging> access_logging;
  std::vector<TelemetryMetrics> metrics;
  std::vector<TelemetryTracing> tracing;
  std::vector<std::string> warnings;  // Istio's validation warnings ("path: message")
};

}  // namespace weft::control
