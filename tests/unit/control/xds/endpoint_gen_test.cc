// EDS generation: one ClusterLoadAssignment per requested outbound EDS cluster, subsets
// filtered by labels, locality weight = sum of endpoint weights, HEALTHY endpoints.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <map>

#include "control/control_test_support.h"
#include "envoy/config/endpoint/v3/endpoint.pb.h"

namespace weft::control::xds {
namespace {

using envoy::config::endpoint::v3::ClusterLoadAssignment;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using testing::kBaseMesh;
using testing::kDetails;
using testing::kReviews;
using testing::modelFrom;
using testing::namesOf;
using testing::out;
using ::testing::UnorderedElementsAre;
using testing::unpackNamed;
using testing::withBase;

const char* kReviewsDrAndVm = R"(
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec:
  host: reviews
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2, app: reviews}}
  - {name: vm, labels: {version: vm}}
  - {name: none, labels: {version: v9}}
  - {name: all}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: vm-1, namespace: default}
spec: {address: 10.5.0.1, labels: {app: reviews, version: vm}, weight: 5}
)";

// "ip:port/weight/health" of each endpoint of the only locality.
std::vector<std::string> describe(const ClusterLoadAssignment& cla) {
  std::vector<std::string> r;
  for (const auto& loc : cla.endpoints()) {
    for (const auto& e : loc.lb_endpoints()) {
      const auto& sa = e.endpoint().address().socket_address();
      r.push_back(sa.address() + ":" + std::to_string(sa.port_value()) + "/" +
                  std::to_string(e.load_balancing_weight().value()) + "/" +
                  envoy::config::core::v3::HealthStatus_Name(e.health_status()));
    }
  }
  return r;
}

TEST(EndpointGenTest, AllEndpointsOfTheServicePort) {
  auto m = modelFrom(withBase(kReviewsDrAndVm));
  auto eds = generateEndpoints(*m, ProxyInfo{}, {out(9080, kReviews)});
  ASSERT_EQ(eds.size(), 1u);
  EXPECT_EQ(eds.begin()->second.type_url(), kEndpointType);
  auto cla = unpackNamed<ClusterLoadAssignment>(eds, out(9080, kReviews));
  EXPECT_EQ(cla.cluster_name(), out(9080, kReviews));
  ASSERT_EQ(cla.endpoints_size(), 1);
  EXPECT_THAT(describe(cla), ElementsAre("10.1.0.1:9080/1/HEALTHY", "10.1.0.2:9080/1/HEALTHY",
                                         "10.1.0.3:9080/1/HEALTHY", "10.5.0.1:9080/5/HEALTHY"));
  EXPECT_EQ(cla.endpoints(0).load_balancing_weight().value(), 8u);
  // gRPC's xDS client rejects a LocalityLbEndpoints without a locality (empty is fine).
  EXPECT_TRUE(cla.endpoints(0).has_locality());
}

TEST(EndpointGenTest, SubsetsFilterByLabels) {
  auto m = modelFrom(withBase(kReviewsDrAndVm));
  auto eds = generateEndpoints(
      *m, ProxyInfo{},
      {out(9080, kReviews, "v1"), out(9080, kReviews, "v2"), out(9080, kReviews, "vm"), out(9080, kReviews, "all")});
  ASSERT_EQ(eds.size(), 4u);
  auto v1 = unpackNamed<ClusterLoadAssignment>(eds, out(9080, kReviews, "v1"));
  EXPECT_EQ(v1.cluster_name(), out(9080, kReviews, "v1"));
  EXPECT_THAT(describe(v1), ElementsAre("10.1.0.1:9080/1/HEALTHY"));
  EXPECT_EQ(v1.endpoints(0).load_balancing_weight().value(), 1u);
  EXPECT_THAT(describe(unpackNamed<ClusterLoadAssignment>(eds, out(9080, kReviews, "v2"))),
              ElementsAre("10.1.0.2:9080/1/HEALTHY"));
  auto vm = unpackNamed<ClusterLoadAssignment>(eds, out(9080, kReviews, "vm"));
  EXPECT_THAT(describe(vm), ElementsAre("10.5.0.1:9080/5/HEALTHY"));
  EXPECT_EQ(vm.endpoints(0).load_balancing_weight().value(), 5u);
  // A subset without labels selects every endpoint.
  EXPECT_EQ(describe(unpackNamed<ClusterLoadAssignment>(eds, out(9080, kReviews, "all"))).size(), 4u);
}

TEST(EndpointGenTest, SubsetWithNoMatchingEndpointsIsAnEmptyAssignment) {
  auto m = modelFrom(withBase(kReviewsDrAndVm));
  auto eds = generateEndpoints(*m, ProxyInfo{}, {out(9080, kReviews, "none")});
  ASSERT_EQ(eds.size(), 1u);
  auto cla = unpackNamed<ClusterLoadAssignment>(eds, out(9080, kReviews, "none"));
  EXPECT_EQ(cla.cluster_name(), out(9080, kReviews, "none"));
  // No locality without weight (gRPC ignores such a locality; Envoy needs none at all).
  EXPECT_EQ(cla.endpoints_size(), 0);
}

