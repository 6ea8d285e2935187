// MeshModel: Services + Endpoints (+ Pods) -> services by host name with ports, protocols and
// labelled endpoints; WorkloadEntries and ServiceEntries; routing rules by qualified host.
#include "control/model/mesh_model.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "control/control_test_support.h"

namespace weft::control {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using testing::kBaseMesh;
using testing::kDetails;
using testing::kReviews;
using testing::modelFrom;
using testing::withBase;

std::vector<std::string> ips(const MeshPort& p) {
  std::vector<std::string> out;
  for (const auto& e : p.endpoints) out.push_back(e.ip + ":" + std::to_string(e.port));
  return out;
}

TEST(MeshModelTest, ServiceWithEndpointsAndPods) {
  auto m = modelFrom(kBaseMesh);
  const MeshService* s = m->service(kReviews);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->hostname, "reviews.default.svc.cluster.local");
  EXPECT_EQ(s->name, "reviews");
  EXPECT_EQ(s->ns, "default");
  EXPECT_EQ(s->vip, "10.96.0.10");
  EXPECT_EQ(s->resolution, MeshService::Resolution::Endpoints);
  EXPECT_FALSE(s->external);
  ASSERT_EQ(s->ports.size(), 1u);
  const MeshPort& p = s->ports[0];
  EXPECT_EQ(p.name, "http");
  EXPECT_EQ(p.port, 9080u);
  EXPECT_EQ(p.target_port, 9080u);
  EXPECT_EQ(p.protocol, Protocol::Http);
  EXPECT_THAT(ips(p), ElementsAre("10.1.0.1:9080", "10.1.0.2:9080", "10.1.0.3:9080"));
  EXPECT_EQ(p.endpoints[0].labels, (Labels{{"app", "reviews"}, {"version", "v1"}}));
  EXPECT_EQ(p.endpoints[2].labels, (Labels{{"app", "reviews"}, {"version", "v3"}}));
  EXPECT_EQ(p.endpoints[0].weight, 1u);
  EXPECT_EQ(s->port(9080), &s->ports[0]);
  EXPECT_EQ(s->port(9081), nullptr);

  EXPECT_EQ(m->service("reviews"), nullptr);
  EXPECT_EQ(m->services.size(), 4u);
  ASSERT_NE(m->podByIp("10.1.0.2"), nullptr);
  EXPECT_EQ(m->podByIp("10.1.0.2")->meta.name, "reviews-v2");
  EXPECT_EQ(m->podByIp("10.99.0.1"), nullptr);
}

TEST(MeshModelTest, MultiPortServiceMapsEndpointPortsByName) {
  auto m = modelFrom(kBaseMesh);
  const MeshService* s = m->service(kDetails);
  ASSERT_NE(s, nullptr);
  ASSERT_EQ(s->ports.size(), 2u);
  EXPECT_EQ(s->ports[0].protocol, Protocol::Http);
  EXPECT_EQ(s->ports[1].protocol, Protocol::Grpc);
  EXPECT_THAT(ips(s->ports[0]), ElementsAre("10.2.0.1:9080"));
  EXPECT_THAT(ips(s->ports[1]), ElementsAre("10.2.0.1:9090"));
  EXPECT_EQ(m->service(testing::kDb)->ports[0].protocol, Protocol::Tcp);
}

TEST(MeshModelTest, TargetPortAndEndpointPort) {
  auto m = modelFrom(R"(
apiVersion: v1
kind: Service
metadata: {name: web, namespace: ns1}
spec:
  ports: [{name: http-web, port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: web, namespace: ns1}
subsets:
- addresses: [{ip: 10.0.0.1}, {ip: 10.0.0.2}]
  ports: [{name: http-web, port: 8080}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: web, namespace: other}
subsets:
- addresses: [{ip: 10.9.0.1}]
  ports: [{name: http-web, port: 8080}]
---
apiVersion: v1
kind: Pod
metadata: {name: web-1, namespace: ns1, labels: {app: web}}
status: {podIP: 10.0.0.2}
)");
  const MeshService* s = m->service("web.ns1.svc.cluster.local");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->ports[0].port, 80u);
  EXPECT_EQ(s->ports[0].target_port, 8080u);
  EXPECT_EQ(s->ports[0].protocol, Protocol::Http);
  // Endpoints of another namespace with the same name do not join.
  EXPECT_THAT(ips(s->ports[0]), ElementsAre("10.0.0.1:8080", "10.0.0.2:8080"));
  // Without a targetRef, the Pod is found by IP.
  EXPECT_THAT(s->ports[0].endpoints[0].labels, IsEmpty());
  EXPECT_EQ(s->ports[0].endpoints[1].labels, (Labels{{"app", "web"}}));
  EXPECT_EQ(s->vip, "");
}

