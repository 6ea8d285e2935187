#pragma once
// Helpers shared by the weftd (src/control) unit tests: config snapshots and mesh models built
// from YAML as users write it, a small reference mesh, proxies, and unpacking of generated xDS
// resources.
#include <google/protobuf/any.pb.h>
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "control/config/config_snapshot.h"
#include "control/model/mesh_model.h"
#include "control/xds/generator.h"
#include "control/xds/proxy_info.h"

namespace weft::control::testing {

inline ConfigSnapshot snapshotFrom(const std::string& yaml, const std::string& file = "f.yaml") {
  ConfigSnapshot snap;
  addDocuments(yaml, file, snap);
  return snap;
}

// Every rejected resource as "FILE#DOC KIND NS/NAME: errors", for failure messages.
inline std::string rejectedText(const ConfigSnapshot& snap) {
  std::string out;
  for (const auto& r : snap.rejected) {
    out += r.source.file + "#" + std::to_string(r.source.document) + " " + r.source.kind + " " + r.source.ns + "/" +
           r.source.name + ":";
    for (const auto& e : r.errors) out += " [" + e + "]";
    out += "\n";
  }
  return out;
}

// A model from YAML that must be accepted whole.
inline std::shared_ptr<const MeshModel> modelFrom(const std::string& yaml) {
  auto snap = std::make_shared<ConfigSnapshot>(snapshotFrom(yaml));
  EXPECT_TRUE(snap->rejected.empty()) << rejectedText(*snap);
  return buildModel(snap);
}

// The reference mesh most generator tests use:
//   default/reviews   10.96.0.10  http 9080 -> pods v1, v2, v3 (labels app, version)
//   default/ratings   10.96.0.11  http 9080 -> 10.1.1.1
//   default/db        10.96.0.20  tcp-mysql 3306 -> 10.1.2.1
//   prod/details      10.96.0.30  http 9080, grpc 9090 -> 10.2.0.1
inline const char* kBaseMesh = R"(
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: default}
spec:
  clusterIP: 10.96.0.10
  selector: {app: reviews}
  ports:
  - {name: http, port: 9080, targetPort: 9080}
---
apiVersion: v1
kind: Endpoints
metadata: {name: reviews, namespace: default}
subsets:
- addresses:
  - ip: 10.1.0.1
    targetRef: {kind: Pod, name: reviews-v1}
  - ip: 10.1.0.2
    targetRef: {kind: Pod, name: reviews-v2}
  - ip: 10.1.0.3
    targetRef: {kind: Pod, name: reviews-v3}
  ports:
  - {name: http, port: 9080}
---
apiVersion: v1
kind: Pod
metadata: {name: reviews-v1, namespace: default, labels: {app: reviews, version: v1}}
spec: {serviceAccountName: bookinfo-reviews}
status: {podIP: 10.1.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: reviews-v2, namespace: default, labels: {app: reviews, version: v2}}
status: {podIP: 10.1.0.2}
---
apiVersion: v1
kind: Pod
metadata: {name: reviews-v3, namespace: default, labels: {app: reviews, version: v3}}
status: {podIP: 10.1.0.3}
---
apiVersion: v1
kind: Service
metadata: {name: ratings, namespace: default}
spec:
  clusterIP: 10.96.0.11
  ports:
  - {name: http, port: 9080}
---
apiVersion: v1
kind: Endpoints
metadata: {name: ratings, namespace: default}
subsets:
- addresses: [{ip: 10.1.1.1}]
  ports: [{name: http, port: 9080}]
---
apiVersion: v1
kind: Service
metadata: {name: db, namespace: default}
spec:
  clusterIP: 10.96.0.20
  ports:
  - {name: tcp-mysql, port: 3306}
---
apiVersion: v1
kind: Endpoints
metadata: {name: db, namespace: default}
subsets:
- addresses: [{ip: 10.1.2.1}]
  ports: [{name: tcp-mysql, port: 3306}]
---
apiVersion: v1
kind: Service
metadata: {name: details, namespace: prod}
spec:
  clusterIP: 10.96.0.30
  ports:
  - {name: http, port: 9080}
  - {name: grpc, port: 9090}
---
apiVersion: v1
kind: Endpoints
metadata: {name: details, namespace: prod}
subsets:
- addresses: [{ip: 10.2.0.1}]
  ports: [{name: http, port: 9080}, {name: grpc, port: 9090}]
)";

inline constexpr const char* kReviews = "reviews.default.svc.cluster.local";
inline constexpr const char* kRatings = "ratings.default.svc.cluster.local";
inline constexpr const char* kDb = "db.default.svc.cluster.local";
inline constexpr const char* kDetails = "details.prod.svc.cluster.local";

// An Istio cluster name: outbound|PORT|SUBSET|HOST.
inline std::string out(uint32_t port, const std::string& host, const std::string& subset = "") {
  return "outbound|" + std::to_string(port) + "|" + subset + "|" + host;
}

// Subsets v1/v2 of reviews, and a VM (WorkloadEntry) labelled version: vm.
inline const char* kReviewsDr = R"(
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec:
  host: reviews
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
)";

inline const char* kReviewsVm = R"(
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: vm-1, namespace: default}
spec: {address: 10.5.0.1, labels: {app: reviews, version: vm}}
)";

inline std::string withBase(const std::string& extra) { return std::string(kBaseMesh) + "---\n" + extra; }

inline ProxyInfo proxyIn(const std::string& ns, Labels labels = {}) {
  ProxyInfo p;
  p.id = "sidecar~10.9.9.9~test-pod." + ns + "~" + ns + ".svc.cluster.local";
  p.type = "sidecar";
  p.ip = "10.9.9.9";
  p.pod = "test-pod";
  p.ns = ns;
  p.labels = std::move(labels);
  return p;
}

template <typename T>
T unpack(const google::protobuf::Any& any) {
  T out;
  EXPECT_TRUE(any.UnpackTo(&out)) << "resource is a " << any.type_url() << ", not a " << T::descriptor()->full_name();
  return out;
}

template <typename T>
T unpackNamed(const xds::ResourceMap& m, const std::string& name) {
  auto it = m.find(name);
  if (it == m.end()) {
    ADD_FAILURE() << "no resource named '" << name << "'";
    return T();
  }
  return unpack<T>(it->second);
}

inline std::set<std::string> namesOf(const xds::ResourceMap& m) {
  std::set<std::string> out;
  for (const auto& [name, any] : m) out.insert(name);
  return out;
}

}  // namespace weft::control::testing
