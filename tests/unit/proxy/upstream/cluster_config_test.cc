#include "proxy/upstream/cluster_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/config/error.h"
#include "proxy/proxy_test_support.h"
#include "proxy/upstream/health_checker.h"

namespace weft::proxy::upstream {
namespace {

using envoy::config::cluster::v3::Cluster;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using weft::testing::fromYaml;

std::shared_ptr<const ClusterConfig> compile(const std::string& yaml, stats::Store& store) {
  return compileCluster(fromYaml<Cluster>(yaml), "static_resources.clusters[0]", store);
}

std::string compileError(const std::string& yaml) {
  stats::Store store(2);
  try {
    compile(yaml, store);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "<no ConfigError>";
}

std::string endpoints(const std::string& address, const std::string& extra = "") {
  return "load_assignment:\n  cluster_name: x\n  endpoints:\n  - lb_endpoints:\n    - endpoint: {address: "
         "{socket_address: {address: " +
         address + ", port_value: 8080}}}\n" + extra;
}

TEST(ClusterConfigTest, StaticClusterWithIPs) {
  stats::Store store(3);
  auto c = compile(R"(
name: backend
type: STATIC
connect_timeout: 0.25s
per_connection_buffer_limit_bytes: 16384
load_assignment:
  cluster_name: backend
  endpoints:
  - lb_endpoints:
    - endpoint: {address: {socket_address: {address: 10.0.0.1, port_value: 8080}}}
    - endpoint: {address: {socket_address: {address: "2001:db8::2", port_value: 9090}}}
      load_balancing_weight: 3
)",
                   store);
  EXPECT_EQ(c->name, "backend");
  EXPECT_EQ(c->type, ClusterConfig::Type::Static);
  EXPECT_EQ(c->lb, ClusterConfig::Lb::RoundRobin);  // Envoy's default
  EXPECT_EQ(c->connect_timeout, std::chrono::milliseconds(250));
  EXPECT_EQ(c->buffer_limit, 16384u);
  ASSERT_EQ(c->endpoints.size(), 2u);
  EXPECT_EQ(c->endpoints[1].address, "2001:db8::2");
  EXPECT_EQ(c->endpoints[1].port, 9090);
  EXPECT_EQ(c->endpoints[1].weight, 3u);
  ASSERT_NE(c->static_hosts, nullptr);
  ASSERT_EQ(c->static_hosts->hosts.size(), 2u);
  EXPECT_EQ(c->static_hosts->hosts[0]->address_string, "10.0.0.1:8080");
  EXPECT_EQ(c->static_hosts->hosts[1]->address_string, "[2001:db8::2]:9090");
  EXPECT_EQ(c->static_hosts->hosts[0]->weight, 1u);
  EXPECT_EQ(c->static_hosts->total_weight, 4u);
  EXPECT_FALSE(c->static_hosts->equal_weights);
  EXPECT_EQ(c->stat_rows, 3u);
  ASSERT_NE(c->stats, nullptr);
  EXPECT_EQ(c->stats->prefix(), "cluster.backend.");
  ASSERT_EQ(c->stats->tags().size(), 1u);
  EXPECT_EQ(c->stats->tags()[0], (std::pair<std::string, std::string>{"envoy_cluster_name", "backend"}));
  EXPECT_EQ(c->source.name(), "backend");
}

TEST(ClusterConfigTest, Defaults) {
  stats::Store store(1);
  auto c = compile("name: x\n" + endpoints("127.0.0.1"), store);
  EXPECT_EQ(c->connect_timeout, std::chrono::milliseconds(5000));
  EXPECT_EQ(c->buffer_limit, 1024u * 1024u);
  EXPECT_EQ(c->dns_family, ClusterConfig::DnsFamily::Auto);
  EXPECT_TRUE(c->static_hosts->equal_weights);
  EXPECT_EQ(c->static_hosts->hosts[0]->hostname, "");
}

TEST(ClusterConfigTest, AltStatNameNamesTheStats) {
  stats::Store store(1);
  auto c = compile("name: outbound|80||svc.ns\nalt_stat_name: svc_80\n" + endpoints("127.0.0.1"), store);
  EXPECT_EQ(c->name, "outbound|80||svc.ns");
  EXPECT_EQ(c->stats->prefix(), "cluster.svc_80.");
  EXPECT_EQ(c->stats->tags()[0].second, "svc_80");
}

TEST(ClusterConfigTest, SameNameSharesStatsScope) {
  stats::Store store(1);
  auto a = compile("name: x\n" + endpoints("127.0.0.1"), store);
  auto b = compile("name: x\n" + endpoints("127.0.0.2"), store);
  EXPECT_EQ(a->stats.get(), b->stats.get());  // counters survive a config update
}

TEST(ClusterConfigTest, StaticWithHostnameIsRejectedWithPath) {
  EXPECT_EQ(compileError("name: x\ntype: STATIC\n" + endpoints("backend.local")),
            "static_resources.clusters[0].load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address."
            "address: 'backend.local' is not an IP address (STATIC clusters need IPs; use STRICT_DNS for names)");
}

TEST(ClusterConfigTest, DnsClusters) {
  stats::Store store(1);
  auto strict = compile(
      "name: x\ntype: STRICT_DNS\ndns_lookup_family: V4_ONLY\ndns_refresh_rate: 2s\n" + endpoints("backend.local"),
      store);
  EXPECT_EQ(strict->type, ClusterConfig::Type::StrictDns);
  EXPECT_EQ(strict->dns_family, ClusterConfig::DnsFamily::V4Only);
  EXPECT_EQ(strict->dns_refresh, std::chrono::milliseconds(2000));
  EXPECT_EQ(strict->endpoints[0].address, "backend.local");
  EXPECT_EQ(strict->static_hosts, nullptr);

  auto logical = compile("name: y\ntype: LOGICAL_DNS\n" + endpoints("backend.local"), store);
  EXPECT_EQ(logical->type, ClusterConfig::Type::LogicalDns);

  EXPECT_EQ(compileError(R"(
name: y
type: LOGICAL_DNS
load_assignment:
  endpoints:
  - lb_endpoints:
    - endpoint: {address: {socket_address: {address: a.local, port_value: 80}}}
    - endpoint: {address: {socket_address: {address: b.local, port_value: 80}}}
)"),
            "static_resources.clusters[0].load_assignment: LOGICAL_DNS clusters take exactly one endpoint");
}

TEST(ClusterConfigTest, EdsNeedsAds) {
  EXPECT_EQ(compileError("name: x\ntype: EDS\n"),
            "static_resources.clusters[0].eds_cluster_config.eds_config: only ads is supported by weft-proxy");
}

TEST(ClusterConfigTest, UnsupportedLbPolicy) {
  EXPECT_EQ(compileError("name: x\nlb_policy: CLUSTER_PROVIDED\n" + endpoints("127.0.0.1")),
            "static_resources.clusters[0].lb_policy: ORIGINAL_DST clusters need CLUSTER_PROVIDED and only they may use "
            "it");
  EXPECT_THAT(compileError("name: x\nlb_policy: LOAD_BALANCING_POLICY_CONFIG\n" + endpoints("127.0.0.1")),
              StartsWith("static_resources.clusters[0].lb_policy: LOAD_BALANCING_POLICY_CONFIG is not supported by "
                         "weft-proxy (ROUND_ROBIN, LEAST_REQUEST, RANDOM, RING_HASH, MAGLEV are)"));
}

TEST(ClusterConfigTest, ConsistentHashSettingsAreValidatedAsEnvoy) {
  stats::Store store(1);
  auto ring = compile(
      "name: x\nlb_policy: RING_HASH\nring_hash_lb_config: {minimum_ring_size: 64}\n" + endpoints("127.0.0.1"), store);
  EXPECT_EQ(ring->lb, ClusterConfig::Lb::RingHash);
  EXPECT_EQ(ring->ring_min_size, 64u);
  EXPECT_EQ(ring->ring_max_size, 8u * 1024 * 1024);
  EXPECT_EQ(compile("name: y\nlb_policy: MAGLEV\n" + endpoints("127.0.0.1"), store)->maglev_table_size, 65537u);
  EXPECT_EQ(compileError("name: x\nlb_policy: RING_HASH\nring_hash_lb_config: {minimum_ring_size: 100, "
                         "maximum_ring_size: 10}\n" +
                         endpoints("127.0.0.1")),
            "static_resources.clusters[0].ring_hash_lb_config: minimum_ring_size (100) > maximum_ring_size (10)");
  EXPECT_EQ(compileError("name: x\nlb_policy: RING_HASH\nring_hash_lb_config: {hash_function: MURMUR_HASH_2}\n" +
                         endpoints("127.0.0.1")),
            "static_resources.clusters[0].ring_hash_lb_config.hash_function: MURMUR_HASH_2 is not supported by "
            "weft-proxy (XX_HASH is)");
  EXPECT_EQ(compileError("name: x\nlb_policy: MAGLEV\nmaglev_lb_config: {table_size: 1000}\n" + endpoints("127.0.0.1")),
            "static_resources.clusters[0].maglev_lb_config.table_size: 1000 must be a prime number of at most 5000011");
}

TEST(ClusterConfigTest, OriginalDstRequiresClusterProvided) {
  EXPECT_EQ(compileError("name: x\ntype: ORIGINAL_DST\nlb_policy: ROUND_ROBIN\n"),
            "static_resources.clusters[0].lb_policy: ORIGINAL_DST clusters need CLUSTER_PROVIDED and only they may use "
            "it");
  EXPECT_EQ(compileError("name: x\ntype: STATIC\nlb_policy: CLUSTER_PROVIDED\n" + endpoints("127.0.0.1")),
            "static_resources.clusters[0].lb_policy: ORIGINAL_DST clusters need CLUSTER_PROVIDED and only they may use "
            "it");
  stats::Store store(1);
  auto c = compile("name: x\ntype: ORIGINAL_DST\nlb_policy: CLUSTER_PROVIDED\n", store);
  EXPECT_EQ(c->type, ClusterConfig::Type::OriginalDst);
  EXPECT_EQ(c->original_dst_header, "");
  auto h = compile(
      "name: y\ntype: ORIGINAL_DST\nlb_policy: CLUSTER_PROVIDED\n"
      "original_dst_lb_config: {use_http_header: true}\n",
      store);
  EXPECT_EQ(h->original_dst_header, "x-envoy-original-dst-host");
  auto named = compile(
      "name: z\ntype: ORIGINAL_DST\nlb_policy: CLUSTER_PROVIDED\n"
      "original_dst_lb_config: {use_http_header: true, http_header_name: x-target}\n",
      store);
  EXPECT_EQ(named->original_dst_header, "x-target");
}

TEST(ClusterConfigTest, OriginalDstErrors) {
  EXPECT_EQ(compileError("name: x\ntype: ORIGINAL_DST\nlb_policy: CLUSTER_PROVIDED\n" + endpoints("127.0.0.1")),
            "static_resources.clusters[0].load_assignment: ORIGINAL_DST clusters take no endpoints");
  EXPECT_EQ(compileError("name: x\noriginal_dst_lb_config: {use_http_header: true}\n" + endpoints("127.0.0.1")),
            "static_resources.clusters[0].original_dst_lb_config: only for ORIGINAL_DST clusters");
}

TEST(ClusterConfigTest, EndpointErrors) {
  EXPECT_EQ(compileError("name: ''\n"), "static_resources.clusters[0].name: must not be empty");
  EXPECT_EQ(compileError("name: x\nconnect_timeout: 0s\n"),
            "static_resources.clusters[0].connect_timeout: must be greater than 0");
  EXPECT_EQ(compileError(R"(
name: x
load_assignment:
  endpoints:
  - lb_endpoints:
    - endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: 80}}}
    - endpoint: {address: {socket_address: {address: 127.0.0.1}}}
)"),
            "static_resources.clusters[0].load_assignment.endpoints[0].lb_endpoints[1].endpoint.address.socket_address."
            "port_value: must be 1-65535");
  EXPECT_EQ(compileError("name: x\n" + endpoints("127.0.0.1", "      load_balancing_weight: 0\n")),
            "static_resources.clusters[0].load_assignment.endpoints[0].lb_endpoints[0].load_balancing_weight: must be "
            "at least 1");
  EXPECT_EQ(compileError(R"(
name: x
load_assignment:
  endpoints:
  - lb_endpoints: []
  - priority: 64
    lb_endpoints:
    - endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: 80}}}
)"),
            "static_resources.clusters[0].load_assignment.endpoints[1].priority: 64 is above weft-proxy's limit of 63");
  EXPECT_EQ(compileError(R"(
name: x
load_assignment:
  policy: {overprovisioning_factor: 0}
)"),
            "static_resources.clusters[0].load_assignment.policy.overprovisioning_factor: must be greater than 0");
  EXPECT_EQ(compileError(R"(
name: x
load_assignment:
  endpoints:
  - lb_endpoints:
    - endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: 80, protocol: UDP}}}
)"),
            "static_resources.clusters[0].load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address."
            "protocol: only TCP is supported");
  EXPECT_EQ(compileError(R"(
name: x
type: STRICT_DNS
load_assignment:
  endpoints:
  - lb_endpoints:
    - endpoint: {address: {pipe: {path: /tmp/sock}}}
)"),
            "static_resources.clusters[0].load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.pipe: only "
            "STATIC clusters take pipe addresses");
  EXPECT_EQ(compileError(R"(
name: x
load_assignment:
  endpoints:
  - lb_endpoints:
    - endpoint: {address: {}}
)"),
            "static_resources.clusters[0].load_assignment.endpoints[0].lb_endpoints[0].endpoint.address: a "
            "socket_address or pipe is required");
}

