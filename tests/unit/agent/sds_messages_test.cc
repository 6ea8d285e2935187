// weft-agent encodes its few protobuf messages by hand (common/proto/wire.h); these tests hold
// every one against the generated classes of the real protos.
#include "agent/sds_messages.h"

#include <gtest/gtest.h>

#include "envoy/extensions/transport_sockets/tls/v3/secret.pb.h"
#include "envoy/service/discovery/v3/discovery.pb.h"
#include "istio/v1/auth/istioca.pb.h"

namespace weft::agent {
namespace {

namespace tlsv3 = envoy::extensions::transport_sockets::tls::v3;

TEST(SdsMessages, DiscoveryRequestFromTheRealType) {
  envoy::service::discovery::v3::DiscoveryRequest req;
  req.set_version_info("3");
  req.mutable_node()->set_id("sidecar~10.0.0.1~pod.ns~ns.svc.cluster.local");
  req.add_resource_names("default");
  req.add_resource_names("ROOTCA");
  req.set_type_url(kSecretTypeUrl);
  req.set_response_nonce("7");
  req.mutable_error_detail()->set_code(3);
  req.mutable_error_detail()->set_message("bad key");
  auto view = decodeDiscoveryRequest(req.SerializeAsString());
  ASSERT_TRUE(view);
  EXPECT_EQ(view->version_info, "3");
  EXPECT_EQ(view->resource_names, (std::vector<std::string>{"default", "ROOTCA"}));
  EXPECT_EQ(view->type_url, kSecretTypeUrl);
  EXPECT_EQ(view->response_nonce, "7");
  EXPECT_TRUE(view->has_error_detail);
  EXPECT_EQ(view->error_message, "bad key");
  EXPECT_FALSE(
      decodeDiscoveryRequest(std::string("\x0a\x05"
                                         "ab",
                                         4)));  // length past the end
}

TEST(SdsMessages, DiscoveryResponseParsesAsTheRealType) {
  SecretValue cert{"default", "CHAIN PEM", "KEY PEM", ""};
  SecretValue root{"ROOTCA", "", "", "ROOT PEM"};
  envoy::service::discovery::v3::DiscoveryResponse res;
  ASSERT_TRUE(res.ParseFromString(encodeDiscoveryResponse("2", {cert, root}, "9")));
  EXPECT_EQ(res.version_info(), "2");
  EXPECT_EQ(res.type_url(), kSecretTypeUrl);
  EXPECT_EQ(res.nonce(), "9");
  ASSERT_EQ(res.resources_size(), 2);
  tlsv3::Secret s0, s1;
  ASSERT_TRUE(res.resources(0).UnpackTo(&s0));
  ASSERT_TRUE(res.resources(1).UnpackTo(&s1));
  EXPECT_EQ(s0.name(), "default");
  EXPECT_EQ(s0.tls_certificate().certificate_chain().inline_bytes(), "CHAIN PEM");
  EXPECT_EQ(s0.tls_certificate().private_key().inline_bytes(), "KEY PEM");
  EXPECT_FALSE(s0.has_validation_context());
  EXPECT_EQ(s1.name(), "ROOTCA");
  EXPECT_EQ(s1.validation_context().trusted_ca().inline_bytes(), "ROOT PEM");
  EXPECT_FALSE(s1.has_tls_certificate());
}

TEST(SdsMessages, IstioCertificateMessages) {
  istio::v1::auth::IstioCertificateRequest req;
  ASSERT_TRUE(req.ParseFromString(encodeIstioCertificateRequest("CSR PEM", 3600)));
  EXPECT_EQ(req.csr(), "CSR PEM");
  EXPECT_EQ(req.validity_duration(), 3600);
  istio::v1::auth::IstioCertificateResponse res;
  res.add_cert_chain("LEAF");
  res.add_cert_chain("ROOT");
  auto chain = decodeIstioCertificateResponse(res.SerializeAsString());
  ASSERT_TRUE(chain);
  EXPECT_EQ(*chain, (std::vector<std::string>{"LEAF", "ROOT"}));
}

}  // namespace
}  // namespace weft::agent
