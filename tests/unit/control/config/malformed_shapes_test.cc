// Every field of every kind, given the wrong shape (a scalar where a map or a list belongs, a
// map or a list where a scalar belongs): decodeResource() answers with an error that names the
// field's path, and never throws. The webhook and the watches hand it whatever a user wrote.
#include <gtest/gtest.h>

#include <string>
#include <variant>
#include <vector>

#include "control/config/decode.h"

namespace weft::control {
namespace {

// One valid document per kind, with as many of its fields as weftd serves.
const char* const kDocs[] = {
    R"(apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop, labels: {app: web}, annotations: {networking.istio.io/exportTo: "."}}
spec:
  selector: {app: web}
  clusterIP: 10.96.0.10
  ports: [{name: http, port: 80, targetPort: 8080, protocol: TCP, appProtocol: http}]
)",
    R"(apiVersion: v1
kind: Endpoints
metadata: {name: web, namespace: shop}
subsets:
- addresses: [{ip: 10.0.0.1, targetRef: {kind: Pod, name: web-1}}]
  ports: [{name: http, port: 8080}]
)",
    R"(apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-abc, namespace: shop, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
endpoints:
- addresses: [10.0.0.1]
  conditions: {ready: true}
  targetRef: {kind: Pod, name: web-1}
  zone: a
ports: [{name: http, port: 8080, protocol: TCP}]
)",
    R"(apiVersion: v1
kind: Pod
metadata: {name: web-1, namespace: shop, labels: {app: web, version: v1}, annotations: {sidecar.istio.io/inject: "true"}}
spec:
  serviceAccountName: web
  nodeName: node-1
  containers: [{name: app, image: web, ports: [{containerPort: 8080}]}]
status: {podIP: 10.0.0.1, podIPs: [{ip: 10.0.0.1}]}
)",
    R"(apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {istio-injection: enabled}}
)",
    R"(apiVersion: v1
kind: Node
metadata: {name: node-1, labels: {topology.kubernetes.io/region: r, topology.kubernetes.io/zone: z}}
status: {nodeInfo: {kubeletVersion: v1.33.0}}
)",
    R"(apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: istio-system}
data: {mesh: "trustDomain: cluster.local"}
)",
    R"(apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: shop}
spec:
  hosts: [web]
  exportTo: ["."]
  http:
  - name: main
    match:
    - uri: {prefix: /api}
      headers: {x-user: {exact: jason}}
      queryParams: {q: {exact: "1"}}
      withoutHeaders: {x-test: {exact: "1"}}
      method: {exact: GET}
      port: 80
      sourceLabels: {app: client}
    route:
    - destination: {host: web, subset: v1, port: {number: 80}}
      weight: 90
      headers: {request: {set: {x-a: "1"}, add: {x-b: "2"}, remove: [x-c]}, response: {set: {x-d: "1"}}}
    - destination: {host: web, subset: v2}
      weight: 10
    timeout: 5s
    retries: {attempts: 2, perTryTimeout: 1s, retryOn: "5xx"}
    fault:
      delay: {fixedDelay: 1s, percentage: {value: 10}}
      abort: {httpStatus: 503, percentage: {value: 5}}
    mirror: {host: web-shadow}
    mirrorPercentage: {value: 50}
    corsPolicy: {allowOrigins: [{exact: "https://a.example"}], allowMethods: [GET], maxAge: 24h}
    rewrite: {uri: /v1}
    headers: {request: {set: {x-e: "1"}}}
  - redirect: {uri: /new, authority: other, redirectCode: 301}
  - directResponse: {status: 200, body: {string: ok}}
  tcp:
  - match: [{port: 9000}]
    route: [{destination: {host: web, port: {number: 9000}}}]
)",
    R"(apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: web, namespace: shop}
