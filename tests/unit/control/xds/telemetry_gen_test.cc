// Istio's telemetry as weftd generates it: the metadata exchange and stats filters on inbound
// and outbound chains (compiled by weft-proxy's own factories), and the clusters' `istio`
// metadata naming the destination service.
#include "control/xds/telemetry_gen.h"

#include <gtest/gtest.h>

#include "common/stats/stats.h"
#include "control/control_test_support.h"
#include "control/xds/generator.h"
#include "envoy/config/listener/v3/listener.pb.h"
#include "envoy/extensions/stats/config.pb.h"
#include "proxy/http/filter_registry.h"
#include "proxy/network/network_filter.h"
#include "proxy/telemetry/tcp_metadata_exchange.h"

namespace weft::control::xds {
namespace {

using envoy::config::cluster::v3::Cluster;
using testing::kReviews;
using testing::modelFrom;
using testing::out;
using testing::proxyIn;
using testing::unpackNamed;
using testing::withBase;

TEST(TelemetryGenTest, FiltersCompileInTheProxy) {
  auto m = modelFrom(withBase(""));
  for (bool inbound : {true, false}) {
    auto stats = istioStatsFilter(*m, proxyIn("default"), inbound);
    ASSERT_TRUE(stats.has_value());  // prometheus is a default metrics provider
    for (const auto& f : {peerMetadataFilter(inbound), *stats}) {
      const auto* factory = proxy::http::findHttpFilter(f.typed_config());
      ASSERT_NE(factory, nullptr) << f.name();
      EXPECT_EQ(factory->name(), f.name());
      stats::Store store(1);
      proxy::http::FilterFactoryContext ctx{store, "x", f.name(), inbound};
      EXPECT_NO_THROW(factory->compile(f.typed_config(), "http_filters[0]", ctx)) << f.name();
    }
  }
  // The TCP chains' istio.stats watches tcp_proxy sessions.
  auto tcp = istioTcpStatsFilter(*m, proxyIn("default"), true);
  ASSERT_TRUE(tcp.has_value());
  const auto* network = proxy::network::findNetworkFilter(tcp->typed_config().type_url());
  ASSERT_NE(network, nullptr);
  EXPECT_TRUE(network->observer());
  stats::Store store(1);
  proxy::network::NetworkFilterContext nctx{store, true, nullptr, {}};
  EXPECT_NE(network->compileObserver(tcp->typed_config(), "filters[0]", nctx), nullptr);
  ::stats::PluginConfig p;
  ASSERT_TRUE(istioStatsFilter(*m, proxyIn("default"), true)->typed_config().UnpackTo(&p));
  EXPECT_TRUE(p.disable_host_header_fallback());  // inbound: no Host header fallback
  ASSERT_TRUE(istioStatsFilter(*m, proxyIn("default"), false)->typed_config().UnpackTo(&p));
  EXPECT_FALSE(p.disable_host_header_fallback());
  EXPECT_EQ(p.metrics_size(), 0);
}

TEST(TelemetryGenTest, ClustersNameTheirService) {
  auto m = modelFrom(withBase(""));
  auto c = unpackNamed<Cluster>(generateClusters(*m, proxyIn("default"), {}), out(9080, kReviews));
  const auto& istio = c.metadata().filter_metadata().at("istio").fields();
  const auto& svc = istio.at("services").list_value().values(0).struct_value().fields();
  EXPECT_EQ(svc.at("host").string_value(), kReviews);
  EXPECT_EQ(svc.at("name").string_value(), "reviews");
  EXPECT_EQ(svc.at("namespace").string_value(), "default");
  EXPECT_EQ(istio.count("external"), 0u);
}

// A db pod (tcp-mysql 3306) labelled as a meshed workload, and its sidecar.
const char* kMeshedDb = R"(
apiVersion: v1
kind: Pod
metadata: {name: db-1, namespace: default, labels: {app: db, security.istio.io/tlsMode: istio}}
status: {podIP: 10.1.2.1}
)";

TEST(TelemetryGenTest, TcpMetadataExchangeOnMutualTlsTcp) {
  auto m = modelFrom(withBase(kMeshedDb));
  ProxyInfo client = proxyIn("default");
  client.sds = true;
  auto c = unpackNamed<Cluster>(generateClusters(*m, client, {}), out(3306, testing::kDb));
  ASSERT_EQ(c.filters_size(), 1);
  EXPECT_EQ(c.filters(0).name(), "istio.metadata_exchange");
  EXPECT_EQ(proxy::telemetry::mxProtocol(c.filters(0).typed_config(), "filters[0]"), "istio-peer-exchange");
  // HTTP clusters exchange in headers; proxies without a certificate speak no mutual TLS.
  EXPECT_EQ(unpackNamed<Cluster>(generateClusters(*m, client, {}), out(9080, kReviews)).filters_size(), 0);
  EXPECT_EQ(unpackNamed<Cluster>(generateClusters(*m, proxyIn("default"), {}), out(3306, testing::kDb)).filters_size(),
            0);
  // The server side: the db pod's inbound mutual TLS chain starts with the exchange.
  ProxyInfo db = proxyIn("default", {{"app", "db"}});
  db.ip = "10.1.2.1";
  db.sds = true;
  auto vi = unpackNamed<envoy::config::listener::v3::Listener>(generateListeners(*m, db, {}), "virtualInbound");
  int with_mx = 0;
  for (const auto& chain : vi.filter_chains()) {
    if (chain.filters(0).name() != "istio.metadata_exchange") continue;
    ++with_mx;
    EXPECT_TRUE(chain.has_transport_socket());
    const auto* f = proxy::network::findNetworkFilter(chain.filters(0).typed_config());
    ASSERT_NE(f, nullptr);
    EXPECT_FALSE(f->terminal());
  }
  EXPECT_EQ(with_mx, 1);  // the mutual TLS chain of port 3306 (PERMISSIVE: plaintext has none)
}

}  // namespace
}  // namespace weft::control::xds
