#include "proxy/config/field_support.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/config/error.h"
#include "common/config/yaml_json.h"
#include "envoy/config/bootstrap/v3/bootstrap.pb.h"
#include "envoy/config/cluster/v3/cluster.pb.h"
#include "envoy/config/listener/v3/listener.pb.h"
#include "proxy/proxy_test_support.h"

namespace weft::proxy::config {
namespace {

using envoy::config::bootstrap::v3::Bootstrap;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;
using weft::testing::fromYaml;

constexpr const char* kHcm =
    "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";

// Everything weft-proxy implements, used together. None of it may be reported.
constexpr const char* kSupportedBootstrap = R"(
node: {id: n1, cluster: c1, metadata: {anything: [1, 2, {deep: true}]}, locality: {zone: z}}
admin:
  address: {socket_address: {address: 127.0.0.1, port_value: 9901}}
  access_log_path: /dev/null
static_resources:
  listeners:
  - name: http
    address: {socket_address: {address: 0.0.0.0, port_value: 10000}}
    per_connection_buffer_limit_bytes: 65536
    traffic_direction: INBOUND
    stat_prefix: http_in
    metadata: {filter_metadata: {x: {y: z}}}
    filter_chains:
    - name: chain
      filter_chain_match:
        destination_port: 10000
        prefix_ranges: [{address_prefix: 10.0.0.0, prefix_len: 8}]
        source_prefix_ranges: [{address_prefix: 192.168.0.0, prefix_len: 16}]
        source_ports: [1234]
        source_type: EXTERNAL
      filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ingress
          codec_type: AUTO
          use_remote_address: true
          skip_xff_append: false
          generate_request_id: true
          preserve_external_request_id: true
          server_name: weft
          strip_matching_host_port: true
          max_request_headers_kb: 96
          stream_idle_timeout: 60s
          request_timeout: 30s
          drain_timeout: 2s
          delayed_close_timeout: 1s
          common_http_protocol_options: {idle_timeout: 300s}
          http_protocol_options: {accept_http_10: true}
          upgrade_configs: [{upgrade_type: websocket, enabled: true}]
          access_log:
          - name: envoy.access_loggers.file
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
              path: /dev/stdout
              log_format: {text_format_source: {inline_string: "%RESPONSE_CODE%\n"}}
          - name: envoy.access_loggers.stdout
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog
          route_config:
            name: routes
            validate_clusters: false
            request_headers_to_add: [{header: {key: x-a, value: b}, append_action: ADD_IF_ABSENT}]
            response_headers_to_remove: [server]
            virtual_hosts:
            - name: vh
              domains: ["*"]
              routes:
              - name: r1
                match:
                  prefix: /api
                  case_sensitive: false
                  headers:
                  - {name: x-env, string_match: {exact: prod, ignore_case: true}, invert_match: false}
                  - {name: x-missing, present_match: true, treat_missing_header_as_empty: true}
                  - {name: x-re, safe_regex_match: {regex: "a.*"}}
                  query_parameters:
                  - {name: q, string_match: {safe_regex: {regex: "[0-9]+"}}}
                  - {name: debug, present_match: true}
                route:
                  weighted_clusters:
                    total_weight: 10
                    clusters:
                    - {name: a, weight: 9, request_headers_to_add: [{header: {key: x-v, value: a}}]}
                    - {name: b, weight: 1, response_headers_to_remove: [x-internal]}
                  timeout: 5s
                  prefix_rewrite: /
                  host_rewrite_literal: internal
                decorator: {operation: op}
                metadata: {filter_metadata: {a: {b: c}}}
              - match: {path: /redirect}
                redirect: {https_redirect: true, response_code: FOUND, strip_query: true}
              - match: {safe_regex: {regex: "/direct/.*"}}
                direct_response: {status: 200, body: {inline_string: ok}}
              - match: {path_separated_prefix: /sep}
                route: {cluster: a}
          http_filters:
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
              suppress_envoy_headers: true
    default_filter_chain:
      filters:
      - name: envoy.filters.network.tcp_proxy
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
          stat_prefix: tcp
          weighted_clusters: {clusters: [{name: a, weight: 1}, {name: b, weight: 2}]}
          idle_timeout: 10s
  clusters:
  - name: a
    type: STATIC
    connect_timeout: 1s
    lb_policy: LEAST_REQUEST
    per_connection_buffer_limit_bytes: 32768
    alt_stat_name: a_stats
    metadata: {filter_metadata: {istio: {k: v}}}
    load_assignment:
      cluster_name: a
      endpoints:
      - locality: {region: r}
        load_balancing_weight: 1
        priority: 0
        lb_endpoints:
        - endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: 8080, protocol: TCP}}, hostname: h}
          load_balancing_weight: 2
          health_status: HEALTHY
          metadata: {filter_metadata: {x: {}}}
  - name: b
    type: STRICT_DNS
    dns_lookup_family: V4_ONLY
    dns_refresh_rate: 5s
    load_assignment:
      cluster_name: b
      endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: b.local, port_value: 80}}}}]}]
  - name: passthrough
    type: ORIGINAL_DST
    lb_policy: CLUSTER_PROVIDED
    cleanup_interval: 60s
    original_dst_lb_config: {use_http_header: true, http_header_name: x-dst}
)";