TEST(MeshModelTest, ProtocolFromPortNameAndAppProtocol) {
  EXPECT_EQ(protocolFor("http", ""), Protocol::Http);
  EXPECT_EQ(protocolFor("http-api", ""), Protocol::Http);
  EXPECT_EQ(protocolFor("HTTP-api", ""), Protocol::Http);
  EXPECT_EQ(protocolFor("http2", ""), Protocol::Http2);
  EXPECT_EQ(protocolFor("http2-x", ""), Protocol::Http2);
  EXPECT_EQ(protocolFor("grpc", ""), Protocol::Grpc);
  EXPECT_EQ(protocolFor("grpc-api", ""), Protocol::Grpc);
  EXPECT_EQ(protocolFor("tcp", ""), Protocol::Tcp);
  EXPECT_EQ(protocolFor("tcp-mysql", ""), Protocol::Tcp);
  EXPECT_EQ(protocolFor("mongo", ""), Protocol::Tcp);
  EXPECT_EQ(protocolFor("https", ""), Protocol::Tcp);
  EXPECT_EQ(protocolFor("", ""), Protocol::Tcp);
  EXPECT_EQ(protocolFor("web", ""), Protocol::Tcp);
  EXPECT_EQ(protocolFor("httpx", ""), Protocol::Tcp);
  // appProtocol wins over the name.
  EXPECT_EQ(protocolFor("tcp-foo", "http"), Protocol::Http);
  EXPECT_EQ(protocolFor("http", "tcp"), Protocol::Tcp);
  EXPECT_EQ(protocolFor("web", "HTTP2"), Protocol::Http2);
  EXPECT_EQ(protocolFor("web", "grpc"), Protocol::Grpc);
  EXPECT_EQ(protocolFor("web", "kubernetes.io/h2c"), Protocol::Http2);
  // grpc-web is HTTP traffic (Istio: GRPCWeb.IsHTTP()).
  EXPECT_TRUE(isHttp(protocolFor("grpc-web", "")));
  EXPECT_TRUE(isHttp(protocolFor("x", "grpc-web")));
  EXPECT_TRUE(isHttp(Protocol::Http));
  EXPECT_TRUE(isHttp(Protocol::Http2));
  EXPECT_TRUE(isHttp(Protocol::Grpc));
  EXPECT_FALSE(isHttp(Protocol::Tcp));
}

TEST(MeshModelTest, WorkloadEntrySelectedByServiceJoinsEndpoints) {
  auto m = modelFrom(withBase(R"(
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: vm-1, namespace: default}
spec:
  address: 10.5.0.1
  labels: {app: reviews, version: vm}
  ports: {http: 19080}
  weight: 5
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: vm-2, namespace: default}
spec:
  address: 10.5.0.2
  labels: {app: reviews}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: vm-other-ns, namespace: prod}
spec:
  address: 10.5.0.3
  labels: {app: reviews}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: vm-other-app, namespace: default}
spec:
  address: 10.5.0.4
  labels: {app: ratings}
)"));
  const MeshService* s = m->service(kReviews);
  ASSERT_NE(s, nullptr);
  EXPECT_THAT(ips(s->ports[0]),
              ElementsAre("10.1.0.1:9080", "10.1.0.2:9080", "10.1.0.3:9080", "10.5.0.1:19080", "10.5.0.2:9080"));
  EXPECT_EQ(s->ports[0].endpoints[3].labels, (Labels{{"app", "reviews"}, {"version", "vm"}}));
  EXPECT_EQ(s->ports[0].endpoints[3].weight, 5u);
  EXPECT_EQ(s->ports[0].endpoints[4].weight, 1u);
  // ratings has no selector: it selects nothing, not everything.
  EXPECT_THAT(ips(m->service("ratings.default.svc.cluster.local")->ports[0]), ElementsAre("10.1.1.1:9080"));
}

