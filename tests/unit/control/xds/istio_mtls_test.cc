// Istio's mutual TLS in generated config: auto mTLS (transport_socket_matches on the endpoint's
// tlsMode), DestinationRule ISTIO_MUTUAL / DISABLE, EDS tlsMode metadata, and the PERMISSIVE
// inbound chains, only for proxies with a workload certificate (SDS).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "control/control_test_support.h"
#include "envoy/config/cluster/v3/cluster.pb.h"
#include "envoy/config/endpoint/v3/endpoint.pb.h"
#include "envoy/config/listener/v3/listener.pb.h"
#include "envoy/extensions/transport_sockets/tls/v3/tls.pb.h"

namespace weft::control::xds {
namespace {

using envoy::config::cluster::v3::Cluster;
using envoy::config::endpoint::v3::ClusterLoadAssignment;
using envoy::config::listener::v3::Listener;
using envoy::extensions::transport_sockets::tls::v3::DownstreamTlsContext;
using envoy::extensions::transport_sockets::tls::v3::UpstreamTlsContext;
using ::testing::ElementsAre;
using testing::kDb;
using testing::kReviews;
using testing::modelFrom;
using testing::out;
using testing::proxyIn;
using testing::unpackNamed;
using testing::withBase;

// reviews-v1 and reviews-v2 carry the injector's tlsMode label; reviews-v3 has no sidecar.
std::string meshed() {
  std::string yaml = withBase("");
  auto label = [&](const std::string& pod) {
    std::string from = "{name: " + pod + ", namespace: default, labels: {app: reviews, ";
    yaml.replace(yaml.find(from), from.size(), from + "security.istio.io/tlsMode: istio, ");
  };
  label("reviews-v1");
  label("reviews-v2");
  return yaml;
}

ProxyInfo withSds(ProxyInfo p) {
  p.sds = true;
  return p;
}

UpstreamTlsContext upstreamOf(const envoy::config::core::v3::TransportSocket& ts) {
  UpstreamTlsContext u;
  EXPECT_TRUE(ts.typed_config().UnpackTo(&u)) << ts.DebugString();
  return u;
}

TEST(IstioMtlsTest, AutoMtlsMatchesOnTheEndpointsTlsMode) {
  auto m = modelFrom(meshed());
  auto c = unpackNamed<Cluster>(generateClusters(*m, withSds(proxyIn("default")), {}), out(9080, kReviews));
  EXPECT_FALSE(c.has_transport_socket());
  ASSERT_EQ(c.transport_socket_matches_size(), 2);
  EXPECT_EQ(c.transport_socket_matches(0).name(), "tlsMode-istio");
  EXPECT_EQ(c.transport_socket_matches(0).match().fields().at("tlsMode").string_value(), "istio");
  EXPECT_EQ(c.transport_socket_matches(1).name(), "tlsMode-disabled");
  EXPECT_EQ(c.transport_socket_matches(1).match().fields_size(), 0);
  EXPECT_EQ(c.transport_socket_matches(1).transport_socket().name(), "envoy.transport_sockets.raw_buffer");
  auto u = upstreamOf(c.transport_socket_matches(0).transport_socket());
  EXPECT_EQ(u.sni(), "outbound_.9080_._.reviews.default.svc.cluster.local");
  EXPECT_THAT(u.common_tls_context().alpn_protocols(), ElementsAre("istio-peer-exchange", "istio"));
  ASSERT_EQ(u.common_tls_context().tls_certificate_sds_secret_configs_size(), 1);
  const auto& sds = u.common_tls_context().tls_certificate_sds_secret_configs(0);
  EXPECT_EQ(sds.name(), "default");
  EXPECT_EQ(sds.sds_config().api_config_source().grpc_services(0).envoy_grpc().cluster_name(), "sds-grpc");
  const auto& combined = u.common_tls_context().combined_validation_context();
  EXPECT_EQ(combined.validation_context_sds_secret_config().name(), "ROOTCA");
  // The SANs are the service accounts of the service's workloads (reviews-v1's; the others use "default").
  std::vector<std::string> sans;
  for (const auto& s : combined.default_validation_context().match_subject_alt_names()) sans.push_back(s.exact());
  EXPECT_THAT(sans, ElementsAre("spiffe://cluster.local/ns/default/sa/bookinfo-reviews",
                                "spiffe://cluster.local/ns/default/sa/default"));

  // Subsets get their own SNI.
  auto sub = modelFrom(meshed() + "---\n" + testing::kReviewsDr);
  auto v1 = unpackNamed<Cluster>(generateClusters(*sub, withSds(proxyIn("default")), {}), out(9080, kReviews, "v1"));
  EXPECT_EQ(upstreamOf(v1.transport_socket_matches(0).transport_socket()).sni(),
            "outbound_.9080_.v1_.reviews.default.svc.cluster.local");
}

TEST(IstioMtlsTest, ProxiesWithoutACertificateStayPlaintext) {
  auto m = modelFrom(meshed());
  auto c = unpackNamed<Cluster>(generateClusters(*m, proxyIn("default"), {}), out(9080, kReviews));
  EXPECT_EQ(c.transport_socket_matches_size(), 0);
  EXPECT_FALSE(c.has_transport_socket());
  auto l = unpackNamed<Listener>(generateListeners(*m, proxyIn("default"), {}), "virtualInbound");
  for (const auto& fc : l.filter_chains()) EXPECT_FALSE(fc.has_transport_socket());
}

TEST(IstioMtlsTest, DestinationRuleTlsModes) {
  auto rule = [](const std::string& tls) {
    return std::string(R"(
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec:
  host: reviews
  trafficPolicy:
    tls: )") +
           tls + "\n";
  };
  auto m = modelFrom(meshed() + "---\n" + rule("{mode: ISTIO_MUTUAL, sni: custom.sni}"));
  auto c = unpackNamed<Cluster>(generateClusters(*m, withSds(proxyIn("default")), {}), out(9080, kReviews));
  ASSERT_TRUE(c.has_transport_socket());  // every endpoint, sidecar or not
  EXPECT_EQ(c.transport_socket_matches_size(), 0);
  EXPECT_EQ(upstreamOf(c.transport_socket()).sni(), "custom.sni");

  m = modelFrom(meshed() + "---\n" + rule("{mode: DISABLE}"));
  c = unpackNamed<Cluster>(generateClusters(*m, withSds(proxyIn("default")), {}), out(9080, kReviews));
  EXPECT_FALSE(c.has_transport_socket());
  EXPECT_EQ(c.transport_socket_matches_size(), 0);
}

TEST(IstioMtlsTest, EndpointsCarryTheirTlsMode) {
  auto m = modelFrom(meshed());
  auto cla = unpackNamed<ClusterLoadAssignment>(generateEndpoints(*m, proxyIn("default"), {out(9080, kReviews)}),
                                                out(9080, kReviews));
  std::map<std::string, std::string> modes;
  for (const auto& g : cla.endpoints()) {
    for (const auto& e : g.lb_endpoints()) {
      auto md = e.metadata().filter_metadata().find("envoy.transport_socket_match");
      modes[e.endpoint().address().socket_address().address()] =
          md == e.metadata().filter_metadata().end() ? "" : md->second.fields().at("tlsMode").string_value();
    }
  }
  EXPECT_EQ(modes,
            (std::map<std::string, std::string>{{"10.1.0.1", "istio"}, {"10.1.0.2", "istio"}, {"10.1.0.3", ""}}));
}

TEST(IstioMtlsTest, InboundIsPermissive) {
  auto m = modelFrom(meshed());
  ProxyInfo p = withSds(proxyIn("default", {{"app", "reviews"}, {"version", "v1"}}));
  p.ip = "10.1.0.1";
  auto l = unpackNamed<Listener>(generateListeners(*m, p, {}), "virtualInbound");
  std::vector<std::string> filters;
  for (const auto& f : l.listener_filters()) filters.push_back(f.name());
  EXPECT_THAT(filters, ElementsAre("envoy.filters.listener.original_dst", "envoy.filters.listener.tls_inspector"));
  ASSERT_EQ(l.filter_chains_size(), 2);
  const auto& mtls = l.filter_chains(0);
  EXPECT_EQ(mtls.filter_chain_match().destination_port().value(), 9080u);
  EXPECT_EQ(mtls.filter_chain_match().transport_protocol(), "tls");
  EXPECT_THAT(mtls.filter_chain_match().application_protocols(),
              ElementsAre("istio", "istio-peer-exchange", "istio-http/1.0", "istio-http/1.1", "istio-h2"));
  DownstreamTlsContext d;
  ASSERT_TRUE(mtls.transport_socket().typed_config().UnpackTo(&d));
  EXPECT_TRUE(d.require_client_certificate().value());
  EXPECT_EQ(d.common_tls_context().tls_certificate_sds_secret_configs(0).name(), "default");
  EXPECT_EQ(d.common_tls_context().combined_validation_context().validation_context_sds_secret_config().name(),
            "ROOTCA");
  EXPECT_THAT(d.common_tls_context().alpn_protocols(), ElementsAre("h2", "http/1.1"));
  const auto& plain = l.filter_chains(1);
  EXPECT_EQ(plain.filter_chain_match().transport_protocol(), "raw_buffer");
  EXPECT_FALSE(plain.has_transport_socket());
  EXPECT_EQ(plain.filters(0).name(), mtls.filters(0).name());
}

TEST(IstioMtlsTest, InboundTcpAlsoPassesTheApplicationsOwnTls) {
  std::string yaml = withBase(R"(
apiVersion: v1
kind: Pod
metadata: {name: db-1, namespace: default, labels: {app: db, security.istio.io/tlsMode: istio}}
status: {podIP: 10.1.2.1}
)");
  auto m = modelFrom(yaml);
  ProxyInfo p = withSds(proxyIn("default", {{"app", "db"}}));
  p.ip = "10.1.2.1";
  auto l = unpackNamed<Listener>(generateListeners(*m, p, {}), "virtualInbound");
  ASSERT_EQ(l.filter_chains_size(), 3);
  EXPECT_TRUE(l.filter_chains(0).has_transport_socket());
  EXPECT_EQ(l.filter_chains(1).filter_chain_match().transport_protocol(), "tls");
  EXPECT_EQ(l.filter_chains(1).filter_chain_match().application_protocols_size(), 0);
  EXPECT_FALSE(l.filter_chains(1).has_transport_socket());
  EXPECT_EQ(l.filter_chains(2).filter_chain_match().transport_protocol(), "raw_buffer");
  (void)kDb;
}

}  // namespace
}  // namespace weft::control::xds

