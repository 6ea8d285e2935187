// AdsServer, incremental (delta) xDS, end to end in process.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "control/control_test_support.h"
#include "control/xds/ads_server.h"
#include "control/xds/ads_test_support.h"

namespace weft::control::xds {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using namespace weft::control::testing;

// The base mesh with `service`'s Service and Endpoints removed, or its Endpoints given one more address.
std::shared_ptr<const MeshModel> baseWithout(const std::string& service) {
  auto snap = std::make_shared<ConfigSnapshot>(snapshotFrom(kBaseMesh));
  std::erase_if(snap->services, [&](const Service& s) { return s.meta.name == service; });
  std::erase_if(snap->endpoints, [&](const Endpoints& e) { return e.meta.name == service; });
  return buildModel(snap);
}
std::shared_ptr<const MeshModel> baseWithExtraEndpoint(const std::string& service, const std::string& ip) {
  auto snap = std::make_shared<ConfigSnapshot>(snapshotFrom(kBaseMesh));
  for (auto& e : snap->endpoints) {
    if (e.meta.name == service) e.subsets[0].addresses.push_back({ip, ""});
  }
  return buildModel(snap);
}

class DeltaStreamTest : public ::testing::Test {
 protected:
  DeltaStreamTest() { server.ads.setModel(modelFrom(kBaseMesh)); }

  DeltaDiscoveryResponse nextOf(DeltaClient& c, const std::string& type) {
    auto r = c.next();
    EXPECT_TRUE(r) << "no delta response";
    if (!r) return {};
    EXPECT_EQ(r->type_url(), type);
    return *r;
  }
  void ack(DeltaClient& c, const DeltaDiscoveryResponse& r) {
    ASSERT_TRUE(c.send(deltaRequest(r.type_url(), {}, {}, r.nonce())));
  }

