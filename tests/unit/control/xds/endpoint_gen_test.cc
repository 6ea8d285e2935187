// EDS generation: one ClusterLoadAssignment per requested outbound EDS cluster, subsets
// filtered by labels, locality weight = sum of endpoint weights, HEALTHY endpoints.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

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

}  // namespace
}  // namespace weft::control::xds