// Istio's bootstrap reaches the agent's SDS server over a unix socket (a STATIC `pipe`).
TEST(ClusterConfigTest, PipeEndpointIsAUnixSocket) {
  stats::Store store(1);
  auto c = compile(R"(
name: sds-grpc
type: STATIC
load_assignment:
  cluster_name: sds-grpc
  endpoints:
  - lb_endpoints:
    - endpoint: {address: {pipe: {path: ./var/run/secrets/workload-spiffe-uds/socket}}}
)",
                   store);
  ASSERT_EQ(c->static_hosts->hosts.size(), 1u);
  EXPECT_TRUE(c->static_hosts->hosts[0]->address.isUnix());
  EXPECT_EQ(c->static_hosts->hosts[0]->address.path(), "./var/run/secrets/workload-spiffe-uds/socket");
  EXPECT_EQ(c->static_hosts->hosts[0]->address.toString(), "unix:./var/run/secrets/workload-spiffe-uds/socket");
}

TEST(ClusterConfigTest, PrioritiesLocalitiesAndWeightsReachTheHosts) {
  stats::Store store(1);
  auto c = compile(R"(
name: x
common_lb_config: {locality_weighted_lb_config: {}}
load_assignment:
  policy: {overprovisioning_factor: 120}
  endpoints:
  - locality: {region: us, zone: a}
    load_balancing_weight: 7
    lb_endpoints:
    - endpoint: {address: {socket_address: {address: 10.0.0.1, port_value: 80}}}
  - locality: {region: eu}
    priority: 2
    lb_endpoints:
    - endpoint: {address: {socket_address: {address: 10.0.0.2, port_value: 80}}}
)",
                   store);
  EXPECT_TRUE(c->locality_weighted);
  const HostSet& set = *c->static_hosts;
  EXPECT_EQ(set.priorities, 3u);
  EXPECT_EQ(set.overprovisioning_factor, 120u);
  EXPECT_EQ(set.hosts[0]->locality, "us/a/");
  EXPECT_EQ(set.hosts[1]->priority, 2u);
  ASSERT_EQ(set.locality_weights.size(), 2u);
  EXPECT_EQ(set.locality_weights[0].weight, 7u);
  EXPECT_EQ(set.locality_weights[1].weight, 0u);  // unset: no load under locality weighting
}