  AdsTestServer server;
};

TEST_F(DeltaStreamTest, SubscribeEdsNames) {
  auto c = openDelta(server);
  ASSERT_TRUE(c->send(
      deltaRequest(kEndpointType, {out(9080, kReviews), out(9080, kRatings), out(1, "nope.example")}, {}, "", true)));
  auto r = nextOf(*c, kEndpointType);
  EXPECT_EQ(deltaNames(r), (std::set<std::string>{out(9080, kReviews), out(9080, kRatings)}));
  EXPECT_FALSE(r.nonce().empty());
  EXPECT_FALSE(r.system_version_info().empty());
  for (const auto& res : r.resources()) {
    EXPECT_FALSE(res.version().empty()) << res.name();
    EXPECT_EQ(res.resource().type_url(), kEndpointType);
    envoy::config::endpoint::v3::ClusterLoadAssignment cla;
    ASSERT_TRUE(res.resource().UnpackTo(&cla));
    EXPECT_EQ(cla.cluster_name(), res.name());
  }
  EXPECT_EQ(server.ads.metrics().pushes_eds.load(), 1u);

  ack(*c, r);
  ASSERT_TRUE(eventually([&] {
    auto ts = typeStatus(server.ads, kEndpointType);
    return ts && !ts->acked_version.empty();
  }));
  auto ts = *typeStatus(server.ads, kEndpointType);
  EXPECT_EQ(ts.acked_version, ts.sent_version);
  EXPECT_EQ(ts.resources, 2u);
  EXPECT_EQ(ts.names.size(), 3u);
}

TEST_F(DeltaStreamTest, SubscribingMoreSendsOnlyTheNewResource) {
  auto c = openDelta(server);
  ASSERT_TRUE(c->send(deltaRequest(kEndpointType, {out(9080, kReviews)}, {}, "", true)));
  auto r1 = nextOf(*c, kEndpointType);
  EXPECT_EQ(deltaNames(r1), (std::set<std::string>{out(9080, kReviews)}));
  ack(*c, r1);
  ASSERT_TRUE(c->send(deltaRequest(kEndpointType, {out(9080, kRatings)})));
  auto r2 = nextOf(*c, kEndpointType);
  EXPECT_EQ(deltaNames(r2), (std::set<std::string>{out(9080, kRatings)}));
  EXPECT_THAT(r2.removed_resources(), IsEmpty());
  EXPECT_NE(r2.nonce(), r1.nonce());
}

TEST_F(DeltaStreamTest, RemovedResourceIsReported) {
  auto c = openDelta(server);
  ASSERT_TRUE(c->send(deltaRequest(kEndpointType, {out(9080, kReviews), out(9080, kRatings)}, {}, "", true)));
  auto r = nextOf(*c, kEndpointType);
  ack(*c, r);
  server.ads.setModel(baseWithout("ratings"));
  auto r2 = nextOf(*c, kEndpointType);
  EXPECT_THAT(r2.removed_resources(), ElementsAre(out(9080, kRatings)));
  EXPECT_THAT(r2.resources(), IsEmpty()) << "reviews did not change and must not be resent";
}

TEST_F(DeltaStreamTest, ChangedResourceIsResentAlone) {
  auto c = openDelta(server);
  ASSERT_TRUE(c->send(deltaRequest(kEndpointType, {out(9080, kReviews), out(9080, kRatings)}, {}, "", true)));
  ack(*c, nextOf(*c, kEndpointType));
  server.ads.setModel(baseWithExtraEndpoint("ratings", "10.1.1.2"));
  auto r = nextOf(*c, kEndpointType);
  EXPECT_EQ(deltaNames(r), (std::set<std::string>{out(9080, kRatings)}));
  EXPECT_THAT(r.removed_resources(), IsEmpty());
  // Unchanged model: nothing.
  server.ads.setModel(baseWithExtraEndpoint("ratings", "10.1.1.2"));
  EXPECT_FALSE(c->next(Millis(300)));
}

TEST_F(DeltaStreamTest, UnsubscribedResourceIsNoLongerSent) {
  auto c = openDelta(server);
  ASSERT_TRUE(c->send(deltaRequest(kEndpointType, {out(9080, kReviews), out(9080, kRatings)}, {}, "", true)));
  ack(*c, nextOf(*c, kEndpointType));
  ASSERT_TRUE(c->send(deltaRequest(kEndpointType, {}, {out(9080, kRatings)})));
  ASSERT_TRUE(eventually([&] {
    auto ts = typeStatus(server.ads, kEndpointType);
    return ts && ts->names.size() == 1;
  }));
  // ratings changes: the proxy no longer subscribes to it.
  server.ads.setModel(baseWithExtraEndpoint("ratings", "10.1.1.2"));
  // Sentinel: a new subscription is answered after anything the model change caused.
  ASSERT_TRUE(c->send(deltaRequest(kEndpointType, {out(9090, kDetails)})));
  auto r = nextOf(*c, kEndpointType);
  EXPECT_EQ(deltaNames(r), (std::set<std::string>{out(9090, kDetails)}))
      << "an unsubscribed resource was pushed after a model change";
  auto ts = *typeStatus(server.ads, kEndpointType);
  EXPECT_THAT(ts.names, ElementsAre(out(9080, kReviews), out(9090, kDetails)));
}

TEST_F(DeltaStreamTest, WildcardCdsViaEmptyFirstSubscribe) {
  auto c = openDelta(server);
  ASSERT_TRUE(c->send(deltaRequest(kClusterType, {}, {}, "", true)));
  auto r = nextOf(*c, kClusterType);
  EXPECT_EQ(deltaNames(r), (std::set<std::string>{out(9080, kReviews), out(9080, kRatings), out(3306, kDb),
                                                  out(9080, kDetails), out(9090, kDetails)}));
  ack(*c, r);

  // Two subset clusters appear: only they are sent.
  server.ads.setModel(modelFrom(withBase(kReviewsDr)));
  auto r2 = nextOf(*c, kClusterType);
  EXPECT_EQ(deltaNames(r2), (std::set<std::string>{out(9080, kReviews, "v1"), out(9080, kReviews, "v2")}));
  EXPECT_THAT(r2.removed_resources(), IsEmpty());
  ack(*c, r2);

  // And go away again.
  server.ads.setModel(modelFrom(kBaseMesh));
  auto r3 = nextOf(*c, kClusterType);
  EXPECT_THAT(r3.resources(), IsEmpty());
  EXPECT_EQ(removedNames(r3), (std::set<std::string>{out(9080, kReviews, "v1"), out(9080, kReviews, "v2")}));
}

TEST_F(DeltaStreamTest, WildcardLdsViaEmptyFirstSubscribe) {
  auto c = openDelta(server);
  ASSERT_TRUE(c->send(deltaRequest(kListenerType, {}, {}, "", true)));
  auto r = nextOf(*c, kListenerType);
  EXPECT_EQ(deltaNames(r), (std::set<std::string>{"0.0.0.0_9080", "0.0.0.0_9090", "10.96.0.20_3306"}));
}

TEST_F(DeltaStreamTest, ExplicitCdsSubscriptionIsNotWildcard) {
  auto c = openDelta(server);
  ASSERT_TRUE(c->send(deltaRequest(kClusterType, {out(9080, kReviews)}, {}, "", true)));
  auto r = nextOf(*c, kClusterType);
  EXPECT_EQ(deltaNames(r), (std::set<std::string>{out(9080, kReviews)}));
  ack(*c, r);
  // New clusters elsewhere in the mesh are not pushed to a client that did not ask for them.
  server.ads.setModel(modelFrom(withBase(kReviewsDr)));
  EXPECT_FALSE(c->next(Millis(300)));
}

// After unsubscribing its last explicitly named cluster, a non-wildcard CDS subscriber wants
// no clusters at all. An empty name list must not turn back into "everything" on the next
// model change.
TEST_F(DeltaStreamTest, UnsubscribingEveryNameDoesNotBecomeWildcard) {
  auto c = openDelta(server);
  ASSERT_TRUE(c->send(deltaRequest(kClusterType, {out(9080, kReviews)}, {}, "", true)));
  ack(*c, nextOf(*c, kClusterType));
  ASSERT_TRUE(c->send(deltaRequest(kEndpointType, {out(9080, kReviews)})));
  ack(*c, nextOf(*c, kEndpointType));
  ASSERT_TRUE(c->send(deltaRequest(kClusterType, {}, {out(9080, kReviews)})));
  ASSERT_TRUE(eventually([&] {
    auto ts = typeStatus(server.ads, kClusterType);
    return ts && ts->names.empty();
  }));
  // Clusters and reviews' endpoints both change.
  server.ads.setModel(modelFrom(withBase(std::string(kReviewsDr) + "---\n" + kReviewsVm)));
  auto r = c->next();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->type_url(), kEndpointType) << "got a " << r->type_url() << " push with " << r->resources_size()
                                          << " resources for a type with no subscribed names";
}

