// CDS generation: Istio's cluster names, EDS over ADS, load balancing from DestinationRules,
// ServiceEntry DNS / NONE clusters, named requests, and Sidecar egress scoping.
#include <gmock/gmock.h>

#include <gtest/gtest.h>
#include "envoy/extensions/upstreams/http/v3/http_protocol_options.pb.h"

#include "control/control_test_support.h"
#include "envoy/config/cluster/v3/cluster.pb.h"
#include "envoy/extensions/upstreams/http/v3/http_protocol_options.pb.h"

namespace weft::control::xds {
namespace {

using envoy::config::cluster::v3::Cluster;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using testing::kBaseMesh;
using testing::kDb;
using testing::kDetails;
using testing::kRatings;
using testing::kReviews;
using testing::modelFrom;
using testing::namesOf;
using testing::out;
using testing::proxyIn;
using ::testing::UnorderedElementsAre;
using testing::unpackNamed;
using testing::withBase;

const char* kReviewsDr = R"(
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec:
  host: reviews
  trafficPolicy:
    loadBalancer: {simple: LEAST_REQUEST}
  subsets:
  - {name: v1, labels: {version: v1}}
  - name: v2
    labels: {version: v2}
    trafficPolicy:
      loadBalancer: {simple: RANDOM}
)";

TEST(ClusterNameTest, ParseAndFormat) {
  ClusterName cn;
  ASSERT_TRUE(ClusterName::parse("outbound|9080|v1|reviews.default.svc.cluster.local", cn));
  EXPECT_EQ(cn.direction, "outbound");
  EXPECT_EQ(cn.port, 9080u);
  EXPECT_EQ(cn.subset, "v1");
  EXPECT_EQ(cn.host, "reviews.default.svc.cluster.local");
  EXPECT_EQ(cn.str(), "outbound|9080|v1|reviews.default.svc.cluster.local");
  ASSERT_TRUE(ClusterName::parse("inbound|80||", cn));
  EXPECT_EQ(cn.direction, "inbound");
  EXPECT_EQ(cn.subset, "");
  EXPECT_EQ(cn.host, "");
  EXPECT_EQ((ClusterName{"outbound", 80, "", "a.b"}).str(), "outbound|80||a.b");
  EXPECT_FALSE(ClusterName::parse("outbound|80|a.b", cn));
  EXPECT_FALSE(ClusterName::parse("outbound|http||a.b", cn));
  EXPECT_FALSE(ClusterName::parse("reviews", cn));
  EXPECT_FALSE(ClusterName::parse("", cn));
}

TEST(ClusterGenTest, OneClusterPerServicePortAndSubset) {
  auto m = modelFrom(withBase(kReviewsDr));
  auto clusters = generateClusters(*m, proxyIn("default"), {});
  EXPECT_THAT(namesOf(clusters),
              UnorderedElementsAre(out(9080, kReviews), out(9080, kReviews, "v1"), out(9080, kReviews, "v2"),
                                   out(9080, kRatings), out(3306, kDb), out(9080, kDetails), out(9090, kDetails),
                                   "PassthroughCluster", "InboundPassthroughCluster", "BlackHoleCluster"));
  for (const auto& [name, any] : clusters) {
    EXPECT_EQ(any.type_url(), kClusterType) << name;
    EXPECT_EQ(testing::unpack<Cluster>(any).name(), name);
  }
}

TEST(ClusterGenTest, EdsClusterConfig) {
  auto m = modelFrom(withBase(kReviewsDr));
  auto clusters = generateClusters(*m, proxyIn("default"), {});
  for (const std::string& name : {out(9080, kReviews), out(9080, kReviews, "v1"), out(3306, kDb)}) {
    Cluster c = unpackNamed<Cluster>(clusters, name);
    EXPECT_EQ(c.type(), Cluster::EDS) << name;
    ASSERT_TRUE(c.has_eds_cluster_config()) << name;
    EXPECT_TRUE(c.eds_cluster_config().eds_config().has_ads()) << name;
    EXPECT_EQ(c.eds_cluster_config().eds_config().resource_api_version(), envoy::config::core::v3::V3) << name;
    EXPECT_EQ(c.eds_cluster_config().service_name(), name);
    EXPECT_FALSE(c.has_load_assignment()) << name;
    EXPECT_GT(c.connect_timeout().seconds() * 1000 + c.connect_timeout().nanos() / 1000000, 0) << name;
  }
}

TEST(ClusterGenTest, LoadBalancerFromDestinationRule) {
  auto m = modelFrom(withBase(kReviewsDr));
  auto clusters = generateClusters(*m, proxyIn("default"), {});
  EXPECT_EQ(unpackNamed<Cluster>(clusters, out(9080, kReviews)).lb_policy(), Cluster::LEAST_REQUEST);
  EXPECT_EQ(unpackNamed<Cluster>(clusters, out(9080, kReviews, "v1")).lb_policy(), Cluster::LEAST_REQUEST);
  // A subset's own traffic policy overrides the rule's.
  EXPECT_EQ(unpackNamed<Cluster>(clusters, out(9080, kReviews, "v2")).lb_policy(), Cluster::RANDOM);

  auto rr = modelFrom(withBase(R"(
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ratings, namespace: default}
spec:
  host: ratings.default.svc.cluster.local
  trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}
  subsets:
  - name: fast
    labels: {}
    trafficPolicy: {loadBalancer: {simple: LEAST_REQUEST}}
)"));
  auto c2 = generateClusters(*rr, proxyIn("default"), {});
  EXPECT_EQ(unpackNamed<Cluster>(c2, out(9080, kRatings)).lb_policy(), Cluster::ROUND_ROBIN);
  EXPECT_EQ(unpackNamed<Cluster>(c2, out(9080, kRatings, "fast")).lb_policy(), Cluster::LEAST_REQUEST);