TEST(MeshModelTest, ServiceWithoutEndpointsTakesThemFromTheSelectedPods) {
  // As Kubernetes' endpoints controller: ready Pods with an IP that the selector matches, in
  // the Service's namespace; a named targetPort through each Pod's container ports.
  auto m = modelFrom(R"(
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  selector: {app: web}
  ports:
  - {name: http, port: 80, targetPort: 8080}
  - {name: grpc, port: 9090, targetPort: grpc-port}
---
apiVersion: v1
kind: Pod
metadata: {name: web-1, namespace: shop, labels: {app: web, version: v1}}
spec:
  containers:
  - name: app
    ports: [{name: grpc-port, containerPort: 19090}]
status: {podIP: 10.9.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: web-2, namespace: shop, labels: {app: web}}
spec: {containers: [{name: app}]}
status: {podIP: 10.9.0.2}
---
apiVersion: v1
kind: Pod
metadata: {name: web-not-ready, namespace: shop, labels: {app: web}}
status:
  podIP: 10.9.0.3
  conditions: [{type: Ready, status: "False"}]
---
apiVersion: v1
kind: Pod
metadata: {name: web-done, namespace: shop, labels: {app: web}}
status: {podIP: 10.9.0.4, phase: Succeeded}
---
apiVersion: v1
kind: Pod
metadata: {name: web-pending, namespace: shop, labels: {app: web}}
status: {}
---
apiVersion: v1
kind: Pod
metadata: {name: web-elsewhere, namespace: default, labels: {app: web}}
status: {podIP: 10.9.0.5}
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: shop, labels: {app: db}}
status: {podIP: 10.9.0.6}
)");
  const MeshService* s = m->service("web.shop.svc.cluster.local");
  ASSERT_NE(s, nullptr);
  EXPECT_THAT(ips(s->ports[0]), ElementsAre("10.9.0.1:8080", "10.9.0.2:8080"));
  EXPECT_EQ(s->ports[0].endpoints[0].labels, (Labels{{"app", "web"}, {"version", "v1"}}));
  // web-2 has no container port named grpc-port: no endpoint for that port.
  EXPECT_THAT(ips(s->ports[1]), ElementsAre("10.9.0.1:19090"));
}

TEST(MeshModelTest, ServiceWithItsOwnEndpointsIgnoresThePods) {
  // kBaseMesh's reviews has Endpoints naming three of its pods; a fourth matching pod with an
  // IP is not added, since an Endpoints object of the Service's name is authoritative.
  auto m = modelFrom(withBase(R"(
apiVersion: v1
kind: Pod
metadata: {name: reviews-extra, namespace: default, labels: {app: reviews}}
status: {podIP: 10.1.0.99}
)"));
  EXPECT_THAT(ips(m->service(kReviews)->ports[0]), ElementsAre("10.1.0.1:9080", "10.1.0.2:9080", "10.1.0.3:9080"));
}

TEST(MeshModelTest, ServiceEntryResolutions) {
  auto m = modelFrom(R"(
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: dns, namespace: egress}
spec:
  hosts: [api.example.com, www.example.com]
  ports: [{number: 443, name: tls, protocol: TLS}, {number: 80, name: web, protocol: HTTP}]
  resolution: DNS
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: dns-eps, namespace: egress}
spec:
  hosts: [db.example.com]
  ports: [{number: 5432, name: pg, protocol: TCP, targetPort: 15432}]
  resolution: DNS
  endpoints:
  - {address: db1.example.com}
  - {address: db2.example.com, ports: {pg: 25432}, weight: 2}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: static, namespace: egress}
spec:
  hosts: [static.internal]
  addresses: [240.0.0.5]
  location: MESH_INTERNAL
  ports: [{number: 8080, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints:
  - {address: 10.7.0.1, labels: {version: v1}}
  - {address: 10.7.0.2, labels: {version: v2}, ports: {http: 18080}}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: none, namespace: egress}
spec:
  hosts: [passthrough.example.com]
  ports: [{number: 443, name: tls, protocol: TLS}]
  resolution: NONE
)");
  const MeshService* dns = m->service("api.example.com");
  ASSERT_NE(dns, nullptr);
  EXPECT_EQ(dns->resolution, MeshService::Resolution::Dns);
  EXPECT_TRUE(dns->external);
  EXPECT_EQ(dns->ns, "egress");
  EXPECT_EQ(dns->name, "");
  ASSERT_EQ(dns->ports.size(), 2u);
  EXPECT_EQ(dns->ports[0].protocol, Protocol::Tcp);
  EXPECT_EQ(dns->ports[1].protocol, Protocol::Http);
  // No endpoints: the host itself is resolved.
  EXPECT_THAT(ips(dns->ports[0]), ElementsAre("api.example.com:443"));
  EXPECT_THAT(ips(dns->ports[1]), ElementsAre("api.example.com:80"));
  ASSERT_NE(m->service("www.example.com"), nullptr);
  EXPECT_THAT(ips(m->service("www.example.com")->ports[0]), ElementsAre("www.example.com:443"));

  const MeshService* eps = m->service("db.example.com");
  ASSERT_NE(eps, nullptr);
  EXPECT_EQ(eps->ports[0].target_port, 15432u);
  EXPECT_THAT(ips(eps->ports[0]), ElementsAre("db1.example.com:15432", "db2.example.com:25432"));
  EXPECT_EQ(eps->ports[0].endpoints[1].weight, 2u);

  const MeshService* st = m->service("static.internal");
  ASSERT_NE(st, nullptr);
  EXPECT_EQ(st->resolution, MeshService::Resolution::Endpoints);
  EXPECT_FALSE(st->external);
  EXPECT_EQ(st->vip, "240.0.0.5");
  EXPECT_THAT(ips(st->ports[0]), ElementsAre("10.7.0.1:8080", "10.7.0.2:18080"));
  EXPECT_EQ(st->ports[0].endpoints[1].labels, (Labels{{"version", "v2"}}));

  const MeshService* none = m->service("passthrough.example.com");
  ASSERT_NE(none, nullptr);
  EXPECT_EQ(none->resolution, MeshService::Resolution::Passthrough);
  EXPECT_THAT(none->ports[0].endpoints, IsEmpty());
}