TEST_F(DeltaStreamTest, NackIsRecorded) {
  auto c = openDelta(server);
  ASSERT_TRUE(c->send(deltaRequest(kClusterType, {}, {}, "", true)));
  auto r = nextOf(*c, kClusterType);
  DeltaDiscoveryRequest nack = deltaRequest(kClusterType, {}, {}, r.nonce());
  nack.mutable_error_detail()->set_message("cluster outbound|3306||db: bad");
  ASSERT_TRUE(c->send(nack));
  ASSERT_TRUE(eventually([&] {
    auto ts = typeStatus(server.ads, kClusterType);
    return ts && !ts->nack.empty();
  }));
  EXPECT_EQ(typeStatus(server.ads, kClusterType)->nack, "cluster outbound|3306||db: bad");
  EXPECT_EQ(typeStatus(server.ads, kClusterType)->acked_version, "");
  EXPECT_EQ(server.ads.metrics().rejects.load(), 1u);
}

TEST_F(DeltaStreamTest, FirstRequestWithoutNodeEndsTheStream) {
  auto c = openDelta(server);
  ASSERT_TRUE(c->send(deltaRequest(kClusterType)));
  grpc::Status st = c->finish();
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(st.error_message(), HasSubstr("node"));
}

TEST_F(DeltaStreamTest, InitialResourceVersionsOfGoneResourcesAreRemoved) {
  auto c = openDelta(server);
  DeltaDiscoveryRequest req = deltaRequest(kClusterType, {}, {}, "", true);
  (*req.mutable_initial_resource_versions())[out(9080, "gone.default.svc.cluster.local")] = "abc";
  (*req.mutable_initial_resource_versions())[out(9080, kReviews)] = "abc";
  ASSERT_TRUE(c->send(req));
  auto r = nextOf(*c, kClusterType);
  EXPECT_EQ(removedNames(r), (std::set<std::string>{out(9080, "gone.default.svc.cluster.local")}));
  EXPECT_EQ(deltaNames(r).count(out(9080, kReviews)), 1u);
}

}  // namespace
}  // namespace weft::control::xds
