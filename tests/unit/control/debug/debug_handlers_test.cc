// weftd's debug endpoints, called through AdminServer::handle() (no HTTP sockets involved):
// /debug/configz, /debug/syncz, /metrics, /ready.
#include "control/debug/debug_handlers.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/event/reactor.h"
#include "common/net/address.h"
#include "control/control_test_support.h"
#include "control/xds/ads_test_support.h"

namespace weft::control {
namespace {

using ::testing::HasSubstr;
using weft::http::AdminRequest;
using weft::http::AdminResponse;
using namespace weft::control::testing;

const char* kMixed = R"(
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: default}
spec:
  ports: [{name: http, port: 9080}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: bookinfo}
spec:
  hosts: [reviews]
  http:
  - route:
    - {destination: {host: reviews, subset: v1}, weight: -1}
    - {destination: {host: reviews, subset: v2}, weight: 50}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec: {host: reviews}
)";

class DebugHandlersTest : public ::testing::Test {
 protected:
  DebugHandlersTest() : admin(reactor, *net::Address::parse("127.0.0.1", 0)) {
    state.ads = &server.ads;
    addDebugHandlers(admin, state);
  }

  AdminResponse get(const std::string& path) { return admin.handle(AdminRequest{"GET", path, "", ""}); }
  nlohmann::json getJson(const std::string& path) {
    AdminResponse r = get(path);
    EXPECT_EQ(r.status, 200) << path;
    EXPECT_EQ(r.content_type, "application/json") << path;
    try {
      return nlohmann::json::parse(r.body);
    } catch (const std::exception& e) {
      ADD_FAILURE() << path << " is not JSON: " << e.what() << "\n" << r.body;
      return {};
    }
  }

  AdsTestServer server;
  event::Reactor reactor;
  weft::http::AdminServer admin;
  DebugState state;
};

TEST_F(DebugHandlersTest, ConfigzListsAcceptedAndRejected) {
  // Before any config: empty lists.
  nlohmann::json empty = getJson("/debug/configz");
  EXPECT_TRUE(empty["accepted"].is_array() && empty["accepted"].empty());
  EXPECT_TRUE(empty["rejected"].is_array() && empty["rejected"].empty());

  state.config.store(std::make_shared<const ConfigSnapshot>(snapshotFrom(kMixed, "mesh.yaml")));
  nlohmann::json j = getJson("/debug/configz");
  ASSERT_EQ(j["accepted"].size(), 2u);
  EXPECT_EQ(
      j["accepted"][0],
      (nlohmann::json{
          {"file", "mesh.yaml"}, {"document", 0}, {"kind", "Service"}, {"namespace", "default"}, {"name", "reviews"}}));
  EXPECT_EQ(j["accepted"][1]["kind"], "DestinationRule");
  EXPECT_EQ(j["accepted"][1]["document"], 2);
  EXPECT_EQ(j["accepted"][1]["namespace"], "default");
  ASSERT_EQ(j["rejected"].size(), 1u);
  const auto& r = j["rejected"][0];
  EXPECT_EQ(r["file"], "mesh.yaml");
  EXPECT_EQ(r["document"], 1);
  EXPECT_EQ(r["kind"], "VirtualService");
  EXPECT_EQ(r["namespace"], "bookinfo");
  EXPECT_EQ(r["name"], "reviews");
  EXPECT_EQ(r["errors"], nlohmann::json::array({"spec.http[0].route[0].weight: must be >= 0, got -1"}));
}

TEST_F(DebugHandlersTest, DescribeRejected) {
  ConfigSnapshot snap = snapshotFrom(kMixed, "mesh.yaml");
  addDocuments("kind: [oops\n", "bad.yaml", snap);
  std::string text = describeRejected(snap);
  EXPECT_THAT(text, HasSubstr("mesh.yaml#1 VirtualService bookinfo/reviews: spec.http[0].route[0].weight: must be "
                              ">= 0, got -1\n"));
  EXPECT_THAT(text, HasSubstr("bad.yaml#0 ? /: YAML error at line "));
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 2);
}