TEST(EndpointGenTest, UnknownNamesAreOmitted) {
  auto m = modelFrom(withBase(std::string(kReviewsDrAndVm) + R"(
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: dns, namespace: egress}
spec:
  hosts: [api.example.com]
  ports: [{number: 443, name: tls, protocol: TLS}]
  resolution: DNS
)"));
  auto eds = generateEndpoints(*m, ProxyInfo{},
                               {
                                   out(9080, kReviews),
                                   out(9081, kReviews),        // no such port
                                   out(9080, kReviews, "v7"),  // no such subset
                                   out(9080, "nowhere.default.svc.cluster.local"),
                                   out(9080, testing::kRatings, "v1"),        // no DestinationRule
                                   "inbound|9080||" + std::string(kReviews),  // not outbound
                                   out(443, "api.example.com"),               // STRICT_DNS, not EDS
                                   "reviews",
                                   "",
                               });
  EXPECT_THAT(namesOf(eds), ElementsAre(out(9080, kReviews)));
  EXPECT_THAT(generateEndpoints(*m, ProxyInfo{}, {}), IsEmpty());
}

TEST(EndpointGenTest, MultiPortAndStaticServiceEntry) {
  auto m = modelFrom(withBase(R"(
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: static, namespace: egress}
spec:
  hosts: [static.internal]
  ports: [{number: 8080, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints:
  - {address: 10.7.0.1, weight: 2}
  - {address: 10.7.0.2, ports: {http: 18080}, weight: 3}
)"));
  auto eds = generateEndpoints(*m, ProxyInfo{}, {out(9090, kDetails), out(8080, "static.internal")});
  EXPECT_THAT(describe(unpackNamed<ClusterLoadAssignment>(eds, out(9090, kDetails))),
              ElementsAre("10.2.0.1:9090/1/HEALTHY"));
  auto st = unpackNamed<ClusterLoadAssignment>(eds, out(8080, "static.internal"));
  EXPECT_THAT(describe(st), ElementsAre("10.7.0.1:8080/2/HEALTHY", "10.7.0.2:18080/3/HEALTHY"));
  EXPECT_EQ(st.endpoints(0).load_balancing_weight().value(), 5u);
}

const char* kLocalities = R"(
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: geo, namespace: default}
spec:
  hosts: [geo.internal]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints:
  - {address: 10.0.0.1, locality: us/a/1, labels: {env: prod}}
  - {address: 10.0.0.2, locality: us/a/2, labels: {env: prod}}
  - {address: 10.0.0.3, locality: us/b/1, labels: {env: dev}}
  - {address: 10.0.0.4, locality: eu/c/1, labels: {env: prod}}
  - {address: 10.0.0.5, locality: ap/d/1, labels: {env: dev}}
  - {address: 10.0.0.6, locality: us/a/1, labels: {env: dev}}
)";

std::string geoWith(const std::string& traffic_policy) {
  return withBase(std::string(kLocalities) +
                  "---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: geo, namespace: "
                  "default}\nspec:\n  host: geo.internal\n  trafficPolicy:\n" +
                  traffic_policy);
}

// "ip@priority" for every endpoint, and "locality=weight" for every locality.
std::map<std::string, uint32_t> priorities(const ClusterLoadAssignment& cla) {
  std::map<std::string, uint32_t> r;
  for (const auto& g : cla.endpoints()) {
    for (const auto& e : g.lb_endpoints()) r[e.endpoint().address().socket_address().address()] = g.priority();
  }
  return r;
}

ClusterLoadAssignment geoFor(const std::string& yaml, const std::string& locality, Labels labels = {}) {
  auto m = modelFrom(yaml);
  ProxyInfo p;
  p.locality = locality;
  p.labels = std::move(labels);
  return unpackNamed<ClusterLoadAssignment>(generateEndpoints(*m, p, {out(80, "geo.internal")}),
                                            out(80, "geo.internal"));
}

TEST(EndpointGenTest, OneLocalityLbEndpointsPerLocality) {
  auto cla = geoFor(withBase(kLocalities), "us/a/1");
  ASSERT_EQ(cla.endpoints_size(), 5);
  EXPECT_EQ(cla.endpoints(0).locality().region(), "ap");
  EXPECT_EQ(cla.endpoints(4).locality().zone(), "b");
  EXPECT_EQ(cla.endpoints(4).locality().sub_zone(), "1");
  EXPECT_EQ(cla.endpoints(2).lb_endpoints_size(), 2);  // us/a/1
  EXPECT_EQ(cla.endpoints(2).load_balancing_weight().value(), 2u);
  // No outlier detection: Istio leaves priorities alone (nothing would ever fail over).
  for (const auto& [ip, p] : priorities(cla)) EXPECT_EQ(p, 0u) << ip;
}

