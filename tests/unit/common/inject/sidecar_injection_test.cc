// Sidecar injection as Istio's injector does it: who is injected, and what the injected pod
// carries (containers, environment, capture, probes, volumes, annotations), per annotation.
#include "common/inject/sidecar_injection.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace weft::inject {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;

json podMeta() { return json::parse(R"({"labels": {"app": "reviews", "version": "v2"}, "annotations": {}})"); }
json podSpec() {
  return json::parse(R"({"containers": [{"name": "reviews", "image": "reviews:2",
    "ports": [{"containerPort": 9080, "name": "http"}],
    "readinessProbe": {"httpGet": {"path": "/ready", "port": "http"}, "timeoutSeconds": 3},
    "livenessProbe": {"exec": {"command": ["true"]}}}]})");
}

const json* findByName(const json& list, const std::string& name) {
  for (const auto& e : list)
    if (e.value("name", "") == name) return &e;
  return nullptr;
}
std::string envOf(const json& container, const std::string& name) {
  const json* e = findByName(container["env"], name);
  return e && e->contains("value") ? (*e)["value"].get<std::string>() : "";
}

TEST(SidecarInjectionTest, WhoIsInjected) {
  EXPECT_EQ(skipReason(podMeta(), podSpec()), std::nullopt);
  json spec = podSpec();
  spec["hostNetwork"] = true;
  EXPECT_EQ(skipReason(podMeta(), spec), "hostNetwork pods are never injected");
  json meta = podMeta();
  meta["annotations"]["sidecar.istio.io/inject"] = "false";
  EXPECT_EQ(skipReason(meta, podSpec()), "sidecar.istio.io/inject is false");
  meta["labels"]["sidecar.istio.io/inject"] = "true";  // the label wins
  EXPECT_EQ(skipReason(meta, podSpec()), std::nullopt);
  // Idempotent: an injected pod is left as it is.
  meta = podMeta();
  spec = podSpec();
  injectPod(meta, spec, {"apps/v1", "Deployment", "reviews-v2", "shop"}, InjectionConfig());
  EXPECT_EQ(skipReason(meta, spec), "already injected (sidecar.istio.io/status)");
}

TEST(SidecarInjectionTest, TheInjectedPod) {
  json meta = podMeta(), spec = podSpec();
  injectPod(meta, spec, {"apps/v1", "Deployment", "reviews-v2", "shop"}, InjectionConfig());
  ASSERT_EQ(spec["containers"].size(), 2u);
  const json& proxy = spec["containers"][1];
  EXPECT_EQ(proxy["name"], "istio-proxy");
  EXPECT_EQ(proxy["command"], json({"weft-agent"}));
  EXPECT_EQ(proxy["securityContext"]["runAsUser"], 1337);
  EXPECT_EQ(proxy["securityContext"]["readOnlyRootFilesystem"], true);
  EXPECT_EQ(proxy["readinessProbe"]["httpGet"]["port"], 15021);
  EXPECT_EQ(envOf(proxy, "ISTIO_META_WORKLOAD_NAME"), "reviews-v2");
  EXPECT_EQ(envOf(proxy, "ISTIO_META_OWNER"), "kubernetes://apis/apps/v1/namespaces/shop/deployments/reviews-v2");
  EXPECT_EQ(envOf(proxy, "ISTIO_META_APP_CONTAINERS"), "reviews");
  EXPECT_EQ(json::parse(envOf(proxy, "ISTIO_META_POD_PORTS")),
            json::parse(R"([{"containerPort": 9080, "name": "http"}])"));
  EXPECT_EQ(json::parse(envOf(proxy, "ISTIO_METAJSON_LABELS"))["service.istio.io/canonical-name"], "reviews");
  EXPECT_EQ(findByName(proxy["env"], "POD_NAME")->at("valueFrom")["fieldRef"]["fieldPath"], "metadata.name");
  // The readiness probe now asks the agent, which asks the app as the original probe said.
  EXPECT_EQ(spec["containers"][0]["readinessProbe"]["httpGet"],
            json::parse(R"({"path": "/app-health/reviews/readyz", "port": 15020, "scheme": "HTTP"})"));
  EXPECT_EQ(json::parse(envOf(proxy, "ISTIO_KUBE_APP_PROBERS")),
            json::parse(R"({"/app-health/reviews/readyz": {"httpGet": {"path": "/ready", "port": 9080},
                                                            "timeoutSeconds": 3}})"));
  EXPECT_TRUE(spec["containers"][0]["livenessProbe"].contains("exec"));  // not an HTTP probe: as it was
  // Capture: istio-init with Istio's istio-iptables arguments, as root with NET_ADMIN/NET_RAW only.
  const json& init = spec["initContainers"][0];
  EXPECT_EQ(init["name"], "istio-init");
  EXPECT_EQ(init["command"], json({"weft-iptables"}));
  EXPECT_EQ(init["args"], json({"-p", "15001", "-z", "15006", "-u", "1337", "-m", "REDIRECT", "-i", "*", "-x", "", "-b",
                                "*", "-d", "15090,15021,15020"}));
  EXPECT_EQ(init["securityContext"]["capabilities"]["add"], json({"NET_ADMIN", "NET_RAW"}));
  std::vector<std::string> volumes;
  for (const auto& v : spec["volumes"]) volumes.push_back(v["name"]);
  EXPECT_THAT(volumes, ElementsAre("workload-socket", "credential-socket", "workload-certs", "istio-envoy",
                                   "istio-data", "istio-podinfo", "istio-token", "istiod-ca-cert"));
  EXPECT_EQ(meta["labels"]["security.istio.io/tlsMode"], "istio");
  EXPECT_EQ(meta["labels"]["service.istio.io/canonical-revision"], "v2");
  EXPECT_EQ(meta["annotations"]["prometheus.io/port"], "15020");
  EXPECT_EQ(meta["annotations"]["kubectl.kubernetes.io/default-container"], "reviews");
  auto status = json::parse(meta["annotations"]["sidecar.istio.io/status"].get<std::string>());
  EXPECT_EQ(status["containers"], json({"istio-proxy"}));
  EXPECT_EQ(status["initContainers"], json({"istio-init"}));
}

