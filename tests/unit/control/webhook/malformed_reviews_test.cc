// Every node of an AdmissionReview, given the wrong shape (a string where an object belongs, an
// object where a string does, a number, a list): /inject and /validate answer, with an error or
// without one, and never throw. kube-apiserver sends what users wrote; a pod can carry anything.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "control/webhook/injection_webhook.h"
#include "control/webhook/pod_review.h"
#include "control/webhook/validation_webhook.h"

namespace weft::control::webhook {
namespace {

using nlohmann::json;

// A pod with what the injector reads: annotations of each family, probes of each kind, init
// containers, volumes, security contexts, owner references.
json richPod() {
  return json::parse(R"({"apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "reviews-v2-7d9c8b6f5-abcde", "generateName": "reviews-v2-7d9c8b6f5-",
      "labels": {"app": "reviews", "version": "v2", "pod-template-hash": "7d9c8b6f5"},
      "annotations": {"sidecar.istio.io/proxyCPU": "200m", "sidecar.istio.io/proxyMemory": "128Mi",
        "traffic.sidecar.istio.io/excludeOutboundPorts": "9000", "traffic.sidecar.istio.io/includeInboundPorts": "*",
        "proxy.istio.io/config": "{\"holdApplicationUntilProxyStarts\": true, \"concurrency\": 2}",
        "sidecar.istio.io/rewriteAppHTTPProbers": "true", "prometheus.io/scrape": "true"},
      "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "reviews-v2-7d9c8b6f5",
                           "uid": "1", "controller": true}]},
    "spec": {
      "serviceAccountName": "bookinfo-reviews",
      "securityContext": {"runAsUser": 1000, "fsGroup": 2000},
      "initContainers": [{"name": "setup", "image": "busybox", "command": ["true"]}],
      "containers": [{"name": "reviews", "image": "reviews:2", "ports": [{"containerPort": 9080, "name": "http"}],
        "env": [{"name": "A", "value": "b"}],
        "resources": {"limits": {"cpu": "1"}},
        "readinessProbe": {"httpGet": {"path": "/ready", "port": 9080, "httpHeaders": [{"name": "x", "value": "y"}]}},
        "livenessProbe": {"tcpSocket": {"port": "http"}},
        "startupProbe": {"grpc": {"port": 9090, "service": "s"}},
        "securityContext": {"runAsUser": 1001}}],
      "volumes": [{"name": "data", "emptyDir": {}}]}})");
}

void collect(const json& j, const json::json_pointer& at, std::vector<json::json_pointer>& out) {
  if (j.is_object()) {
    for (const auto& [k, v] : j.items()) {
      out.push_back(at / k);
      collect(v, at / k, out);
    }
  } else if (j.is_array()) {
    for (size_t i = 0; i < j.size(); ++i) {
      out.push_back(at / i);
      collect(j[i], at / i, out);
    }
  }
}

std::vector<json> wrongShapes(const json& j) {
  std::vector<json> out = {json(7), json(nullptr)};
  if (!j.is_string()) out.push_back("x");
  if (!j.is_object()) out.push_back(json{{"zz", 1}});
  if (!j.is_array()) out.push_back(json::array({"x"}));
  if (!j.is_boolean()) out.push_back(true);
  return out;
}

void expectAnAnswer(const WebhookReply& r, const std::string& what) {
  EXPECT_TRUE(r.status == 200 || r.status == 400) << what << ": " << r.status << " " << r.body;
  if (r.status == 200) {
    EXPECT_TRUE(json::accept(r.body)) << what;
  }
}

TEST(MalformedReviewsTest, InjectAnswersEveryShape) {
  json base = podReview(richPod());
  std::vector<json::json_pointer> nodes;
  collect(base, json::json_pointer(), nodes);
  size_t tried = 0;
  for (const auto& ptr : nodes) {
    for (const json& shape : wrongShapes(base.at(ptr))) {
      json bad = base;
      bad.at(ptr) = shape;
      ++tried;
      try {
        expectAnAnswer(injectAdmissionReview(bad.dump(), inject::InjectionConfig()), ptr.to_string());
      } catch (const std::exception& e) {
        ADD_FAILURE() << "/inject threw " << e.what() << " at " << ptr.to_string() << " = " << shape.dump();
      }
    }
  }
  EXPECT_GT(tried, 300u);
}

TEST(MalformedReviewsTest, ValidateAnswersEveryShape) {
  json object = json::parse(R"({"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
    "metadata": {"name": "r", "namespace": "shop", "labels": {"a": "b"}, "annotations": {"c": "d"}},
    "spec": {"hosts": ["r"], "http": [{"route": [{"destination": {"host": "r"}}]}]}})");
  json base = podReview(object);
  base["request"]["kind"] = {{"group", "networking.istio.io"}, {"version", "v1"}, {"kind", "VirtualService"}};
  std::vector<json::json_pointer> nodes;
  collect(base, json::json_pointer(), nodes);
  for (const auto& ptr : nodes) {
    for (const json& shape : wrongShapes(base.at(ptr))) {
      json bad = base;
      bad.at(ptr) = shape;
      try {
        expectAnAnswer(validateAdmissionReview(bad.dump()), ptr.to_string());
      } catch (const std::exception& e) {
        ADD_FAILURE() << "/validate threw " << e.what() << " at " << ptr.to_string() << " = " << shape.dump();
      }
    }
  }
}

}  // namespace
}  // namespace weft::control::webhook