  // No DestinationRule: LEAST_REQUEST for a sidecar (Istio >= 1.14), ROUND_ROBIN for proxyless gRPC.
  auto base = modelFrom(testing::kBaseMesh);
  auto sidecar = generateClusters(*base, proxyIn("default"), {});
  EXPECT_EQ(unpackNamed<Cluster>(sidecar, out(9080, kRatings)).lb_policy(), Cluster::LEAST_REQUEST);
  ProxyInfo grpc = proxyIn("default");
  grpc.proxyless_grpc = true;
  auto proxyless = generateClusters(*base, grpc, {});
  EXPECT_EQ(unpackNamed<Cluster>(proxyless, out(9080, kRatings)).lb_policy(), Cluster::ROUND_ROBIN);
}

TEST(ClusterGenTest, ConnectionPoolAsIstio) {
  auto m = modelFrom(withBase(R"(
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec:
  host: reviews
  trafficPolicy:
    connectionPool:
      tcp: {maxConnections: 100, connectTimeout: 250ms, tcpKeepalive: {probes: 3, time: 300s, interval: 30s}}
      http: {http1MaxPendingRequests: 10, http2MaxRequests: 50, maxRetries: 4, maxRequestsPerConnection: 3,
             idleTimeout: 90s}
  subsets:
  - {name: v1, labels: {version: v1}}
  - name: v2
    labels: {version: v2}
    trafficPolicy: {connectionPool: {http: {http2MaxRequests: 7}}}
)"));
  auto clusters = generateClusters(*m, proxyIn("default"), {});
  auto c = unpackNamed<Cluster>(clusters, out(9080, kReviews));
  ASSERT_EQ(c.circuit_breakers().thresholds_size(), 1);
  const auto& t = c.circuit_breakers().thresholds(0);
  EXPECT_EQ(t.max_connections().value(), 100u);
  EXPECT_EQ(t.max_pending_requests().value(), 10u);
  EXPECT_EQ(t.max_requests().value(), 50u);
  EXPECT_EQ(t.max_retries().value(), 4u);
  EXPECT_EQ(c.connect_timeout().nanos(), 250000000);
  EXPECT_EQ(c.upstream_connection_options().tcp_keepalive().keepalive_probes().value(), 3u);
  EXPECT_EQ(c.upstream_connection_options().tcp_keepalive().keepalive_time().value(), 300u);
  EXPECT_EQ(c.upstream_connection_options().tcp_keepalive().keepalive_interval().value(), 30u);
  envoy::extensions::upstreams::http::v3::HttpProtocolOptions hpo;
  ASSERT_TRUE(
      c.typed_extension_protocol_options().at("envoy.extensions.upstreams.http.v3.HttpProtocolOptions").UnpackTo(&hpo));
  EXPECT_EQ(hpo.common_http_protocol_options().max_requests_per_connection().value(), 3u);
  EXPECT_EQ(hpo.common_http_protocol_options().idle_timeout().seconds(), 90);
  EXPECT_TRUE(hpo.explicit_http_config().has_http_protocol_options());
  // The subset's connectionPool replaces the rule's; what it leaves out is Istio's default.
  const auto& v2 = unpackNamed<Cluster>(clusters, out(9080, kReviews, "v2")).circuit_breakers().thresholds(0);
  EXPECT_EQ(v2.max_requests().value(), 7u);
  EXPECT_EQ(v2.max_connections().value(), 4294967295u);
  // No DestinationRule: Istio's defaults, all MaxUint32, tracking remaining.
  const auto& d = unpackNamed<Cluster>(clusters, out(9080, kRatings)).circuit_breakers().thresholds(0);
  EXPECT_EQ(d.max_connections().value(), 4294967295u);
  EXPECT_EQ(d.max_retries().value(), 4294967295u);
  EXPECT_TRUE(d.track_remaining());
  EXPECT_EQ(unpackNamed<Cluster>(clusters, out(9080, kRatings)).connect_timeout().seconds(), 10);
}

TEST(ClusterGenTest, UpstreamProtocolAsIstio) {
  auto m = modelFrom(withBase(R"(
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: multi, namespace: default}
spec:
  hosts: [multi.internal]
  location: MESH_INTERNAL
  ports: [{number: 80, name: http, protocol: HTTP}, {number: 81, name: grpc, protocol: GRPC},
          {number: 82, name: http-two, protocol: HTTP}]
  resolution: STATIC
  endpoints: [{address: 10.9.0.1}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: multi, namespace: default}
spec:
  host: multi.internal
  trafficPolicy:
    connectionPool: {tcp: {maxConnectionDuration: 30m}}
    portLevelSettings:
    - port: {number: 82}
      connectionPool: {http: {h2UpgradePolicy: UPGRADE, maxConcurrentStreams: 8}}
  subsets:
  - name: client
    trafficPolicy: {connectionPool: {http: {useClientProtocol: true}}}
)"));
  auto clusters = generateClusters(*m, proxyIn("default"), {});
  auto options = [&](const std::string& name) {
    envoy::extensions::upstreams::http::v3::HttpProtocolOptions hpo;
    auto c = unpackNamed<Cluster>(clusters, name);
    auto it = c.typed_extension_protocol_options().find("envoy.extensions.upstreams.http.v3.HttpProtocolOptions");
    if (it != c.typed_extension_protocol_options().end()) {
      EXPECT_TRUE(it->second.UnpackTo(&hpo));
    }
    return hpo;
  };
  // An HTTP port stays HTTP/1.1 (the mesh's h2UpgradePolicy is DO_NOT_UPGRADE); tcp's
  // maxConnectionDuration goes to the common options.
  auto http = options(out(80, "multi.internal"));
  EXPECT_TRUE(http.explicit_http_config().has_http_protocol_options());
  EXPECT_EQ(http.common_http_protocol_options().max_connection_duration().seconds(), 1800);
  // A gRPC port speaks HTTP/2 upstream.
  EXPECT_TRUE(options(out(81, "multi.internal")).explicit_http_config().has_http2_protocol_options());
  // h2UpgradePolicy UPGRADE (port-level) upgrades, with maxConcurrentStreams.
  auto up = options(out(82, "multi.internal"));
  ASSERT_TRUE(up.explicit_http_config().has_http2_protocol_options());
  EXPECT_EQ(up.explicit_http_config().http2_protocol_options().max_concurrent_streams().value(), 8u);
  // useClientProtocol wins over a gRPC port: the downstream's protocol. (With UPGRADE in the
  // same pool it is an error, as Istio's validation says.)
  EXPECT_TRUE(options(out(80, "multi.internal", "client")).has_use_downstream_protocol_config());
  EXPECT_TRUE(options(out(81, "multi.internal", "client")).has_use_downstream_protocol_config());
}

TEST(ClusterGenTest, OutlierDetectionAsIstio) {
  auto m = modelFrom(withBase(R"(
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec:
  host: reviews
  trafficPolicy:
    outlierDetection: {consecutive5xxErrors: 7, consecutiveGatewayErrors: 0, interval: 5s, baseEjectionTime: 15m,
                       maxEjectionPercent: 40}
  subsets:
  - {name: v1, labels: {version: v1}}
  - name: v2
    labels: {version: v2}
    trafficPolicy:
      outlierDetection: {splitExternalLocalOriginErrors: true, consecutiveLocalOriginFailures: 3, minHealthPercent: 25}
)"));
  auto clusters = generateClusters(*m, proxyIn("default"), {});
  auto c = unpackNamed<Cluster>(clusters, out(9080, kReviews));
  const auto& od = c.outlier_detection();
  EXPECT_EQ(od.consecutive_5xx().value(), 7u);
  EXPECT_EQ(od.enforcing_consecutive_5xx().value(), 100u);
  // Set to 0: both the threshold and its enforcement are 0, as Istio writes them.
  EXPECT_TRUE(od.has_consecutive_gateway_failure());
  EXPECT_EQ(od.consecutive_gateway_failure().value(), 0u);
  EXPECT_EQ(od.enforcing_consecutive_gateway_failure().value(), 0u);
  EXPECT_TRUE(od.has_enforcing_success_rate());
  EXPECT_EQ(od.enforcing_success_rate().value(), 0u);
  EXPECT_EQ(od.interval().seconds(), 5);
  EXPECT_EQ(od.base_ejection_time().seconds(), 900);
  EXPECT_EQ(od.max_ejection_percent().value(), 40u);
  EXPECT_FALSE(od.split_external_local_origin_errors());
  // minHealthPercent unset: panic mode off (Istio sets 0 explicitly).
  EXPECT_TRUE(c.common_lb_config().has_healthy_panic_threshold());
  EXPECT_EQ(c.common_lb_config().healthy_panic_threshold().value(), 0);
  // The subset's outlierDetection replaces the rule's.
  auto v2 = unpackNamed<Cluster>(clusters, out(9080, kReviews, "v2"));
  EXPECT_FALSE(v2.outlier_detection().has_consecutive_5xx());
  EXPECT_TRUE(v2.outlier_detection().split_external_local_origin_errors());
  EXPECT_EQ(v2.outlier_detection().consecutive_local_origin_failure().value(), 3u);
  EXPECT_EQ(v2.outlier_detection().enforcing_consecutive_local_origin_failure().value(), 100u);
  EXPECT_EQ(v2.outlier_detection().enforcing_local_origin_success_rate().value(), 0u);
  EXPECT_EQ(v2.common_lb_config().healthy_panic_threshold().value(), 25);
  EXPECT_TRUE(unpackNamed<Cluster>(clusters, out(9080, kReviews, "v1")).outlier_detection().has_consecutive_5xx());
  // No DestinationRule: no outlier detection, Envoy's panic threshold.
  auto r = unpackNamed<Cluster>(clusters, out(9080, kRatings));
  EXPECT_FALSE(r.has_outlier_detection());
  EXPECT_FALSE(r.has_common_lb_config());
}

TEST(ClusterGenTest, PortLevelSettingsMergeAsIstio) {
  auto m = modelFrom(withBase(R"(
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec:
  host: reviews
  trafficPolicy:
    loadBalancer: {simple: RANDOM}
    outlierDetection: {consecutive5xxErrors: 7}
    portLevelSettings:
    - port: {number: 9080}
      loadBalancer: {simple: ROUND_ROBIN}
      connectionPool: {tcp: {maxConnections: 9}}
    - port: {number: 1234}
      outlierDetection: {consecutive5xxErrors: 1}
  subsets:
  - {name: v1, labels: {version: v1}}
  - name: v2
    labels: {version: v2}
    trafficPolicy:
      outlierDetection: {consecutive5xxErrors: 3}
      portLevelSettings:
      - port: {number: 9080}
        loadBalancer: {simple: LEAST_REQUEST}
)"));
  auto clusters = generateClusters(*m, proxyIn("default"), {});
  // The rule's port-level settings for 9080 replace its loadBalancer and add a connection pool;
  // the other port's settings do not apply.
  auto c = unpackNamed<Cluster>(clusters, out(9080, kReviews));
  EXPECT_EQ(c.lb_policy(), Cluster::ROUND_ROBIN);
  EXPECT_EQ(c.circuit_breakers().thresholds(0).max_connections().value(), 9u);
  EXPECT_EQ(c.outlier_detection().consecutive_5xx().value(), 7u);
  // A subset without a policy inherits the merged rule.
  EXPECT_EQ(unpackNamed<Cluster>(clusters, out(9080, kReviews, "v1")).lb_policy(), Cluster::ROUND_ROBIN);
  // The subset's fields, then its port-level settings, win.
  auto v2 = unpackNamed<Cluster>(clusters, out(9080, kReviews, "v2"));
  EXPECT_EQ(v2.lb_policy(), Cluster::LEAST_REQUEST);
  EXPECT_EQ(v2.outlier_detection().consecutive_5xx().value(), 3u);
  EXPECT_EQ(v2.circuit_breakers().thresholds(0).max_connections().value(), 9u);
}

TEST(ClusterGenTest, LocalityWeightedLbConfigAsIstio) {
  auto dr = [](const std::string& tp) {
    return modelFrom(
        withBase("apiVersion: networking.istio.io/v1\nkind: DestinationRule\n"
                 "metadata: {name: reviews, namespace: default}\nspec:\n  host: reviews\n"
                 "  trafficPolicy:\n" +
                 tp));
  };
  auto has = [](const std::shared_ptr<const MeshModel>& m) {
    auto c = unpackNamed<Cluster>(generateClusters(*m, proxyIn("default"), {}), out(9080, kReviews));
    return c.common_lb_config().has_locality_weighted_lb_config();
  };
  // distribute: always; failover rules: only with outlier detection; the mesh default alone: never.
  EXPECT_TRUE(has(dr("    loadBalancer: {localityLbSetting: {distribute: [{from: us/*, to: {us/*: 100}}]}}\n")));
  EXPECT_TRUE(
      has(dr("    outlierDetection: {consecutive5xxErrors: 1}\n"
             "    loadBalancer: {localityLbSetting: {failover: [{from: us, to: eu}]}}\n")));
  EXPECT_FALSE(has(dr("    loadBalancer: {localityLbSetting: {failover: [{from: us, to: eu}]}}\n")));
  EXPECT_FALSE(has(dr("    outlierDetection: {consecutive5xxErrors: 1}\n")));
  EXPECT_FALSE(
      has(dr("    outlierDetection: {consecutive5xxErrors: 1}\n"
             "    loadBalancer: {localityLbSetting: {enabled: false, failover: [{from: us, to: eu}]}}\n")));
}

TEST(ClusterGenTest, ConsistentHashClustersAsIstio) {
  auto m = modelFrom(withBase(R"(
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec:
  host: reviews
  trafficPolicy:
    loadBalancer: {consistentHash: {httpHeaderName: x-user}}
  subsets:
  - name: v1
    labels: {version: v1}
    trafficPolicy: {loadBalancer: {consistentHash: {httpHeaderName: x-user, maglev: {tableSize: 1021}}}}
  - name: v2
    labels: {version: v2}
    trafficPolicy: {loadBalancer: {consistentHash: {httpHeaderName: x-user, ringHash: {minimumRingSize: 4096}}}}
  - name: v3
    labels: {version: v3}
    trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}
)"));
  auto clusters = generateClusters(*m, proxyIn("default"), {});
  auto c = unpackNamed<Cluster>(clusters, out(9080, kReviews));
  EXPECT_EQ(c.lb_policy(), Cluster::RING_HASH);
  EXPECT_EQ(c.ring_hash_lb_config().minimum_ring_size().value(), 1024u);
  auto v1 = unpackNamed<Cluster>(clusters, out(9080, kReviews, "v1"));
  EXPECT_EQ(v1.lb_policy(), Cluster::MAGLEV);
  EXPECT_EQ(v1.maglev_lb_config().table_size().value(), 1021u);
  auto v2 = unpackNamed<Cluster>(clusters, out(9080, kReviews, "v2"));
  EXPECT_EQ(v2.ring_hash_lb_config().minimum_ring_size().value(), 4096u);
  EXPECT_EQ(unpackNamed<Cluster>(clusters, out(9080, kReviews, "v3")).lb_policy(), Cluster::ROUND_ROBIN);
}

TEST(ClusterGenTest, DestinationRuleInAnotherNamespaceByFqdn) {
  auto m = modelFrom(withBase(R"(
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: details, namespace: default}
spec:
  host: details.prod.svc.cluster.local
  subsets: [{name: v1, labels: {version: v1}}]
)"));
  auto clusters = generateClusters(*m, proxyIn("default"), {});
  EXPECT_EQ(clusters.count(out(9080, kDetails, "v1")), 1u);
  EXPECT_EQ(clusters.count(out(9090, kDetails, "v1")), 1u);
}

const char* kServiceEntries = R"(
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: dns, namespace: egress}
spec:
  hosts: [api.example.com]
  ports: [{number: 443, name: tls, protocol: TLS}]
  resolution: DNS
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: dns-eps, namespace: egress}
spec:
  hosts: [db.example.com]
  ports: [{number: 5432, name: pg, protocol: TCP}]
  resolution: DNS
  endpoints:
  - {address: db1.example.com}
  - {address: db2.example.com, ports: {pg: 6432}}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: none, namespace: egress}
