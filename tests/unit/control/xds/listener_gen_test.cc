// LDS generation: wildcard (sidecar) listeners 0.0.0.0_PORT for HTTP ports with RDS "PORT",
// VIP_PORT tcp_proxy listeners for TCP ports; named HOST:PORT api_listeners for proxyless gRPC.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "control/control_test_support.h"
#include "envoy/config/listener/v3/listener.pb.h"
#include "envoy/extensions/filters/http/router/v3/router.pb.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h"
#include "envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.pb.h"

namespace weft::control::xds {
namespace {

using envoy::config::listener::v3::Listener;
using envoy::extensions::filters::http::router::v3::Router;
using envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager;
using envoy::extensions::filters::network::tcp_proxy::v3::TcpProxy;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using testing::kBaseMesh;
using testing::kDb;
using testing::kDetails;
using testing::kReviews;
using testing::modelFrom;
using testing::namesOf;
using testing::proxyIn;
using ::testing::UnorderedElementsAre;
using testing::unpack;
using testing::unpackNamed;
using testing::withBase;

// `sidecar`: Istio's sidecar chain (metadata exchange, cors, fault, stats, router); else the
// router alone (proxyless gRPC).
void expectRdsHcm(const HttpConnectionManager& hcm, const std::string& route_name, bool sidecar = true) {
  ASSERT_TRUE(hcm.has_rds());
  EXPECT_EQ(hcm.rds().route_config_name(), route_name);
  EXPECT_TRUE(hcm.rds().config_source().has_ads());
  EXPECT_EQ(hcm.rds().config_source().resource_api_version(), envoy::config::core::v3::V3);
  EXPECT_FALSE(hcm.has_route_config());
  int n = sidecar ? 5 : 1;
  ASSERT_EQ(hcm.http_filters_size(), n);
  if (sidecar) {
    EXPECT_EQ(hcm.http_filters(0).name(), "istio.metadata_exchange");
    EXPECT_EQ(hcm.http_filters(0).typed_config().type_url(), "type.googleapis.com/xds.type.v3.TypedStruct");
    EXPECT_EQ(hcm.http_filters(1).name(), "envoy.filters.http.cors");
    EXPECT_EQ(hcm.http_filters(1).typed_config().type_url(),
              "type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors");
    EXPECT_EQ(hcm.http_filters(2).name(), "envoy.filters.http.fault");
    EXPECT_EQ(hcm.http_filters(2).typed_config().type_url(),
              "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault");
    EXPECT_EQ(hcm.http_filters(3).name(), "istio.stats");
    EXPECT_EQ(hcm.http_filters(3).typed_config().type_url(), "type.googleapis.com/stats.PluginConfig");
  }
  const auto& last = hcm.http_filters(n - 1);
  EXPECT_EQ(last.name(), "envoy.filters.http.router");
  ASSERT_TRUE(last.has_typed_config());
  EXPECT_EQ(last.typed_config().type_url(), "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router");
  Router router;
  EXPECT_TRUE(last.typed_config().UnpackTo(&router));
}

TEST(ListenerGenTest, WildcardListenersForSidecars) {
  auto m = modelFrom(kBaseMesh);
  auto lds = generateListeners(*m, proxyIn("default"), {});
  // HTTP ports 9080 (reviews, ratings, details) and 9090 (details grpc) share one listener
  // per port; the TCP port gets one per VIP.
  // Plus the capture listeners (virtualOutbound 15001, virtualInbound 15006).
  EXPECT_THAT(namesOf(lds), UnorderedElementsAre("0.0.0.0_9080", "0.0.0.0_9090", "10.96.0.20_3306", "virtualOutbound",
                                                 "virtualInbound"));
  for (const auto& [name, any] : lds) EXPECT_EQ(any.type_url(), kListenerType) << name;
}

TEST(ListenerGenTest, HttpListenerUsesRdsByPort) {
  auto m = modelFrom(kBaseMesh);
  auto lds = generateListeners(*m, proxyIn("default"), {});
  for (uint32_t port : {9080u, 9090u}) {
    const std::string name = "0.0.0.0_" + std::to_string(port);
    Listener l = unpackNamed<Listener>(lds, name);
    EXPECT_EQ(l.name(), name);
    EXPECT_EQ(l.address().socket_address().address(), "0.0.0.0");
    EXPECT_EQ(l.address().socket_address().port_value(), port);
    ASSERT_TRUE(l.has_bind_to_port());
    EXPECT_FALSE(l.bind_to_port().value());
    EXPECT_EQ(l.traffic_direction(), envoy::config::core::v3::OUTBOUND);
    ASSERT_EQ(l.filter_chains_size(), 1);
    ASSERT_EQ(l.filter_chains(0).filters_size(), 1);
    const auto& f = l.filter_chains(0).filters(0);
    EXPECT_EQ(f.name(), "envoy.filters.network.http_connection_manager");
    HttpConnectionManager hcm = unpack<HttpConnectionManager>(f.typed_config());
    EXPECT_FALSE(hcm.stat_prefix().empty());
    expectRdsHcm(hcm, std::to_string(port));
  }
}

TEST(ListenerGenTest, TcpListenerProxiesToTheOutboundCluster) {
  auto m = modelFrom(withBase(R"(
apiVersion: v1
kind: Service
metadata: {name: headless-db, namespace: default}
spec:
  clusterIP: None
  ports: [{name: tcp, port: 5432}]
)"));
  auto lds = generateListeners(*m, proxyIn("default"), {});
  Listener l = unpackNamed<Listener>(lds, "10.96.0.20_3306");
  EXPECT_EQ(l.address().socket_address().address(), "10.96.0.20");
  EXPECT_EQ(l.address().socket_address().port_value(), 3306u);
  ASSERT_TRUE(l.has_bind_to_port());
  EXPECT_FALSE(l.bind_to_port().value());
  ASSERT_EQ(l.filter_chains_size(), 1);
  // Istio's TCP metrics, then the proxy.
  ASSERT_EQ(l.filter_chains(0).filters_size(), 2);
  EXPECT_EQ(l.filter_chains(0).filters(0).name(), "istio.stats");
  EXPECT_EQ(l.filter_chains(0).filters(1).name(), "envoy.filters.network.tcp_proxy");
  TcpProxy tcp = unpack<TcpProxy>(l.filter_chains(0).filters(1).typed_config());
  EXPECT_EQ(tcp.cluster(), "outbound|3306||" + std::string(kDb));
  EXPECT_FALSE(tcp.stat_prefix().empty());

  // Without a cluster IP the listener is on 0.0.0.0.
  Listener headless = unpackNamed<Listener>(lds, "0.0.0.0_5432");
  EXPECT_EQ(headless.address().socket_address().address(), "0.0.0.0");
  EXPECT_EQ(unpack<TcpProxy>(headless.filter_chains(0).filters(1).typed_config()).cluster(),
            "outbound|5432||headless-db.default.svc.cluster.local");
}

TEST(ListenerGenTest, NamedListenersAreApiListenersForProxylessGrpc) {
  auto m = modelFrom(kBaseMesh);
  const std::string name = std::string(kDetails) + ":9090";
  auto lds = generateListeners(*m, proxyIn("default"),
                               {name, "nowhere.default.svc.cluster.local:9090", std::string(kDetails) + ":1",
                                std::string(kDetails) + ":x", "no-colon", "0.0.0.0_9080"});
  EXPECT_THAT(namesOf(lds), ElementsAre(name));
  Listener l = unpackNamed<Listener>(lds, name);
  EXPECT_EQ(l.name(), name);
  EXPECT_EQ(l.filter_chains_size(), 0);
  EXPECT_FALSE(l.has_address());
  ASSERT_TRUE(l.has_api_listener());
  ASSERT_TRUE(l.api_listener().has_api_listener());
  EXPECT_EQ(l.api_listener().api_listener().type_url(),
            "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager");
  expectRdsHcm(unpack<HttpConnectionManager>(l.api_listener().api_listener()), name, false);

  // The RDS name it points at is served.
  auto rds = generateRoutes(*m, proxyIn("default"), {name});
  EXPECT_EQ(rds.count(name), 1u);
}

TEST(ListenerGenTest, SidecarScopeLimitsListeners) {
  auto m = modelFrom(withBase(R"(
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: default}
spec:
  egress: [{hosts: ["./*"]}]
)"));
  EXPECT_THAT(namesOf(generateListeners(*m, proxyIn("default"), {})),
              UnorderedElementsAre("0.0.0.0_9080", "10.96.0.20_3306", "virtualOutbound", "virtualInbound"));
  EXPECT_THAT(
      namesOf(generateListeners(*m, proxyIn("prod"), {})),
      UnorderedElementsAre("0.0.0.0_9080", "0.0.0.0_9090", "10.96.0.20_3306", "virtualOutbound", "virtualInbound"));
}

// INTERCEPTION_MODE=NONE: nothing redirects traffic to the proxy, so its outbound listeners
// bind their ports (bind_to_port left at Envoy's default, true).
TEST(ListenerGenTest, NoCaptureListenersBindTheirPorts) {
  auto m = modelFrom(kBaseMesh);
  ProxyInfo p = proxyIn("default");
  p.capture_none = true;
  auto lds = generateListeners(*m, p, {});
  EXPECT_THAT(namesOf(lds), UnorderedElementsAre("0.0.0.0_9080", "0.0.0.0_9090", "10.96.0.20_3306"));
  for (const auto& [name, any] : lds) {
    Listener l = unpack<Listener>(any);
    EXPECT_TRUE(!l.has_bind_to_port() || l.bind_to_port().value()) << name;
  }
}

TEST(ListenerGenTest, EmptyModelHasOnlyCaptureListeners) {
  auto m = buildModel(std::make_shared<ConfigSnapshot>());
  EXPECT_THAT(namesOf(generateListeners(*m, proxyIn("default"), {})),
              UnorderedElementsAre("virtualOutbound", "virtualInbound"));
  ProxyInfo none = proxyIn("default");
  none.capture_none = true;
  EXPECT_THAT(generate(kListenerType, *m, none, {}), IsEmpty());
}

TEST(ListenerGenTest, VirtualOutboundPassesThroughOrDrops) {
  for (bool registry_only : {false, true}) {
    auto m = buildModel(std::make_shared<ConfigSnapshot>(), registry_only);
    Listener vo = unpackNamed<Listener>(generateListeners(*m, proxyIn("default"), {}), "virtualOutbound");
    EXPECT_EQ(vo.address().socket_address().port_value(), 15001u);
    ASSERT_TRUE(vo.has_use_original_dst());
    EXPECT_TRUE(vo.use_original_dst().value());
    ASSERT_EQ(vo.filter_chains_size(), 1);
    envoy::extensions::filters::network::tcp_proxy::v3::TcpProxy tcp;
    ASSERT_TRUE(vo.filter_chains(0).filters(0).typed_config().UnpackTo(&tcp));
    EXPECT_EQ(tcp.cluster(), registry_only ? "BlackHoleCluster" : "PassthroughCluster");
  }
}

TEST(ListenerGenTest, VirtualInboundHasAChainPerServedPort) {
  // reviews-v1 (10.1.0.1) serves reviews:9080.
  auto m = modelFrom(kBaseMesh);
  ProxyInfo p = proxyIn("default");
  p.ip = "10.1.0.1";
  Listener vi = unpackNamed<Listener>(generateListeners(*m, p, {}), "virtualInbound");
  EXPECT_EQ(vi.address().socket_address().port_value(), 15006u);
  ASSERT_EQ(vi.listener_filters_size(), 1);
  EXPECT_EQ(vi.listener_filters(0).name(), "envoy.filters.listener.original_dst");
  ASSERT_GE(vi.filter_chains_size(), 1);
  EXPECT_EQ(vi.filter_chains(0).filter_chain_match().destination_port().value(), 9080u);
  HttpConnectionManager hcm;
  ASSERT_TRUE(vi.filter_chains(0).filters(0).typed_config().UnpackTo(&hcm));
  EXPECT_EQ(hcm.route_config().virtual_hosts(0).routes(0).route().cluster(), "inbound|9080||");
  envoy::extensions::filters::network::tcp_proxy::v3::TcpProxy tcp;
  const auto& passthrough = vi.default_filter_chain();
  EXPECT_EQ(passthrough.filters(0).name(), "istio.stats");
  ASSERT_TRUE(passthrough.filters(passthrough.filters_size() - 1).typed_config().UnpackTo(&tcp));
  EXPECT_EQ(tcp.cluster(), "InboundPassthroughCluster");
}

}  // namespace
}  // namespace weft::control::xds