TEST(MeshModelTest, ServiceEntryWorkloadSelector) {
  auto m = modelFrom(R"(
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: vms, namespace: ns1}
spec:
  hosts: [vms.ns1.internal]
  ports: [{number: 80, name: http, protocol: HTTP}]
  location: MESH_INTERNAL
  resolution: STATIC
  workloadSelector: {labels: {app: vm}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: a, namespace: ns1}
spec: {address: 10.8.0.1, labels: {app: vm}, ports: {http: 8080}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: b, namespace: ns2}
spec: {address: 10.8.0.2, labels: {app: vm}}
)");
  const MeshService* s = m->service("vms.ns1.internal");
  ASSERT_NE(s, nullptr);
  EXPECT_THAT(ips(s->ports[0]), ElementsAre("10.8.0.1:8080"));
}

TEST(MeshModelTest, QualifyHosts) {
  EXPECT_EQ(MeshModel::qualify("reviews", "default"), "reviews.default.svc.cluster.local");
  EXPECT_EQ(MeshModel::qualify("reviews", "prod"), "reviews.prod.svc.cluster.local");
  EXPECT_EQ(MeshModel::qualify("reviews.prod.svc.cluster.local", "default"), "reviews.prod.svc.cluster.local");
  EXPECT_EQ(MeshModel::qualify("api.example.com", "default"), "api.example.com");
  EXPECT_EQ(MeshModel::qualify("*", "default"), "*");
}

TEST(MeshModelTest, VirtualServicesAndDestinationRulesByQualifiedHost) {
  auto m = modelFrom(withBase(R"(
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews, reviews.example.com]
  http:
  - route:
    - destination: {host: reviews}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: details, namespace: prod}
spec:
  hosts: [details]
  http:
  - route:
    - destination: {host: details}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec:
  host: reviews
  subsets: [{name: v1, labels: {version: v1}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: details, namespace: default}
spec:
  host: details.prod.svc.cluster.local
)"));
  ASSERT_EQ(m->virtual_services.count(kReviews), 1u);
  EXPECT_EQ(m->virtual_services.at(kReviews).size(), 1u);
  EXPECT_EQ(m->virtual_services.at(kReviews)[0].meta.name, "reviews");
  EXPECT_EQ(m->virtual_services.count("reviews.example.com"), 1u);
  EXPECT_EQ(m->virtual_services.count("reviews"), 0u);
  ASSERT_EQ(m->virtual_services.count(kDetails), 1u);
  EXPECT_EQ(m->virtual_services.at(kDetails)[0].meta.ns, "prod");

  const DestinationRule* dr = m->destinationRule(kReviews);
  ASSERT_NE(dr, nullptr);
  EXPECT_EQ(dr->subsets.size(), 1u);
  EXPECT_NE(m->destinationRule(kDetails), nullptr);
  EXPECT_EQ(m->destinationRule("reviews"), nullptr);
  EXPECT_EQ(m->destinationRule(testing::kRatings), nullptr);
}

TEST(MeshModelTest, EmptySnapshotGivesEmptyModel) {
  auto m = buildModel(std::make_shared<ConfigSnapshot>());
  EXPECT_TRUE(m->services.empty());
  EXPECT_TRUE(m->virtual_services.empty());
  EXPECT_NE(m->config, nullptr);
}

}  // namespace
}  // namespace weft::control