spec:
  hosts: [passthrough.example.com]
  ports: [{number: 443, name: tls, protocol: TLS}]
  resolution: NONE
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: static, namespace: egress}
spec:
  hosts: [static.internal]
  ports: [{number: 8080, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints: [{address: 10.7.0.1}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: none, namespace: egress}
spec:
  host: passthrough.example.com
  trafficPolicy: {loadBalancer: {simple: RANDOM}}
)";

TEST(ClusterGenTest, ServiceEntryDnsIsStrictDnsWithEndpoints) {
  auto m = modelFrom(kServiceEntries);
  auto clusters = generateClusters(*m, proxyIn("default"), {});
  Cluster c = unpackNamed<Cluster>(clusters, out(443, "api.example.com"));
  EXPECT_EQ(c.type(), Cluster::STRICT_DNS);
  EXPECT_FALSE(c.has_eds_cluster_config());
  ASSERT_EQ(c.load_assignment().endpoints_size(), 1);
  EXPECT_EQ(c.load_assignment().cluster_name(), out(443, "api.example.com"));
  ASSERT_EQ(c.load_assignment().endpoints(0).lb_endpoints_size(), 1);
  const auto& sa = c.load_assignment().endpoints(0).lb_endpoints(0).endpoint().address().socket_address();
  EXPECT_EQ(sa.address(), "api.example.com");
  EXPECT_EQ(sa.port_value(), 443u);

  Cluster db = unpackNamed<Cluster>(clusters, out(5432, "db.example.com"));
  EXPECT_EQ(db.type(), Cluster::STRICT_DNS);
  ASSERT_EQ(db.load_assignment().endpoints_size(), 1);
  const auto& lbs = db.load_assignment().endpoints(0).lb_endpoints();
  ASSERT_EQ(lbs.size(), 2);
  EXPECT_EQ(lbs[0].endpoint().address().socket_address().address(), "db1.example.com");
  EXPECT_EQ(lbs[0].endpoint().address().socket_address().port_value(), 5432u);
  EXPECT_EQ(lbs[1].endpoint().address().socket_address().address(), "db2.example.com");
  EXPECT_EQ(lbs[1].endpoint().address().socket_address().port_value(), 6432u);
}

TEST(ClusterGenTest, ServiceEntryNoneIsOriginalDst) {
  auto m = modelFrom(kServiceEntries);
  auto clusters = generateClusters(*m, proxyIn("default"), {});
  Cluster c = unpackNamed<Cluster>(clusters, out(443, "passthrough.example.com"));
  EXPECT_EQ(c.type(), Cluster::ORIGINAL_DST);
  // ORIGINAL_DST requires CLUSTER_PROVIDED whatever the DestinationRule says.
  EXPECT_EQ(c.lb_policy(), Cluster::CLUSTER_PROVIDED);
  EXPECT_FALSE(c.has_eds_cluster_config());
  EXPECT_FALSE(c.has_load_assignment());

  Cluster st = unpackNamed<Cluster>(clusters, out(8080, "static.internal"));
  EXPECT_EQ(st.type(), Cluster::EDS);
  EXPECT_EQ(st.eds_cluster_config().service_name(), out(8080, "static.internal"));
}

TEST(ClusterGenTest, NamedRequestReturnsOnlyNamedClusters) {
  auto m = modelFrom(withBase(kReviewsDr));
  auto clusters = generateClusters(
      *m, proxyIn("default"), {out(9080, kReviews, "v2"), out(3306, kDb), "outbound|1||nowhere.example.com", "junk"});
  EXPECT_THAT(namesOf(clusters), UnorderedElementsAre(out(9080, kReviews, "v2"), out(3306, kDb)));
  // generate() dispatches by type URL.
  auto via = generate(kClusterType, *m, proxyIn("default"), {out(3306, kDb)});
  EXPECT_THAT(namesOf(via), ElementsAre(out(3306, kDb)));
  EXPECT_THAT(generate("type.googleapis.com/envoy.Unknown", *m, proxyIn("default"), {}), IsEmpty());
}

TEST(ClusterGenTest, SameInputsGiveSameBytes) {
  auto m1 = modelFrom(withBase(kReviewsDr));
  auto m2 = modelFrom(withBase(kReviewsDr));
  auto a = generateClusters(*m1, proxyIn("default"), {});
  auto b = generateClusters(*m2, proxyIn("default"), {});
  ASSERT_EQ(namesOf(a), namesOf(b));
  for (const auto& [name, any] : a) EXPECT_EQ(any.value(), b.at(name).value()) << name;
}

// --- Sidecar egress scoping (visibleServices) ---

std::set<std::string> visibleHosts(const MeshModel& m, const ProxyInfo& p) {
  std::set<std::string> out;
  for (const MeshService* s : visibleServices(m, p)) out.insert(s->hostname);
  return out;
}

const char* kExternal = R"(
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ext, namespace: egress}
spec:
  hosts: [api.example.com, www.example.org]
  ports: [{number: 443, name: tls, protocol: TLS}]
  resolution: DNS
)";