spec:
  host: web
  exportTo: ["."]
  trafficPolicy:
    loadBalancer:
      simple: LEAST_REQUEST
      localityLbSetting: {enabled: true, failover: [{from: r1, to: r2}]}
    connectionPool:
      tcp: {maxConnections: 10, connectTimeout: 1s, tcpKeepalive: {time: 60s, interval: 10s, probes: 3}}
      http: {http1MaxPendingRequests: 5, http2MaxRequests: 10, maxRequestsPerConnection: 3, idleTimeout: 10s}
    outlierDetection: {consecutive5xxErrors: 2, interval: 1s, baseEjectionTime: 30s, maxEjectionPercent: 50}
    tls: {mode: ISTIO_MUTUAL}
    portLevelSettings:
    - port: {number: 80}
      loadBalancer: {consistentHash: {httpHeaderName: x-user}}
  subsets:
  - name: v1
    labels: {version: v1}
    trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}
  - name: v2
    labels: {version: v2}
)",
    R"(apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ext, namespace: shop}
spec:
  hosts: [api.example.com]
  addresses: [240.0.0.1]
  ports: [{number: 443, name: https, protocol: TLS, targetPort: 8443}]
  location: MESH_EXTERNAL
  resolution: STATIC
  endpoints: [{address: 10.1.0.1, ports: {https: 8443}, labels: {v: a}, locality: r/z, weight: 2}]
  exportTo: ["*"]
  subjectAltNames: [spiffe://cluster.local/ns/shop/sa/ext]
)",
    R"(apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: vm, namespace: shop}
spec:
  address: 10.2.0.1
  ports: {http: 8080}
  labels: {app: web}
  serviceAccount: web
  locality: r/z
  weight: 3
)",
    R"(apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: shop}