TEST(ClusterConfigTest, MakeHostSet) {
  auto a = makeHost(*net::Address::parse("10.0.0.1", 80), 2, "c", "a.local", 2);
  auto b = makeHost(*net::Address::parse("10.0.0.2", 80), 2, "c", "", 2);
  EXPECT_EQ(a->address_string, "10.0.0.1:80");
  EXPECT_EQ(a->hostname, "a.local");
  EXPECT_EQ(a->stats->prefix(), "cluster.c.host.10.0.0.1:80.");
  auto set = makeHostSet({a, b});
  EXPECT_EQ(set->total_weight, 4u);
  EXPECT_TRUE(set->equal_weights);
  auto empty = makeHostSet({});
  EXPECT_EQ(empty->total_weight, 0u);
  EXPECT_TRUE(empty->hosts.empty());
}

}  // namespace
}  // namespace weft::proxy::upstream

namespace weft::proxy::upstream {
namespace {

TEST(ClusterConfigTest, CircuitBreakersDefaultToEnvoys) {
  stats::Store store{1};
  auto c = compile("name: a\nload_assignment: {cluster_name: a}\n", store);
  EXPECT_EQ(c->limits->connections.max(), 1024u);
  EXPECT_EQ(c->limits->pending_requests.max(), 1024u);
  EXPECT_EQ(c->limits->requests.max(), 1024u);
}

TEST(ClusterConfigTest, CircuitBreakersDefaultPriorityThresholds) {
  stats::Store store{1};
  auto c = compile(
      "name: a\nload_assignment: {cluster_name: a}\ncircuit_breakers: {thresholds: ["
      "{priority: HIGH, max_connections: 7}, {max_connections: 2, max_pending_requests: 3, max_requests: 4}]}\n",
      store);
  EXPECT_EQ(c->limits->connections.max(), 2u);
  EXPECT_EQ(c->limits->pending_requests.max(), 3u);
  EXPECT_EQ(c->limits->requests.max(), 4u);
  EXPECT_NE(compileError("name: a\ncircuit_breakers: {thresholds: [{max_connections: 1}, {max_requests: 1}]}\n")
                .find("circuit_breakers.thresholds[1]: a second threshold for priority DEFAULT"),
            std::string::npos);
}

TEST(ClusterConfigTest, HealthChecksAreValidatedAsEnvoy) {
  stats::Store store(1);
  auto c = compile(
      "name: x\nhealth_checks: [{timeout: 1s, interval: 2s, unhealthy_threshold: 3, healthy_threshold: "
      "2, tcp_health_check: {send: {text: 0102ff}, receive: [{text: 70}]}}]\n" +
          endpoints("127.0.0.1"),
      store);
  ASSERT_TRUE(c->health_check);
  EXPECT_EQ(c->health_check->send, std::string("\x01\x02\xff"));
  EXPECT_EQ(c->health_check->receive, std::vector<std::string>{"p"});
  EXPECT_EQ(c->health_check->no_traffic_interval.count(), 60000);  // Envoy's default
  EXPECT_EQ(compileError("name: x\nhealth_checks: [{timeout: 1s, interval: 1s, unhealthy_threshold: 1, "
                         "healthy_threshold: 1, tcp_health_check: {send: {text: 7g}}}]\n" +
                         endpoints("127.0.0.1")),
            "static_resources.clusters[0].health_checks[0].tcp_health_check.send.text: '7g' is not hex");
  EXPECT_EQ(compileError("name: x\nhealth_checks: [{interval: 1s, unhealthy_threshold: 1, healthy_threshold: 1, "
                         "http_health_check: {path: /h}}]\n" +
                         endpoints("127.0.0.1")),
            "static_resources.clusters[0].health_checks[0]: timeout and interval are required");
  EXPECT_EQ(compileError("name: x\nhealth_checks: [{timeout: 1s, interval: 1s, unhealthy_threshold: 1, "
                         "healthy_threshold: 1, http_health_check: {path: /h, expected_statuses: [{start: 300, end: "
                         "200}]}}]\n" +
                         endpoints("127.0.0.1")),
            "static_resources.clusters[0].health_checks[0].http_health_check.expected_statuses[0]: must be a range "
            "[start, end) within [100, 600)");
}

}  // namespace
}  // namespace weft::proxy::upstream