TEST(SidecarScopeTest, EverythingVisibleWithoutSidecar) {
  auto m = modelFrom(withBase(kExternal));
  EXPECT_THAT(visibleHosts(*m, proxyIn("default")),
              UnorderedElementsAre(kReviews, kRatings, kDb, kDetails, "api.example.com", "www.example.org"));
}

TEST(SidecarScopeTest, SameNamespaceOnly) {
  auto m = modelFrom(withBase(std::string(kExternal) + R"(
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: default}
spec:
  egress:
  - hosts: ["./*"]
)"));
  EXPECT_THAT(visibleHosts(*m, proxyIn("default")), UnorderedElementsAre(kReviews, kRatings, kDb));
  // The Sidecar of namespace default does not scope proxies of prod.
  EXPECT_EQ(visibleHosts(*m, proxyIn("prod")).size(), 6u);
  // Clusters follow the scope.
  auto clusters = generateClusters(*m, proxyIn("default"), {});
  EXPECT_EQ(clusters.count(out(9080, kDetails)), 0u);
  EXPECT_EQ(clusters.count(out(9080, kReviews)), 1u);
}

TEST(SidecarScopeTest, NamespaceSlashHostAndWildcards) {
  auto m = modelFrom(withBase(std::string(kExternal) + R"(
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: default}
spec:
  egress:
  - hosts: ["prod/details.prod.svc.cluster.local", "*/*.example.com", "default/ratings.default.svc.cluster.local"]
)"));
  EXPECT_THAT(visibleHosts(*m, proxyIn("default")), UnorderedElementsAre(kDetails, "api.example.com", kRatings));

  auto wrongNs = modelFrom(withBase(R"(
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: default}
spec:
  egress:
  - hosts: ["default/details.prod.svc.cluster.local", "prod/*"]
)"));
  EXPECT_THAT(visibleHosts(*wrongNs, proxyIn("default")), UnorderedElementsAre(kDetails));
}