spec:
  workloadSelector: {labels: {app: web}}
  egress:
  - hosts: ["./*", "istio-system/*"]
)",
    R"(apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  mtls: {mode: STRICT}
  portLevelMtls: {"8080": {mode: PERMISSIVE}}
)",
    R"(apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  action: ALLOW
  rules:
  - from:
    - source: {principals: [cluster.local/ns/shop/sa/client], namespaces: [shop], ipBlocks: [10.0.0.0/8], requestPrincipals: ["*"]}
    to:
    - operation: {methods: [GET], paths: [/api/*], ports: ["8080"], hosts: [web]}
    when:
    - key: request.headers[x-user]
      values: [jason]
)",
    R"(apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  jwtRules:
  - issuer: https://issuer.example
    audiences: [web]
    jwksUri: https://issuer.example/jwks
    fromHeaders: [{name: x-jwt, prefix: "Bearer "}]
    fromParams: [token]
    outputClaimToHeaders: [{header: x-sub, claim: sub}]
    forwardOriginalToken: true
)",
    R"(apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  metrics:
  - providers: [{name: prometheus}]
    overrides:
    - match: {metric: REQUEST_COUNT, mode: CLIENT_AND_SERVER}
      tagOverrides: {request_protocol: {operation: REMOVE}}
  accessLogging:
  - providers: [{name: envoy}]
    filter: {expression: "response.code >= 400"}
  tracing:
  - providers: [{name: zipkin}]
    randomSamplingPercentage: 10
    customTags:
      lit: {literal: {value: x}}
      hdr: {header: {name: x-h, defaultValue: none}}
      env: {environment: {name: HOME}}
)",
};

// Fields of Kubernetes' own kinds that weftd does not read (the API server checks them).
bool unread(const std::string& path) {
  for (const char* p : {"spec.containers[0].name", "spec.containers[0].image", "status.podIPs", "ports[0].protocol",
                        "endpoints[0].zone"}) {
    if (path.rfind(p, 0) == 0) return true;
  }
  return false;
}

struct Step {
  bool is_key;
  std::string key;
  size_t index;
};

std::string pathOf(const std::vector<Step>& steps) {
  std::string p;
  for (const auto& s : steps) {
    if (s.is_key) {
      p += (p.empty() ? "" : ".") + s.key;
    } else {
      p += "[" + std::to_string(s.index) + "]";
    }
  }
  return p;
}

// Every node below the top level, with its path.
void collect(const YAML::Node& n, std::vector<Step>& at, std::vector<std::vector<Step>>& out) {
  if (n.IsMap()) {
    for (const auto& kv : n) {
      at.push_back({true, kv.first.as<std::string>(), 0});
      out.push_back(at);
      collect(kv.second, at, out);
      at.pop_back();
    }
  } else if (n.IsSequence()) {
    for (size_t i = 0; i < n.size(); ++i) {
      at.push_back({false, "", i});
      out.push_back(at);
      collect(n[i], at, out);
      at.pop_back();
    }
  }
}

YAML::Node nodeAt(YAML::Node root, const std::vector<Step>& steps, size_t count) {
  YAML::Node n = root;
  for (size_t i = 0; i < count; ++i) n.reset(steps[i].is_key ? n[steps[i].key] : n[steps[i].index]);
  return n;
}

// Replaces the node at `steps` with `value` in a copy of `doc`.
YAML::Node replaced(const YAML::Node& doc, const std::vector<Step>& steps, const YAML::Node& value) {
  YAML::Node copy = YAML::Clone(doc);
  YAML::Node parent = nodeAt(copy, steps, steps.size() - 1);
  const Step& last = steps.back();
  if (last.is_key) {
    parent[last.key] = value;
  } else {
    parent[last.index] = value;
  }
  return copy;
}

std::vector<YAML::Node> wrongShapes(const YAML::Node& n) {
  std::vector<YAML::Node> out;
  if (n.IsMap() || n.IsSequence()) {
    out.push_back(YAML::Node("x"));
    out.push_back(YAML::Node(7));
  }
  if (!n.IsSequence()) out.push_back(YAML::Load("[x]"));
  if (!n.IsMap()) out.push_back(YAML::Load("{zz: 1}"));
  return out;
}

// Errors write a map's own keys as "[key]" ("spec.portLevelMtls[8080].mode"), lists' indexes as
// "[0]": both compared as ".key".
std::string dotted(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '[') {
      out += '.';
    } else if (c != ']') {
      out += c;
    }
  }
  return out;
}

bool names(const DecodeResult& r, const std::string& path) {
  for (const auto& e : r.errors) {
    if (dotted(e).rfind(dotted(path), 0) == 0) return true;
  }
  return false;
}

TEST(MalformedShapesTest, TheBaseDocumentsAreValid) {
  for (const char* text : kDocs) {
    DecodeResult r = decodeResource(YAML::Load(text));
    EXPECT_TRUE(r.errors.empty()) << text << "\n" << testing::PrintToString(r.errors);
  }
}

TEST(MalformedShapesTest, EveryWrongShapeIsAnErrorNamingItsPath) {
  size_t tried = 0;
  for (const char* text : kDocs) {
    YAML::Node doc = YAML::Load(text);
    std::vector<Step> at;
    std::vector<std::vector<Step>> nodes;
    collect(doc, at, nodes);
    for (const auto& steps : nodes) {
      std::string path = pathOf(steps);
      if (path == "apiVersion" || path == "kind" || unread(path)) continue;
      for (const YAML::Node& shape : wrongShapes(nodeAt(doc, steps, steps.size()))) {
        // As written in a file or sent to the webhook: text, so each node has its position.
        YAML::Node bad = YAML::Load(YAML::Dump(replaced(doc, steps, shape)));
        ++tried;
        DecodeResult r;
        try {
          r = decodeResource(bad);
        } catch (const std::exception& e) {
          ADD_FAILURE() << "threw " << e.what() << ": " << path << " = " << YAML::Dump(shape);
          continue;
        }
        EXPECT_TRUE(names(r, path) || (!steps.back().is_key && names(r, pathOf({steps.begin(), steps.end() - 1}))))
            << r.kind << " " << path << " = " << YAML::Dump(shape) << "\nerrors: " << testing::PrintToString(r.errors);
      }
    }
  }
  EXPECT_GT(tried, 500u);
}

// A document without its spec, or with a spec that is not a map.
TEST(MalformedShapesTest, MissingOrScalarSpec) {
  for (const char* kind : {"VirtualService", "DestinationRule", "ServiceEntry", "WorkloadEntry", "Sidecar"}) {
    for (const char* spec : {"", "spec: x\n", "spec: [x]\n"}) {
      std::string text =
          std::string("apiVersion: networking.istio.io/v1\nkind: ") + kind + "\nmetadata: {name: a}\n" + spec;
      DecodeResult r;
      ASSERT_NO_THROW(r = decodeResource(YAML::Load(text))) << text;
      ASSERT_FALSE(r.errors.empty()) << text;
      EXPECT_EQ(r.errors[0].rfind("spec", 0), 0u) << text << testing::PrintToString(r.errors);
    }
  }
}

}  // namespace
}  // namespace weft::control