TEST(FieldSupportTest, FullySupportedBootstrapHasNoErrors) {
  auto b = fromYaml<Bootstrap>(kSupportedBootstrap);
  EXPECT_THAT(unsupportedFields(b, ""), IsEmpty());
  EXPECT_NO_THROW(requireSupportedFields(b, ""));
}

TEST(FieldSupportTest, ShippedExampleBootstrapIsSupported) {
  // Relative to the source tree: ctest runs the unit tests from there.
  Bootstrap b;
  weft::config::loadMessageFromFile("examples/proxy/bootstrap.yaml", b);
  EXPECT_THAT(unsupportedFields(b, ""), IsEmpty());
}

TEST(FieldSupportTest, UnsupportedFieldsAreNamedWithExactPaths) {
  auto b = fromYaml<Bootstrap>(R"(
static_resources:
  listeners:
  - name: l
    address: {socket_address: {address: 0.0.0.0, port_value: 80}}
    listener_filters:
    - name: envoy.filters.listener.original_dst
      typed_config: {"@type": type.googleapis.com/google.protobuf.Empty}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: s
          route_config:
            virtual_hosts:
            - name: v
              domains: ["*"]
              routes:
              - match: {prefix: /}
                route: {cluster: a, hash_policy: [{filter_state: {key: x}}]}
          http_filters:
          - name: envoy.filters.http.router
            typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}
  clusters:
  - name: ok
    connect_timeout: 1s
  - name: a
    connect_timeout: 1s
    lrs_server: {ads: {}}
)");
  EXPECT_THAT(
      unsupportedFields(b, ""),
      UnorderedElementsAre(
          "static_resources.listeners[0].listener_filters[0].typed_config: type 'google.protobuf.Empty' (name "
          "'envoy.filters.listener.original_dst') is not supported by weft-proxy",
          "static_resources.listeners[0].filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[0]."
          "routes[0].route.hash_policy[0].filter_state: not supported by weft-proxy",
          "static_resources.clusters[1].lrs_server: not supported by weft-proxy"));
}

TEST(FieldSupportTest, PathPrefixIsPrepended) {
  auto c = fromYaml<envoy::config::cluster::v3::Cluster>("name: a\nlrs_server: {ads: {}}\n");
  EXPECT_THAT(unsupportedFields(c, "xDS Cluster 'a'"),
              ElementsAre("xDS Cluster 'a'.lrs_server: not supported by weft-proxy"));
}

TEST(FieldSupportTest, TypedConfigOfAnUnsupportedTypeIsNamed) {
  auto l = fromYaml<envoy::config::listener::v3::Listener>(R"(
name: l
filter_chains:
- filters:
  - name: envoy.filters.network.http_connection_manager
    typed_config:
      "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
      stat_prefix: s
      http_filters:
      - name: envoy.filters.http.health_check
        typed_config: {"@type": type.googleapis.com/envoy.config.cluster.v3.LoadBalancingPolicy}
      - name: envoy.filters.http.router
        typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}
)");
  EXPECT_THAT(
      unsupportedFields(l, "listener"),
      ElementsAre("listener.filter_chains[0].filters[0].typed_config.http_filters[0].typed_config: type "
                  "'envoy.config.cluster.v3.LoadBalancingPolicy' (name 'envoy.filters.http.health_check') is not "
                  "supported by weft-proxy"));
}