TEST(SidecarScopeTest, WorkloadSelectorWinsOverNamespaceDefault) {
  const std::string sidecars = R"(
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: default}
spec:
  egress: [{hosts: ["./*"]}]
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: productpage, namespace: default}
spec:
  workloadSelector: {labels: {app: productpage}}
  egress: [{hosts: ["prod/*"]}]
)";
  auto m = modelFrom(withBase(sidecars));
  EXPECT_THAT(visibleHosts(*m, proxyIn("default", {{"app", "productpage"}})), UnorderedElementsAre(kDetails));
  EXPECT_THAT(visibleHosts(*m, proxyIn("default", {{"app", "reviews"}})),
              UnorderedElementsAre(kReviews, kRatings, kDb));

  // The same whatever order the two Sidecars come in.
  auto second = sidecars.find("---\n");
  auto reversed = modelFrom(withBase(sidecars.substr(second + 4) + "---\n" + sidecars.substr(0, second)));
  EXPECT_THAT(visibleHosts(*reversed, proxyIn("default", {{"app", "productpage"}})), UnorderedElementsAre(kDetails));
  EXPECT_THAT(visibleHosts(*reversed, proxyIn("default", {{"app", "reviews"}})),
              UnorderedElementsAre(kReviews, kRatings, kDb));
}

}  // namespace
}  // namespace weft::control::xds