TEST(SidecarInjectionTest, AnnotationsAndConfig) {
  json meta = podMeta(), spec = podSpec();
  meta["annotations"] = {
      {"traffic.sidecar.istio.io/excludeInboundPorts", "8443"},
      {"traffic.sidecar.istio.io/excludeOutboundIPRanges", "10.0.0.0/8"},
      {"traffic.sidecar.istio.io/excludeOutboundPorts", "3306"},
      {"sidecar.istio.io/proxyCPU", "50m"},
      {"sidecar.istio.io/proxyMemoryLimit", "256Mi"},
      {"prometheus.io/port", "9090"},
      {"proxy.istio.io/config",
       "holdApplicationUntilProxyStarts: true\nconcurrency: 1\nproxyMetadata: {DNS_CAPTURE: \"true\"}\n"}};
  InjectionConfig cni;
  cni.cni = true;
  injectPod(meta, spec, {"v1", "Pod", "reviews-1", "default"}, cni);
  EXPECT_FALSE(spec.contains("initContainers"));  // the CNI plugin captures
  const json& proxy = spec["containers"][0];      // holdApplicationUntilProxyStarts: first
  EXPECT_EQ(proxy["name"], "istio-proxy");
  EXPECT_EQ(proxy["lifecycle"]["postStart"]["exec"]["command"], json({"weft-agent", "wait"}));
  EXPECT_EQ(proxy["args"][2], "1");
  EXPECT_EQ(proxy["resources"]["requests"]["cpu"], "50m");
  EXPECT_EQ(proxy["resources"]["limits"]["memory"], "256Mi");
  EXPECT_EQ(envOf(proxy, "DNS_CAPTURE"), "true");
  EXPECT_EQ(json::parse(envOf(proxy, "PROXY_CONFIG"))["concurrency"], 1);
  EXPECT_EQ(json::parse(envOf(proxy, "ISTIO_PROMETHEUS_ANNOTATIONS")), json({{"port", "9090"}}));
  EXPECT_EQ(envOf(proxy, "ISTIO_META_OWNER"), "kubernetes://api/v1/namespaces/default/pods/reviews-1");
  meta = podMeta();
  spec = podSpec();
  meta["annotations"]["traffic.sidecar.istio.io/excludeInboundPorts"] = "8443";
  injectPod(meta, spec, {"v1", "Pod", "p", "default"}, InjectionConfig());
  EXPECT_EQ(spec["initContainers"][0]["args"][15], "15090,15021,15020,8443");
}

// The mesh's defaultConfig is the base; the pod's proxy.istio.io/config goes over it
// (proxyMetadata merged key by key).
TEST(SidecarInjectionTest, MeshDefaultConfigUnderThePodsOwn) {
  InjectionConfig mesh;
  mesh.mesh_proxy_config = json::parse(R"({"discoveryAddress": "weftd.mesh:15010", "drainDuration": "45s",
    "concurrency": 4, "proxyMetadata": {"A": "mesh", "B": "mesh"}})");
  json meta = podMeta(), spec = podSpec();
  meta["annotations"]["proxy.istio.io/config"] = "concurrency: 1\nproxyMetadata: {B: pod}\n";
  injectPod(meta, spec, {"v1", "Pod", "p", "default"}, mesh);
  const json& proxy = spec["containers"][1];
  EXPECT_EQ(envOf(proxy, "PILOT_ADDRESS"), "weftd.mesh:15010");
  EXPECT_EQ(envOf(proxy, "A"), "mesh");
  EXPECT_EQ(envOf(proxy, "B"), "pod");
  EXPECT_EQ(proxy["args"], json({"proxy", "--concurrency", "1", "--status-port", "15020", "--drain-duration", "45"}));
  EXPECT_EQ(json::parse(envOf(proxy, "PROXY_CONFIG"))["drainDuration"], "45s");
}

TEST(SidecarInjectionTest, WhatCannotBeInjectedIsNamed) {
  auto error = [](json meta, json spec) {
    try {
      injectPod(meta, spec, {"v1", "Pod", "p", "default"}, InjectionConfig());
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  json meta = podMeta();
  meta["annotations"]["proxy.istio.io/config"] = "[1, 2]";
  EXPECT_EQ(error(meta, podSpec()), "metadata.annotations[proxy.istio.io/config]: must be a ProxyConfig map");
  meta = podMeta();
  meta["annotations"]["sidecar.istio.io/interceptionMode"] = "TPROXY";
  EXPECT_EQ(error(meta, podSpec()),
            "metadata.annotations[sidecar.istio.io/interceptionMode]: 'TPROXY' is not supported by weft (REDIRECT is)");
  EXPECT_EQ(error(podMeta(), json::parse(R"({"containers": []})")),
            "spec.containers: a pod needs at least one container");
}

}  // namespace
}  // namespace weft::inject