TEST(FieldSupportTest, TypedConfigOfAnUnknownTypeIsNamed) {
  envoy::config::listener::v3::Listener l;
  l.set_name("l");
  auto* f = l.add_filter_chains()->add_filters();
  f->set_name("custom");
  f->mutable_typed_config()->set_type_url("type.googleapis.com/acme.filters.v1.Magic");
  EXPECT_THAT(
      unsupportedFields(l, ""),
      ElementsAre(
          "filter_chains[0].filters[0].typed_config: type 'acme.filters.v1.Magic' (name 'custom') is not supported by "
          "weft-proxy"));
}

TEST(FieldSupportTest, AnUnsupportedMessageTypeIsNamed) {
  envoy::config::cluster::v3::LoadBalancingPolicy p;
  p.add_policies();
  EXPECT_THAT(unsupportedFields(p, "p"),
              ElementsAre("p: envoy.config.cluster.v3.LoadBalancingPolicy is not supported by weft-proxy"));
}

TEST(FieldSupportTest, BootstrapLevelFields) {
  auto b = fromYaml<Bootstrap>(R"(
stats_flush_interval: 5s
dynamic_resources: {ads_config: {api_type: GRPC, rate_limit_settings: {}}}
)");
  EXPECT_THAT(unsupportedFields(b, ""),
              UnorderedElementsAre("stats_flush_interval: not supported by weft-proxy",
                                   "dynamic_resources.ads_config.rate_limit_settings: not supported by weft-proxy"));
}

TEST(FieldSupportTest, FieldsThatOnlyMatterWithAnotherSettingAreInertWithoutIt) {
  // ring_hash_lb_config changes nothing under ROUND_ROBIN, nor dns_* on a STATIC cluster.
  auto c = fromYaml<envoy::config::cluster::v3::Cluster>(
      "name: a\nlb_policy: round_robin\nring_hash_lb_config: {minimum_ring_size: 64}\n"
      "dns_failure_refresh_rate: {base_interval: 1s}\nrespect_dns_ttl: true\n");
  EXPECT_THAT(unsupportedFields(c, ""), IsEmpty());
  // Under the setting they belong to, they are read, and refused when weft-proxy cannot.
  c = fromYaml<envoy::config::cluster::v3::Cluster>(
      "name: a\ntype: strict_dns\nlb_policy: round_robin\nround_robin_lb_config: {slow_start_config: {}}\n"
      "respect_dns_ttl: true\n");
  EXPECT_THAT(unsupportedFields(c, ""), UnorderedElementsAre("round_robin_lb_config: not supported by weft-proxy",
                                                             "respect_dns_ttl: not supported by weft-proxy"));
}

TEST(FieldSupportTest, EmptyDefaultMessagesAreAcceptedTheirFieldsAreNot) {
  auto b = fromYaml<Bootstrap>("cluster_manager: {}\nlayered_runtime: {layers: [{name: a, admin_layer: {}}]}\n");
  EXPECT_THAT(unsupportedFields(b, ""), IsEmpty());
  b = fromYaml<Bootstrap>("cluster_manager: {local_cluster_name: x}\n");
  EXPECT_THAT(unsupportedFields(b, ""), ElementsAre("cluster_manager.local_cluster_name: not supported by weft-proxy"));
}

TEST(FieldSupportTest, RequireSupportedFieldsListsEveryError) {
  auto c = fromYaml<envoy::config::cluster::v3::Cluster>(
      "name: a\nlrs_server: {ads: {}}\n"
      "circuit_breakers: {thresholds: [{max_connections: 1}], per_host_thresholds: [{max_connections: 2}]}\n");
  try {
    requireSupportedFields(c, "cluster");
    FAIL() << "no ConfigError";
  } catch (const ConfigError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("cluster.lrs_server: not supported by weft-proxy"), std::string::npos) << msg;
    EXPECT_NE(msg.find("cluster.circuit_breakers.per_host_thresholds: not supported by weft-proxy"), std::string::npos)
        << msg;
    EXPECT_NE(msg.find('\n'), std::string::npos) << msg;
  }
}

}  // namespace
}  // namespace weft::proxy::config