namespace weft::control::xds {
namespace {

// Istio: a ServiceEntry with "exportTo: ['.']" is visible only in its own namespace.
TEST(SidecarScopeTest, ServiceEntryExportToLimitsVisibility) {
  auto m = modelFrom(R"(
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: private, namespace: team-a}
spec:
  hosts: [private.example.com]
  ports: [{number: 443, name: tls, protocol: TLS}]
  resolution: DNS
  exportTo: ["."]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: public, namespace: team-a}
spec:
  hosts: [public.example.com]
  ports: [{number: 443, name: tls, protocol: TLS}]
  resolution: DNS
)");
  EXPECT_THAT(visibleHosts(*m, proxyIn("team-a")), UnorderedElementsAre("private.example.com", "public.example.com"));
  EXPECT_THAT(visibleHosts(*m, proxyIn("team-b")), UnorderedElementsAre("public.example.com"))
      << "a ServiceEntry exported only to team-a is visible in team-b";
  EXPECT_EQ(generateClusters(*m, proxyIn("team-b"), {}).count(out(443, "private.example.com")), 0u);
}

// Istio: a DestinationRule host may be a wildcard and then applies to the services it matches
// (the most specific rule wins). decode.cc accepts "*.example.com", so it must take effect.
TEST(ClusterGenTest, WildcardDestinationRuleHostApplies) {
  auto m = modelFrom(R"(
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ext, namespace: default}
spec:
  hosts: [api.example.com]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: DNS
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ext, namespace: default}
spec:
  host: "*.example.com"
  trafficPolicy: {loadBalancer: {simple: RANDOM}}
)");
  auto clusters = generateClusters(*m, proxyIn("default"), {});
  EXPECT_EQ(unpackNamed<Cluster>(clusters, out(80, "api.example.com")).lb_policy(), Cluster::RANDOM)
      << "the *.example.com DestinationRule was not applied";
}

}  // namespace
}  // namespace weft::control::xds