TEST(EndpointGenTest, LocalityFailoverPrioritiesAsIstio) {
  auto od = geoWith("    outlierDetection: {consecutive5xxErrors: 1}\n");
  // Same subzone, same zone, same region, elsewhere.
  EXPECT_EQ(priorities(geoFor(od, "us/a/1")),
            (std::map<std::string, uint32_t>{
                {"10.0.0.1", 0}, {"10.0.0.6", 0}, {"10.0.0.2", 1}, {"10.0.0.3", 2}, {"10.0.0.4", 3}, {"10.0.0.5", 3}}));
  // Compacted: a proxy in eu sees its own locality first and one level for the rest.
  EXPECT_EQ(priorities(geoFor(od, "eu/c/1")),
            (std::map<std::string, uint32_t>{
                {"10.0.0.4", 0}, {"10.0.0.1", 1}, {"10.0.0.6", 1}, {"10.0.0.2", 1}, {"10.0.0.3", 1}, {"10.0.0.5", 1}}));
  // failover from us goes to eu before any other region.
  auto fo = geoWith(
      "    outlierDetection: {consecutive5xxErrors: 1}\n"
      "    loadBalancer: {localityLbSetting: {failover: [{from: us, to: eu}]}}\n");
  auto p = priorities(geoFor(fo, "us/a/1"));
  EXPECT_EQ(p["10.0.0.4"], 3u);
  EXPECT_EQ(p["10.0.0.5"], 4u);
  // enabled: false turns it off.
  auto off = geoWith(
      "    outlierDetection: {consecutive5xxErrors: 1}\n"
      "    loadBalancer: {localityLbSetting: {enabled: false}}\n");
  for (const auto& [ip, pr] : priorities(geoFor(off, "us/a/1"))) EXPECT_EQ(pr, 0u) << ip;
}

TEST(EndpointGenTest, LocalityDistributeWeightsAsIstio) {
  auto d = geoWith(
      "    loadBalancer: {localityLbSetting: {distribute: [{from: us/a/*, to: {\"us/a/*\": 80, \"eu/*\": 20}}]}}\n");
  auto cla = geoFor(d, "us/a/1");
  std::map<std::string, std::pair<uint32_t, int>> got;  // locality -> weight, endpoints
  for (const auto& g : cla.endpoints()) {
    got[g.locality().region() + "/" + g.locality().zone() + "/" + g.locality().sub_zone()] = {
        g.load_balancing_weight().value(), g.lb_endpoints_size()};
  }
  // us/a/1 (weight 2) and us/a/2 (weight 1) share 80 by their weights; eu gets 20; the rest none.
  EXPECT_EQ(got["us/a/1"], (std::pair<uint32_t, int>{54, 2}));
  EXPECT_EQ(got["us/a/2"], (std::pair<uint32_t, int>{27, 1}));
  EXPECT_EQ(got["eu/c/1"], (std::pair<uint32_t, int>{20, 1}));
  EXPECT_EQ(got["us/b/1"].second, 0);
  EXPECT_EQ(got["ap/d/1"].second, 0);
  // A proxy the rule's `from` does not match keeps the plain weights.
  EXPECT_EQ(geoFor(d, "eu/c/1").endpoints(2).load_balancing_weight().value(), 2u);
}

TEST(EndpointGenTest, FailoverPriorityLabelsAsIstio) {
  auto fp = geoWith(
      "    outlierDetection: {consecutive5xxErrors: 1}\n"
      "    loadBalancer: {localityLbSetting: {failoverPriority: [env, topology.kubernetes.io/region]}}\n");
  // Both labels match: 0; env matches, region not: 1; env differs: 2. Localities split by it.
  EXPECT_EQ(priorities(geoFor(fp, "us/a/1", {{"env", "prod"}})),
            (std::map<std::string, uint32_t>{
                {"10.0.0.1", 0}, {"10.0.0.2", 0}, {"10.0.0.4", 1}, {"10.0.0.3", 2}, {"10.0.0.5", 2}, {"10.0.0.6", 2}}));
  // "label=value" compares with that value instead of the proxy's.
  auto fixed = geoWith(
      "    outlierDetection: {consecutive5xxErrors: 1}\n"
      "    loadBalancer: {localityLbSetting: {failoverPriority: [env=dev]}}\n");
  EXPECT_EQ(priorities(geoFor(fixed, "us/a/1", {{"env", "prod"}}))["10.0.0.3"], 0u);
  EXPECT_EQ(priorities(geoFor(fixed, "us/a/1", {{"env", "prod"}}))["10.0.0.1"], 1u);
  // A proxy without labels: no label priorities, as Istio.
  for (const auto& [ip, pr] : priorities(geoFor(fixed, "us/a/1"))) EXPECT_EQ(pr, 0u) << ip;
}

}  // namespace
}  // namespace weft::control::xds