TEST(MeshModelEndpointSliceTest, ReadySliceEndpointsJoinTheServiceWithPodLabels) {
  weft::control::ConfigSnapshot snap;
  weft::control::addDocuments(R"(apiVersion: v1
kind: Service
metadata: {name: api, namespace: shop}
spec:
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Pod
metadata: {name: api-1, namespace: shop, labels: {app: api, version: v2}}
status: {podIP: 10.1.0.5}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: api-abcde, namespace: shop, labels: {kubernetes.io/service-name: api}}
addressType: IPv4
ports: [{name: http, port: 8080}]
endpoints:
- addresses: [10.1.0.5]
  targetRef: {kind: Pod, name: api-1}
- addresses: [10.1.0.6]
  conditions: {ready: false}
)",
                              "slices.yaml", snap);
  ASSERT_TRUE(snap.rejected.empty()) << snap.rejected[0].errors[0];
  auto m = weft::control::buildModel(std::make_shared<weft::control::ConfigSnapshot>(snap));
  const auto* svc = m->service("api.shop.svc.cluster.local");
  ASSERT_NE(svc, nullptr);
  ASSERT_EQ(svc->ports.size(), 1u);
  ASSERT_EQ(svc->ports[0].endpoints.size(), 1u) << "the not-ready endpoint must be left out";
  EXPECT_EQ(svc->ports[0].endpoints[0].ip, "10.1.0.5");
  EXPECT_EQ(svc->ports[0].endpoints[0].port, 8080u);
  EXPECT_EQ(svc->ports[0].endpoints[0].labels.at("version"), "v2");
}

TEST(MeshModelEndpointSliceTest, SliceWithoutServiceNameIsRejected) {
  weft::control::ConfigSnapshot snap;
  weft::control::addDocuments(R"(apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: orphan}
addressType: FQDN
endpoints: []
)",
                              "s.yaml", snap);
  ASSERT_EQ(snap.rejected.size(), 1u);
  EXPECT_EQ(snap.rejected[0].errors.size(), 2u);
  EXPECT_EQ(snap.rejected[0].errors[0], "metadata.labels: kubernetes.io/service-name is required");
  EXPECT_EQ(snap.rejected[0].errors[1], "addressType: 'FQDN' is not supported by weftd (IPv4, IPv6 are)");
}

namespace weft::control {
namespace {

const char* kPodsOnNodes = R"(
apiVersion: v1
kind: Node
metadata:
  name: node-1
  labels: {topology.kubernetes.io/region: us-east1, topology.kubernetes.io/zone: us-east1-b, topology.istio.io/subzone: rack7}
---
apiVersion: v1
kind: Node
metadata:
  name: node-2
  labels: {topology.kubernetes.io/region: eu-west1}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Pod
metadata: {name: web-1, namespace: default, labels: {app: web}}
spec: {nodeName: node-1}
status: {podIP: 10.0.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: web-2, namespace: default, labels: {app: web}}
spec: {nodeName: node-2}
status: {podIP: 10.0.0.2}
---
apiVersion: v1
kind: Pod
metadata: {name: web-3, namespace: default, labels: {app: web, istio-locality: mars.crater}}
spec: {nodeName: node-1}
status: {podIP: 10.0.0.3}
)";

TEST(MeshModelNodeTest, PodLocalityFromItsLabelElseItsNode) {
  auto m = modelFrom(kPodsOnNodes);
  const MeshService* s = m->service("web.default.svc.cluster.local");
  ASSERT_NE(s, nullptr);
  std::map<std::string, std::string> locality;
  for (const auto& e : s->ports[0].endpoints) locality[e.ip] = e.locality;
  EXPECT_EQ(locality,
            (std::map<std::string, std::string>{
                {"10.0.0.1", "us-east1/us-east1-b/rack7"}, {"10.0.0.2", "eu-west1"}, {"10.0.0.3", "mars/crater"}}));
}

TEST(MeshModelNodeTest, WithKubernetesAsSourceAServiceWithoutSlicesHasNoEndpoints) {
  // Kubernetes' endpoints controller publishes slices; weftd does not stand in for it there.
  auto snap = std::make_shared<ConfigSnapshot>(testing::snapshotFrom(kPodsOnNodes));
  snap->endpoints_controller = true;
  auto m = buildModel(snap);
  const MeshService* s = m->service("web.default.svc.cluster.local");
  ASSERT_NE(s, nullptr);
  EXPECT_THAT(s->ports[0].endpoints, IsEmpty());
}

}  // namespace
}  // namespace weft::control
