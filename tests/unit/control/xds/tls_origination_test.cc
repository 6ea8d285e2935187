// DestinationRule SIMPLE / MUTUAL: Istio's file secrets over SDS for a proxy with an agent, the
// files themselves for one without, the system's roots by default, insecureSkipVerify, SNI and
// SANs, auto SNI for HTTP clusters, and a ServiceEntry's subjectAltNames.
#include "control/xds/tls_origination.h"

#include "control/xds/generator.h"

#include <gtest/gtest.h>

#include "control/control_test_support.h"
#include "envoy/extensions/transport_sockets/tls/v3/tls.pb.h"
#include "envoy/extensions/upstreams/http/v3/http_protocol_options.pb.h"

namespace weft::control::xds {
namespace {

using envoy::config::cluster::v3::Cluster;
using envoy::extensions::transport_sockets::tls::v3::UpstreamTlsContext;
using testing::kReviews;
using testing::modelFrom;
using testing::out;
using testing::proxyIn;
using testing::unpackNamed;
using testing::withBase;

std::string rule(const std::string& host, const std::string& tls) {
  return "---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: r, namespace: default}\n"
         "spec:\n  host: " +
         host + "\n  trafficPolicy:\n    tls: " + tls + "\n";
}

UpstreamTlsContext tlsOf(const Cluster& c) {
  UpstreamTlsContext u;
  EXPECT_TRUE(c.transport_socket().typed_config().UnpackTo(&u)) << c.DebugString();
  return u;
}

Cluster reviews(const std::string& tls, bool sds) {
  auto m = modelFrom(withBase("") + rule("reviews", tls));
  ProxyInfo p = proxyIn("default");
  p.sds = sds;
  return unpackNamed<Cluster>(generateClusters(*m, p, {}), out(9080, kReviews));
}

TEST(TlsOriginationTest, MutualOverSdsAsIstiosFileSecrets) {
  Cluster c = reviews(
      "{mode: MUTUAL, clientCertificate: /certs/c.pem, privateKey: /certs/c.key, "
      "caCertificates: /certs/ca.pem, sni: api.example.com, subjectAltNames: [api.example.com]}",
      true);
  auto u = tlsOf(c);
  EXPECT_EQ(u.sni(), "api.example.com");
  const auto& common = u.common_tls_context();
  ASSERT_EQ(common.tls_certificate_sds_secret_configs_size(), 1);
  EXPECT_EQ(common.tls_certificate_sds_secret_configs(0).name(), "file-cert:/certs/c.pem~/certs/c.key");
  EXPECT_EQ(common.tls_certificate_sds_secret_configs(0)
                .sds_config()
                .api_config_source()
                .grpc_services(0)
                .envoy_grpc()
                .cluster_name(),
            "sds-grpc");
  const auto& combined = common.combined_validation_context();
  EXPECT_EQ(combined.validation_context_sds_secret_config().name(), "file-root:/certs/ca.pem");
  ASSERT_EQ(combined.default_validation_context().match_subject_alt_names_size(), 1);
  EXPECT_EQ(combined.default_validation_context().match_subject_alt_names(0).exact(), "api.example.com");
  EXPECT_EQ(c.transport_socket_matches_size(), 0);  // whatever the endpoints, as ISTIO_MUTUAL
}

TEST(TlsOriginationTest, SimpleWithoutAnAgentReadsTheFilesAndUsesAutoSni) {
  Cluster c = reviews("{mode: SIMPLE}", false);
  auto u = tlsOf(c);
  EXPECT_EQ(u.sni(), "");
  EXPECT_EQ(u.common_tls_context().tls_certificates_size(), 0);
  EXPECT_EQ(u.common_tls_context().validation_context().trusted_ca().filename(), kSystemRootsFile);
  envoy::extensions::upstreams::http::v3::HttpProtocolOptions o;
  ASSERT_TRUE(
      c.typed_extension_protocol_options().at("envoy.extensions.upstreams.http.v3.HttpProtocolOptions").UnpackTo(&o));
  EXPECT_TRUE(o.upstream_http_protocol_options().auto_sni());
  EXPECT_TRUE(o.upstream_http_protocol_options().auto_san_validation());
  EXPECT_TRUE(o.explicit_http_config().has_http_protocol_options());

  c = reviews("{mode: MUTUAL, clientCertificate: /c.pem, privateKey: /c.key, insecureSkipVerify: true}", false);
  u = tlsOf(c);
  EXPECT_EQ(u.common_tls_context().tls_certificates(0).certificate_chain().filename(), "/c.pem");
  EXPECT_EQ(u.common_tls_context().tls_certificates(0).private_key().filename(), "/c.key");
  EXPECT_TRUE(u.common_tls_context().has_validation_context());
  EXPECT_FALSE(u.common_tls_context().validation_context().has_trusted_ca());  // nothing is verified
  // With an agent, the system roots come over SDS too.
  EXPECT_EQ(tlsOf(reviews("{mode: SIMPLE}", true))
                .common_tls_context()
                .combined_validation_context()
                .validation_context_sds_secret_config()
                .name(),
            "file-root:system");
}

TEST(TlsOriginationTest, ServiceEntrySubjectAltNames) {
  auto m = modelFrom(withBase(R"(---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: api, namespace: default}
spec:
  hosts: [api.example.com]
  location: MESH_EXTERNAL
  resolution: DNS
  ports: [{number: 443, name: https, protocol: HTTP}]
  subjectAltNames: [spiffe://partner/ns/x/sa/api]
)") + rule("api.example.com", "{mode: SIMPLE, caCertificates: /ca.pem}"));
  auto c = unpackNamed<Cluster>(generateClusters(*m, proxyIn("default"), {}), "outbound|443||api.example.com");
  auto u = tlsOf(c);
  ASSERT_EQ(u.common_tls_context().validation_context().match_subject_alt_names_size(), 1);
  EXPECT_EQ(u.common_tls_context().validation_context().match_subject_alt_names(0).exact(),
            "spiffe://partner/ns/x/sa/api");
  EXPECT_EQ(u.common_tls_context().validation_context().trusted_ca().filename(), "/ca.pem");
}

}  // namespace
}  // namespace weft::control::xds
