// Istio's TCP metadata exchange frame: what this proxy sends decodes with protobuf's own Any and
// Struct, and what a peer sends (as Istio's filter builds it with protobuf) decodes here.
#include "proxy/telemetry/tcp_metadata_exchange.h"

#include <google/protobuf/any.pb.h>
#include <google/protobuf/struct.pb.h>
#include <gtest/gtest.h>

namespace weft::proxy::telemetry {
namespace {

google::protobuf::Struct nodeMetadata() {
  google::protobuf::Struct s;
  (*s.mutable_fields())["NAME"].set_string_value("db-v1-1");
  (*s.mutable_fields())["NAMESPACE"].set_string_value("prod");
  (*s.mutable_fields())["WORKLOAD_NAME"].set_string_value("db-v1");
  auto& labels = *(*s.mutable_fields())["LABELS"].mutable_struct_value()->mutable_fields();
  labels["app"].set_string_value("db");
  labels["version"].set_string_value("v1");
  return s;
}

std::string frameOf(const google::protobuf::Any& any) {
  std::string body = any.SerializeAsString();
  std::string out;
  for (uint32_t v : {kMxMagic, static_cast<uint32_t>(body.size())})
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xff));
  return out + body;
}

TEST(TcpMetadataExchangeTest, OurFrameIsAnAnyOfAStruct) {
  std::string frame = encodeMxFrame(nodeMetadata().SerializeAsString(), "sidecar~10.0.0.1~db-v1-1.prod~prod.svc");
  ASSERT_GT(frame.size(), 8u);
  EXPECT_EQ(static_cast<uint8_t>(frame[0]), 0x3D);
  EXPECT_EQ(static_cast<uint8_t>(frame[3]), 0x67);
  google::protobuf::Any any;
  ASSERT_TRUE(any.ParseFromString(frame.substr(8)));
  EXPECT_EQ(any.type_url(), "type.googleapis.com/google.protobuf.Struct");
  google::protobuf::Struct data;
  ASSERT_TRUE(any.UnpackTo(&data));
  EXPECT_EQ(data.fields().at("x-envoy-peer-metadata-id").string_value(), "sidecar~10.0.0.1~db-v1-1.prod~prod.svc");
  EXPECT_EQ(data.fields().at("x-envoy-peer-metadata").struct_value().fields().at("WORKLOAD_NAME").string_value(),
            "db-v1");
}

TEST(TcpMetadataExchangeTest, APeersFrameDecodes) {
  google::protobuf::Struct data;
  *(*data.mutable_fields())["x-envoy-peer-metadata"].mutable_struct_value() = nodeMetadata();
  (*data.mutable_fields())["x-envoy-peer-metadata-id"].set_string_value("peer-id");
  google::protobuf::Any any;
  any.PackFrom(data);
  std::string frame = frameOf(any) + "application bytes";
  size_t consumed = 0;
  std::shared_ptr<const PeerMetadata> peer;
  // Byte by byte: NeedMore until the whole frame is there.
  for (size_t n = 0; n < frame.size() - 17; ++n)
    EXPECT_EQ(decodeMxFrame(std::string_view(frame).substr(0, n), consumed, peer), MxDecode::NeedMore) << n;
  ASSERT_EQ(decodeMxFrame(frame, consumed, peer), MxDecode::Done);
  EXPECT_EQ(frame.substr(consumed), "application bytes");
  ASSERT_NE(peer, nullptr);
  EXPECT_EQ(peer->id, "peer-id");
  EXPECT_EQ(peer->workload_name, "db-v1");
  EXPECT_EQ(peer->ns, "prod");
  EXPECT_EQ(peer->app, "db");
}

TEST(TcpMetadataExchangeTest, HostileFramesAreRefusedBeforeBuffering) {
  size_t consumed = 0;
  std::shared_ptr<const PeerMetadata> peer;
  EXPECT_EQ(decodeMxFrame("GET / HTTP/1.1\r\n", consumed, peer), MxDecode::Bad);  // not the magic
  std::string huge = "\x3D\x23\x04\x67\x7f\xff\xff\xff";                          // 2 GiB announced
  EXPECT_EQ(decodeMxFrame(huge, consumed, peer), MxDecode::Bad);
  google::protobuf::Any wrong;
  wrong.set_type_url("type.googleapis.com/google.protobuf.Value");
  EXPECT_EQ(decodeMxFrame(frameOf(wrong), consumed, peer), MxDecode::Bad);
  std::string garbage = frameOf(google::protobuf::Any());
  garbage[8] = '\xff';  // a broken field key
  EXPECT_EQ(decodeMxFrame(garbage, consumed, peer), MxDecode::Bad);
}

}  // namespace
}  // namespace weft::proxy::telemetry