namespace weft::control::xds {
namespace {

TEST(IstioMtlsTest, StrictInboundRefusesPlaintextAndDisableTurnsAutoMtlsOff) {
  std::string strict = R"(
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: reviews, namespace: default}
spec:
  selector: {matchLabels: {app: reviews}}
  mtls: {mode: STRICT}
)";
  auto m = testing::modelFrom(meshed() + "---\n" + strict);
  ProxyInfo p = withSds(testing::proxyIn("default", {{"app", "reviews"}, {"version", "v1"}}));
  p.ip = "10.1.0.1";
  auto l = testing::unpackNamed<Listener>(generateListeners(*m, p, {}), "virtualInbound");
  ASSERT_EQ(l.filter_chains_size(), 2);
  EXPECT_EQ(l.filter_chains(0).filter_chain_match().transport_protocol(), "tls");
  EXPECT_EQ(l.filter_chains(0).filter_chain_match().application_protocols_size(), 0);  // any TLS: mTLS required
  EXPECT_TRUE(l.filter_chains(0).has_transport_socket());
  EXPECT_EQ(l.filter_chains(1).filter_chain_match().transport_protocol(), "raw_buffer");
  EXPECT_NE(l.filter_chains(1).filters(0).typed_config().value().find("BlackHoleCluster"), std::string::npos);
  EXPECT_TRUE(l.default_filter_chain().has_transport_socket());  // the passthrough wants mTLS too