TEST(InboundClusterTest, TheWorkloadsOwnServicePortsGetLocalhostClusters) {
  weft::control::ConfigSnapshot snap;
  weft::control::addDocuments(R"(apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: web}
subsets:
- addresses: [{ip: 10.0.0.7}, {ip: 10.0.0.8}]
  ports: [{name: http, port: 8080}]
)",
                              "web.yaml", snap);
  auto m = weft::control::buildModel(std::make_shared<weft::control::ConfigSnapshot>(snap));
  weft::control::ProxyInfo me;
  me.ip = "10.0.0.7";
  auto cds = weft::control::xds::generateClusters(*m, me, {});
  ASSERT_EQ(cds.count("inbound|80||"), 1u);
  envoy::config::cluster::v3::Cluster c;
  ASSERT_TRUE(cds.at("inbound|80||").UnpackTo(&c));
  EXPECT_EQ(c.type(), envoy::config::cluster::v3::Cluster::STATIC);
  const auto& sa = c.load_assignment().endpoints(0).lb_endpoints(0).endpoint().address().socket_address();
  EXPECT_EQ(sa.address(), "127.0.0.1");
  EXPECT_EQ(sa.port_value(), 8080u);
  weft::control::ProxyInfo other;
  other.ip = "10.0.0.99";
  EXPECT_EQ(weft::control::xds::generateClusters(*m, other, {}).count("inbound|80||"), 0u);
}
