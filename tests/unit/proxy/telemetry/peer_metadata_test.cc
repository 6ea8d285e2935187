// Istio's exchanged metadata: this proxy's header made from the bootstrap node (a serialized
// google.protobuf.Struct of the exchanged keys, in base64), decoded back by the hand decoder,
// and a peer's header as Istio's sidecars write it, checked against protobuf's own Struct.
#include "proxy/telemetry/peer_metadata.h"

#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>

namespace weft::proxy::telemetry {
namespace {

envoy::config::core::v3::Node node(const std::string& metadata_json) {
  envoy::config::core::v3::Node n;
  n.set_id("sidecar~10.0.0.7~reviews-v2-abc.default~default.svc.cluster.local");
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(metadata_json, n.mutable_metadata()).ok());
  return n;
}

TEST(PeerMetadataTest, OwnHeaderRoundTrip) {
  auto self = makeLocalPeer(node(R"({"NAME": "reviews-v2-abc", "NAMESPACE": "default", "CLUSTER_ID": "Kubernetes",
      "WORKLOAD_NAME": "reviews-v2", "OWNER": "kubernetes://apis/apps/v1/namespaces/default/deployments/reviews-v2",
      "LABELS": {"app": "reviews", "version": "v2"}, "INTERCEPTION_MODE": "REDIRECT", "WEFT_SDS": "true"})"));
  EXPECT_EQ(self->id, "sidecar~10.0.0.7~reviews-v2-abc.default~default.svc.cluster.local");
  // What a peer sees is protobuf's Struct: decode the header with libprotobuf itself.
  std::string raw(self->header.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(raw.data()),
                          reinterpret_cast<const unsigned char*>(self->header.data()),
                          static_cast<int>(self->header.size()));
  ASSERT_GT(n, 0);
  size_t pad = self->header.size() - self->header.find_last_not_of('=') - 1;
  raw.resize(static_cast<size_t>(n) - pad);
  google::protobuf::Struct s;
  ASSERT_TRUE(s.ParseFromString(raw));
  EXPECT_EQ(s.fields().at("WORKLOAD_NAME").string_value(), "reviews-v2");
  EXPECT_EQ(s.fields().at("LABELS").struct_value().fields().at("version").string_value(), "v2");
  EXPECT_EQ(s.fields().count("INTERCEPTION_MODE"), 0u);  // only Istio's exchanged keys
  EXPECT_EQ(s.fields().count("WEFT_SDS"), 0u);
  const PeerMetadata& m = self->metadata;
  EXPECT_EQ(m.name, "reviews-v2-abc");
  EXPECT_EQ(m.ns, "default");
  EXPECT_EQ(m.cluster_id, "Kubernetes");
  EXPECT_EQ(m.workload_name, "reviews-v2");
  EXPECT_EQ(m.app, "reviews");
  EXPECT_EQ(m.canonicalService(), "reviews");
  EXPECT_EQ(m.canonicalRevision(), "v2");
}

TEST(PeerMetadataTest, PeerHeaderAsIstioWritesIt) {
  google::protobuf::Struct s;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(
                  R"({"NAME": "productpage-v1-x", "NAMESPACE": "shop", "WORKLOAD_NAME": "productpage-v1",
                      "LABELS": {"service.istio.io/canonical-name": "pp", "service.istio.io/canonical-revision": "r7"},
                      "INSTANCE_IPS": "10.1.2.3", "APP_CONTAINERS": "productpage", "PLATFORM_METADATA": {}})",
                  &s)
                  .ok());
  std::string bytes = s.SerializeAsString();
  std::string b64(4 * ((bytes.size() + 2) / 3), '\0');
  b64.resize(static_cast<size_t>(EVP_EncodeBlock(reinterpret_cast<unsigned char*>(b64.data()),
                                                 reinterpret_cast<const unsigned char*>(bytes.data()),
                                                 static_cast<int>(bytes.size()))));
  auto m = peerMetadataFromHeader(b64);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->workload_name, "productpage-v1");
  EXPECT_EQ(m->ns, "shop");
  EXPECT_EQ(m->canonicalService(), "pp");
  EXPECT_EQ(m->canonicalRevision(), "r7");
  EXPECT_EQ(m->app, "");
  // Garbage is not metadata.
  EXPECT_FALSE(peerMetadataFromHeader("not base64!"));
  EXPECT_FALSE(peerMetadataFromHeader("////"));
  EXPECT_FALSE(peerMetadataFromHeader(""));
  PeerMetadata bare;
  bare.workload_name = "w";
  EXPECT_EQ(bare.canonicalService(), "w");
  EXPECT_EQ(bare.canonicalRevision(), "latest");
}

}  // namespace
}  // namespace weft::proxy::telemetry