  std::string disable = R"(
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: default}
spec:
  mtls: {mode: DISABLE}
)";
  m = testing::modelFrom(meshed() + "---\n" + disable);
  auto c = testing::unpackNamed<Cluster>(generateClusters(*m, withSds(testing::proxyIn("default")), {}),
                                         testing::out(9080, testing::kReviews));
  EXPECT_EQ(c.transport_socket_matches_size(), 0);
  l = testing::unpackNamed<Listener>(generateListeners(*m, p, {}), "virtualInbound");
  ASSERT_EQ(l.filter_chains_size(), 1);
  EXPECT_FALSE(l.filter_chains(0).has_transport_socket());
}

}  // namespace
}  // namespace weft::control::xds

namespace weft::control::xds {
namespace {

// Istio's samples/bookinfo/networking/destination-rule-all-mtls.yaml, unchanged.
TEST(IstioMtlsTest, BookinfoDestinationRuleAllMtls) {
  std::ifstream f("tests/integration/data/bookinfo/destination-rule-all-mtls.yaml");
  ASSERT_TRUE(f) << "run from the repository root";
  std::stringstream text;
  text << f.rdbuf();
  ConfigSnapshot snap = testing::snapshotFrom(text.str());
  EXPECT_TRUE(snap.rejected.empty()) << testing::rejectedText(snap);
  EXPECT_EQ(snap.destination_rules.size(), 4u);
  auto m = testing::modelFrom(meshed() + "---\n" + text.str());
  auto clusters = generateClusters(*m, withSds(testing::proxyIn("default")), {});
  for (const char* subset : {"", "v1", "v2", "v3"}) {
    auto c = testing::unpackNamed<Cluster>(clusters, testing::out(9080, testing::kReviews, subset));
    ASSERT_TRUE(c.has_transport_socket()) << subset;  // ISTIO_MUTUAL for every endpoint
    EXPECT_EQ(c.transport_socket_matches_size(), 0);
    EXPECT_EQ(upstreamOf(c.transport_socket()).sni(),
              std::string("outbound_.9080_.") + subset + "_.reviews.default.svc.cluster.local");
  }
}

}  // namespace
}  // namespace weft::control::xds

