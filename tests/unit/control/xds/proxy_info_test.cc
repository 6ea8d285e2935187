// ProxyInfo::fromNode: Istio's node id "TYPE~IP~POD.NS~NS.svc.cluster.local" and metadata.
#include "control/xds/proxy_info.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace weft::control {
namespace {

envoy::config::core::v3::Node node(const std::string& id) {
  envoy::config::core::v3::Node n;
  n.set_id(id);
  return n;
}

TEST(ProxyInfoTest, ParsesIstioNodeId) {
  ProxyInfo p = ProxyInfo::fromNode(node("sidecar~10.1.2.3~pod-1.ns1~ns1.svc.cluster.local"));
  EXPECT_EQ(p.id, "sidecar~10.1.2.3~pod-1.ns1~ns1.svc.cluster.local");
  EXPECT_EQ(p.type, "sidecar");
  EXPECT_EQ(p.ip, "10.1.2.3");
  EXPECT_EQ(p.pod, "pod-1");
  EXPECT_EQ(p.ns, "ns1");
  EXPECT_TRUE(p.labels.empty());
}

TEST(ProxyInfoTest, PodNameWithDots) {
  ProxyInfo p = ProxyInfo::fromNode(node("router~10.0.0.9~gw.v1.istio-system~istio-system.svc.cluster.local"));
  EXPECT_EQ(p.type, "router");
  EXPECT_EQ(p.pod, "gw.v1");
  EXPECT_EQ(p.ns, "istio-system");
}

TEST(ProxyInfoTest, MetadataNamespaceAndLabels) {
  auto n = node("sidecar~10.1.2.3~pod-1.ns1~ns1.svc.cluster.local");
  auto& f = *n.mutable_metadata()->mutable_fields();
  f["NAMESPACE"].set_string_value("ns2");
  auto& labels = *f["LABELS"].mutable_struct_value()->mutable_fields();
  labels["app"].set_string_value("reviews");
  labels["version"].set_string_value("v2");
  labels["replicas"].set_number_value(3);  // not a string: not a label
  f["WORKLOAD_NAME"].set_string_value("reviews-v2");
  ProxyInfo p = ProxyInfo::fromNode(n);
  EXPECT_EQ(p.ns, "ns2");
  EXPECT_EQ(p.labels, (Labels{{"app", "reviews"}, {"version", "v2"}}));
  EXPECT_EQ(p.pod, "pod-1");  // the id's pod name stays
}

TEST(ProxyInfoTest, LocalityFromTheNodeElseTheLocalityLabel) {
  auto n = node("sidecar~10.1.2.3~pod-1.ns1~ns1.svc.cluster.local");
  auto& labels = *(*n.mutable_metadata()->mutable_fields())["LABELS"].mutable_struct_value()->mutable_fields();
  labels["istio-locality"].set_string_value("eu-west.zone-1.rack-9");
  EXPECT_EQ(ProxyInfo::fromNode(n).locality, "eu-west/zone-1/rack-9");  // '.' read as '/', as Istio
  labels["topology.istio.io/locality"].set_string_value("us-east.z2");
  EXPECT_EQ(ProxyInfo::fromNode(n).locality, "us-east/z2");  // the newer label first
  n.mutable_locality()->set_region("ap");
  n.mutable_locality()->set_zone("z3");
  EXPECT_EQ(ProxyInfo::fromNode(n).locality, "ap/z3");
}

TEST(ProxyInfoTest, NonIstioIdUsesMetadataOnly) {
  auto n = node("grpc-client-1");
  (*n.mutable_metadata()->mutable_fields())["WORKLOAD_NAME"].set_string_value("client");
  ProxyInfo p = ProxyInfo::fromNode(n);
  EXPECT_EQ(p.id, "grpc-client-1");
  EXPECT_EQ(p.type, "");
  EXPECT_EQ(p.ip, "");
  EXPECT_EQ(p.pod, "client");
  EXPECT_EQ(p.ns, "default");

  ProxyInfo empty = ProxyInfo::fromNode(node(""));
  EXPECT_EQ(empty.ns, "default");
  EXPECT_TRUE(empty.labels.empty());
}

TEST(ProxyInfoTest, InterceptionModeNone) {
  auto n = node("sidecar~10.1.2.3~pod-1.ns1~ns1.svc.cluster.local");
  EXPECT_FALSE(ProxyInfo::fromNode(n).capture_none);
  (*n.mutable_metadata()->mutable_fields())["INTERCEPTION_MODE"].set_string_value("REDIRECT");
  EXPECT_FALSE(ProxyInfo::fromNode(n).capture_none);
  (*n.mutable_metadata()->mutable_fields())["INTERCEPTION_MODE"].set_string_value("NONE");
  EXPECT_TRUE(ProxyInfo::fromNode(n).capture_none);
}

}  // namespace
}  // namespace weft::control
