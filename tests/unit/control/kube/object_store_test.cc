// ObjectStore: what the watches hold, decoded through the one validation path and merged after
// the directory's resources into one snapshot.
#include "control/kube/object_store.h"

#include <gtest/gtest.h>

namespace weft::control::kube {
namespace {

std::shared_ptr<const KubeObject> object(const std::string& json) {
  return std::make_shared<const KubeObject>(nlohmann::json::parse(json));
}

const char* kVirtualService = R"json({"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
  "metadata": {"name": "web", "namespace": "shop", "resourceVersion": "17", "managedFields": [{"manager": "kubectl"}]},
  "spec": {"hosts": ["web"], "http": [{"route": [{"destination": {"host": "web", "port": {"number": 8080}},
                                                  "weight": 100}]}]},
  "status": {"observedGeneration": 1}})json";

TEST(ObjectStoreTest, DecodesOnceThroughTheValidationPath) {
  auto o = object(kVirtualService);
  EXPECT_EQ(o->kind(), "VirtualService");
  EXPECT_EQ(o->ns(), "shop");
  EXPECT_EQ(o->name(), "web");
  EXPECT_EQ(o->resourceVersion(), "17");
  const DecodeResult& r = o->decoded();
  ASSERT_TRUE(r.errors.empty()) << r.errors.front();
  ASSERT_TRUE(r.resource);
  const auto& vs = std::get<VirtualService>(*r.resource);
  EXPECT_EQ(vs.meta.ns, "shop");
  ASSERT_EQ(vs.http.size(), 1u);
  EXPECT_EQ(vs.http[0].route[0].destination.port, 8080u);  // JSON numbers read as the YAML's
  EXPECT_EQ(vs.http[0].route[0].weight, 100);
  EXPECT_EQ(&o->decoded(), &r);
}

TEST(ObjectStoreTest, ReplacePutRemoveAndChangeNotifications) {
  int changes = 0;
  ObjectStore store([&] { changes++; });
  store.replace("Namespace", {object(R"({"kind": "Namespace", "apiVersion": "v1", "metadata": {"name": "a"}})"),
                              object(R"({"kind": "Namespace", "apiVersion": "v1", "metadata": {"name": "b"}})")});
  store.put(object(kVirtualService));
  EXPECT_EQ(store.size(), 3u);
  // A LIST's result replaces only its own kind.
  store.replace("Namespace", {object(R"({"kind": "Namespace", "apiVersion": "v1", "metadata": {"name": "c"}})")});
  EXPECT_EQ(store.size(), 2u);
  std::vector<std::string> names;
  for (const auto& o : store.all()) names.push_back(o->kind() + "/" + o->name());
  EXPECT_EQ(names, (std::vector<std::string>{"Namespace/c", "VirtualService/web"}));
  store.remove("VirtualService", "shop", "web");
  store.remove("VirtualService", "shop", "missing");
  EXPECT_EQ(store.size(), 1u);
  EXPECT_EQ(changes, 5);
}

TEST(ObjectStoreTest, MergedAfterTheDirectoryWithRejectionsAndDuplicatesNamed) {
  ObjectStore store([] {});
  store.put(object(kVirtualService));
  store.put(object(R"json({"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
    "metadata": {"name": "bad", "namespace": "shop"},
    "spec": {"hosts": ["web"], "http": [{"route": [{"destination": {"host": "web"}, "weight": -1}]}]}})json"));
  ConfigSnapshot snap;
  addDocuments(R"(apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: shop}
spec:
  hosts: [web]
  http:
  - route:
    - destination: {host: web}
)",
               "dir/vs.yaml", snap);
  addKubernetesObjects(store, snap);
  ASSERT_EQ(snap.virtual_services.size(), 1u);  // the directory's
  ASSERT_EQ(snap.rejected.size(), 2u);
  EXPECT_EQ(snap.rejected[0].source.file, "kubernetes");
  EXPECT_EQ(snap.rejected[0].source.name, "bad");
  EXPECT_NE(snap.rejected[0].errors.front().find("spec.http[0].route[0].weight"), std::string::npos);
  EXPECT_EQ(snap.rejected[1].source.name, "web");
  EXPECT_EQ(snap.rejected[1].errors.front(), "a VirtualService named shop/web was already defined earlier");
}

TEST(ObjectStoreTest, ClusterScopedKindsAndNodes) {
  ObjectStore store([] {});
  store.put(object(R"({"kind": "Node", "apiVersion": "v1", "metadata": {"name": "n1",
    "labels": {"topology.kubernetes.io/region": "r", "topology.kubernetes.io/zone": "z"}}})"));
  ConfigSnapshot snap;
  addKubernetesObjects(store, snap);
  ASSERT_EQ(snap.nodes.size(), 1u);
  EXPECT_EQ(snap.nodes[0].meta.labels.at("topology.kubernetes.io/zone"), "z");
}

}  // namespace
}  // namespace weft::control::kube