namespace weft::control::xds {
namespace {

std::shared_ptr<const MeshModel> modelWithMesh(const std::string& yaml, const std::string& mesh_yaml) {
  auto snap = std::make_shared<ConfigSnapshot>(testing::snapshotFrom(yaml));
  std::vector<std::string> errors;
  auto mesh = std::make_shared<MeshConfig>(parseMeshConfig(mesh_yaml, errors));
  EXPECT_TRUE(errors.empty()) << errors.front();
  return buildModel(snap, mesh);
}

TEST(IstioMtlsMeshConfigTest, EnableAutoMtlsFalseLeavesMtlsToDestinationRules) {
  auto m = modelWithMesh(meshed(), "enableAutoMtls: false\n");
  auto c = unpackNamed<envoy::config::cluster::v3::Cluster>(generateClusters(*m, withSds(proxyIn("default")), {}),
                                                            out(9080, kReviews));
  EXPECT_FALSE(c.has_transport_socket());
  EXPECT_EQ(c.transport_socket_matches_size(), 0);
  // A DestinationRule's ISTIO_MUTUAL still applies.
  m = modelWithMesh(meshed() + R"(---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec:
  host: reviews
  trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}
)",
                    "enableAutoMtls: false\n");
  c = unpackNamed<envoy::config::cluster::v3::Cluster>(generateClusters(*m, withSds(proxyIn("default")), {}),
                                                       out(9080, kReviews));
  EXPECT_TRUE(c.has_transport_socket());
}

TEST(IstioMtlsMeshConfigTest, DefaultExportToAppliesToObjectsWithoutTheirOwn) {
  const std::string rules = meshed() + R"(---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec:
  host: reviews.default.svc.cluster.local
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ratings, namespace: default}
spec:
  host: ratings.default.svc.cluster.local
  exportTo: ["*"]
)";
  auto m = modelWithMesh(rules, "defaultDestinationRuleExportTo: [.]\ndefaultVirtualServiceExportTo: [.]\n");
  EXPECT_NE(m->destinationRuleFor("reviews.default.svc.cluster.local", "default"), nullptr);
  EXPECT_EQ(m->destinationRuleFor("reviews.default.svc.cluster.local", "prod"), nullptr);
  EXPECT_NE(m->destinationRuleFor("ratings.default.svc.cluster.local", "prod"), nullptr);
  m = modelWithMesh(rules, "");
  EXPECT_NE(m->destinationRuleFor("reviews.default.svc.cluster.local", "prod"), nullptr);
}

}  // namespace
}  // namespace weft::control::xds