TEST_F(DebugHandlersTest, SynczStaleBeforeAckSyncedAfter) {
  server.ads.setModel(modelFrom(kBaseMesh));
  EXPECT_EQ(getJson("/debug/syncz"), nlohmann::json::array());

  auto c = openSotw(server);
  ASSERT_TRUE(c->send(sotwRequest(xds::kClusterType, {}, "", "", true)));
  auto r = c->next();
  ASSERT_TRUE(r);
  ASSERT_TRUE(eventually([&] { return typeStatus(server.ads, xds::kClusterType).has_value(); }));
  nlohmann::json before = getJson("/debug/syncz");
  ASSERT_EQ(before.size(), 1u);
  EXPECT_EQ(before[0]["proxy"], testNode().id());
  EXPECT_FALSE(before[0]["peer"].get<std::string>().empty());
  const auto& cds = before[0]["types"]["cds"];
  EXPECT_EQ(cds["status"], "STALE");
  EXPECT_EQ(cds["sent"], r->version_info());
  EXPECT_EQ(cds["acked"], "");
  EXPECT_EQ(cds["resources"], 5);
  EXPECT_EQ(cds["subscribed"], nlohmann::json::array());
  EXPECT_EQ(cds["last_nack"], "");

  ASSERT_TRUE(c->send(ackOf(*r)));
  ASSERT_TRUE(eventually([&] { return !typeStatus(server.ads, xds::kClusterType)->acked_version.empty(); }));
  nlohmann::json after = getJson("/debug/syncz");
  EXPECT_EQ(after[0]["types"]["cds"]["status"], "SYNCED");
  EXPECT_EQ(after[0]["types"]["cds"]["acked"], r->version_info());

  // A NACK of a newer push leaves the proxy STALE, with the reason.
  ASSERT_TRUE(c->send(sotwRequest(xds::kEndpointType, {"outbound|9080||reviews.default.svc.cluster.local"})));
  auto eds = c->next();
  ASSERT_TRUE(eds);
  DiscoveryRequest nack =
      sotwRequest(xds::kEndpointType, {"outbound|9080||reviews.default.svc.cluster.local"}, "", eds->nonce());
  nack.mutable_error_detail()->set_message("no thanks");
  ASSERT_TRUE(c->send(nack));
  ASSERT_TRUE(eventually([&] { return !typeStatus(server.ads, xds::kEndpointType)->nack.empty(); }));
  nlohmann::json nacked = getJson("/debug/syncz");
  const auto& edsj = nacked[0]["types"]["eds"];
  EXPECT_EQ(edsj["status"], "STALE");
  EXPECT_EQ(edsj["last_nack"], "no thanks");
  EXPECT_EQ(edsj["subscribed"], nlohmann::json::array({"outbound|9080||reviews.default.svc.cluster.local"}));
  EXPECT_EQ(nacked[0]["types"]["cds"]["status"], "SYNCED");
}

TEST_F(DebugHandlersTest, ReadyAndMetrics) {
  AdminResponse notReady = get("/ready");
  EXPECT_EQ(notReady.status, 503);
  state.ready = true;
  AdminResponse ready = get("/ready");
  EXPECT_EQ(ready.status, 200);
  EXPECT_EQ(ready.body, "ready\n");

  state.config.store(std::make_shared<const ConfigSnapshot>(snapshotFrom(kMixed)));
  state.config_reloads = 3;
  AdminResponse m = get("/metrics");
  EXPECT_EQ(m.status, 200);
  EXPECT_THAT(m.content_type, HasSubstr("text/plain"));
  EXPECT_THAT(m.body, HasSubstr("weftd_config_resources{state=\"accepted\"} 2\n"));
  EXPECT_THAT(m.body, HasSubstr("weftd_config_resources{state=\"rejected\"} 1\n"));
  EXPECT_THAT(m.body, HasSubstr("weftd_config_reloads 3\n"));
  EXPECT_THAT(m.body, HasSubstr("pilot_xds_pushes{type=\"cds\"} 0\n"));
  EXPECT_THAT(m.body, HasSubstr("pilot_total_xds_rejects 0\n"));
  EXPECT_THAT(m.body, HasSubstr("pilot_xds 0\n"));
}

}  // namespace
}  // namespace weft::control
