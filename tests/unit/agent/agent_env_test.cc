#include "agent/agent_env.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace weft::agent {
namespace {

using ::testing::HasSubstr;

std::map<std::string, std::string> injectorEnv() {
  return {{"POD_NAME", "reviews-v1-abc"},
          {"POD_NAMESPACE", "shop"},
          {"INSTANCE_IP", "10.1.2.3"},
          {"SERVICE_ACCOUNT", "bookinfo-reviews"},
          {"WEFT_DISCOVERY_ADDRESS", "10.0.0.1:15010"},
          {"ISTIO_META_WORKLOAD_NAME", "reviews-v1"},
          {"ISTIO_META_CLUSTER_ID", "Kubernetes"},
          {"ISTIO_METAJSON_LABELS", R"({"app":"reviews","version":"v1"})"}};
}

TEST(AgentEnvTest, NodeIdentityAsIstioBuildsIt) {
  std::string err;
  auto env = readAgentEnv(injectorEnv(), err);
  ASSERT_TRUE(env) << err;
  EXPECT_EQ(env->nodeId(), "sidecar~10.1.2.3~reviews-v1-abc.shop~shop.svc.cluster.local");
  EXPECT_EQ(env->nodeCluster(), "reviews-v1.shop");
  EXPECT_EQ(env->meta.at("CLUSTER_ID"), "Kubernetes");
}

TEST(AgentEnvTest, BootstrapHasAdsStatsAndReadiness) {
  std::string err;
  auto env = readAgentEnv(injectorEnv(), err);
  ASSERT_TRUE(env);
  auto b = proxyBootstrap(*env, BootstrapOptions{});
  EXPECT_EQ(b["node"]["id"], env->nodeId());
  EXPECT_EQ(b["node"]["metadata"]["NAMESPACE"], "shop");
  EXPECT_EQ(b["node"]["metadata"]["LABELS"]["version"], "v1");
  EXPECT_EQ(b["node"]["metadata"]["INTERCEPTION_MODE"], "REDIRECT");
  EXPECT_EQ(b["admin"]["address"]["socket_address"]["port_value"], 15000);
  EXPECT_EQ(b["dynamic_resources"]["ads_config"]["grpc_services"][0]["envoy_grpc"]["cluster_name"], "xds-grpc");
  std::vector<int> ports;
  for (const auto& l : b["static_resources"]["listeners"])
    ports.push_back(l["address"]["socket_address"]["port_value"]);
  EXPECT_THAT(ports, ::testing::UnorderedElementsAre(15090, 15021));
  const auto& xds = b["static_resources"]["clusters"][0];
  EXPECT_EQ(xds["name"], "xds-grpc");
  EXPECT_EQ(
      xds["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"]["socket_address"]["address"],
      "10.0.0.1");
  EXPECT_TRUE(xds.contains("typed_extension_protocol_options"));  // gRPC needs HTTP/2
}

TEST(AgentEnvTest, SdsClusterOnlyWithACertificateSource) {
  std::string err;
  auto env = readAgentEnv(injectorEnv(), err);
  ASSERT_TRUE(env);
  auto names = [](const nlohmann::json& b) {
    std::vector<std::string> out;
    for (const auto& c : b["static_resources"]["clusters"]) out.push_back(c["name"]);
    return out;
  };
  EXPECT_THAT(names(proxyBootstrap(*env, BootstrapOptions{})), ::testing::Not(::testing::Contains("sds-grpc")));
  BootstrapOptions o;
  o.sds_socket = "./var/run/secrets/workload-spiffe-uds/socket";
  auto b = proxyBootstrap(*env, o);
  EXPECT_THAT(names(b), ::testing::Contains("sds-grpc"));
  for (const auto& c : b["static_resources"]["clusters"]) {
    if (c["name"] != "sds-grpc") continue;
    // Istio's bootstrap: a STATIC cluster to the agent's unix socket, over HTTP/2.
    EXPECT_EQ(c["type"], "STATIC");
    EXPECT_EQ(c["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"]["pipe"]["path"],
              "./var/run/secrets/workload-spiffe-uds/socket");
    EXPECT_TRUE(c.contains("typed_extension_protocol_options"));
  }
}

TEST(AgentEnvTest, NodeLocalityFromTheLocalityLabelAsPilotAgent) {
  std::string err;
  auto e = injectorEnv();
  auto env = readAgentEnv(e, err);
  ASSERT_TRUE(env) << err;
  EXPECT_FALSE(proxyBootstrap(*env, BootstrapOptions{})["node"].contains("locality"));
  e["ISTIO_METAJSON_LABELS"] = R"({"app":"reviews","istio-locality":"us-east.zone-b"})";
  env = readAgentEnv(e, err);
  ASSERT_TRUE(env) << err;
  auto loc = proxyBootstrap(*env, BootstrapOptions{})["node"]["locality"];
  EXPECT_EQ(loc["region"], "us-east");
  EXPECT_EQ(loc["zone"], "zone-b");
  EXPECT_FALSE(loc.contains("sub_zone"));
  e["ISTIO_METAJSON_LABELS"] = R"({"istio-locality":"x.y","topology.istio.io/locality":"eu/a/rack1"})";
  env = readAgentEnv(e, err);
  ASSERT_TRUE(env) << err;
  EXPECT_EQ(proxyBootstrap(*env, BootstrapOptions{})["node"]["locality"]["sub_zone"], "rack1");
}

TEST(AgentEnvTest, ErrorsNameTheVariable) {
  std::string err;
  auto e = injectorEnv();
  e.erase("POD_NAME");
  EXPECT_FALSE(readAgentEnv(e, err));
  EXPECT_THAT(err, HasSubstr("POD_NAME"));
  e = injectorEnv();
  e.erase("WEFT_DISCOVERY_ADDRESS");
  EXPECT_FALSE(readAgentEnv(e, err));
  EXPECT_THAT(err, HasSubstr("WEFT_DISCOVERY_ADDRESS"));
  e = injectorEnv();
  e["WEFT_DISCOVERY_ADDRESS"] = "weftd";
  EXPECT_FALSE(readAgentEnv(e, err));
  EXPECT_THAT(err, HasSubstr("host:port"));
  e = injectorEnv();
  e["ISTIO_METAJSON_LABELS"] = "{not json";
  EXPECT_FALSE(readAgentEnv(e, err));
  EXPECT_THAT(err, HasSubstr("ISTIO_METAJSON_LABELS"));
  // A prober of the wrong shape is named at start, not met when the kubelet probes.
  e = injectorEnv();
  e["ISTIO_KUBE_APP_PROBERS"] = R"({"/app-health/app/readyz": {"httpGet": {"path": "/r", "port": [8080]}}})";
  EXPECT_FALSE(readAgentEnv(e, err));
  EXPECT_EQ(err, "ISTIO_KUBE_APP_PROBERS[/app-health/app/readyz].httpGet.port: must be a port number or a port name");
  e["ISTIO_KUBE_APP_PROBERS"] = R"(["x"])";
  EXPECT_FALSE(readAgentEnv(e, err));
  EXPECT_THAT(err, HasSubstr("must be a JSON object"));
  e["ISTIO_KUBE_APP_PROBERS"] = R"({"/app-health/app/livez": {"tcpSocket": {"port": 8080}, "timeoutSeconds": 2}})";
  EXPECT_TRUE(readAgentEnv(e, err)) << err;
}

// CA_ADDR in a cluster is a Service name (weftd.weft-system.svc:15012): resolved, IPv4 first.
TEST(ResolveHostPortTest, IpsNamesAndErrors) {
  std::string err;
  auto ip = resolveHostPort("10.96.0.10:15012", err);
  ASSERT_TRUE(ip) << err;
  EXPECT_EQ(ip->toString(), "10.96.0.10:15012");
  auto name = resolveHostPort("localhost:15012", err);  // /etc/hosts
  ASSERT_TRUE(name) << err;
  EXPECT_EQ(name->toString(), "127.0.0.1:15012");
  auto v6 = resolveHostPort("[::1]:15012", err);
  ASSERT_TRUE(v6) << err;
  EXPECT_EQ(v6->toString(), "[::1]:15012");
  EXPECT_FALSE(resolveHostPort("weftd.invalid:15012", err));
  EXPECT_THAT(err, HasSubstr("cannot resolve 'weftd.invalid'"));
  EXPECT_FALSE(resolveHostPort("weftd.weft-system.svc", err));
  EXPECT_EQ(err, "'weftd.weft-system.svc' is not HOST:PORT");
}

}  // namespace
}  // namespace weft::agent
