// /inject: a Deployment's pod as kube-apiserver sends it, the JSONPatch applied to it gives the
// injected pod (owned by the Deployment, not its ReplicaSet); pods that opt out get no patch.
#include "control/webhook/injection_webhook.h"

#include <gtest/gtest.h>

#include "common/base64.h"
#include "control/webhook/pod_review.h"

namespace weft::control::webhook {
namespace {

using nlohmann::json;

json deploymentPod() {
  return json::parse(R"({"apiVersion": "v1", "kind": "Pod", "metadata": {"generateName": "reviews-v2-7d9c8b6f5-",
    "labels": {"app": "reviews", "version": "v2", "pod-template-hash": "7d9c8b6f5"},
    "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "reviews-v2-7d9c8b6f5",
                         "uid": "1", "controller": true}]},
    "spec": {"containers": [{"name": "reviews", "image": "reviews:2", "ports": [{"containerPort": 9080}]}],
             "serviceAccountName": "bookinfo-reviews"}})");
}

json respond(const json& review) {
  WebhookReply r = injectAdmissionReview(review.dump(), inject::InjectionConfig());
  EXPECT_EQ(r.status, 200) << r.body;
  json out = json::parse(r.body);
  EXPECT_EQ(out["response"]["uid"], "a7d6c5b4-0000-4000-8000-000000000001");
  return out["response"];
}

TEST(InjectionWebhookTest, ThePatchGivesTheInjectedPod) {
  json pod = deploymentPod();
  json resp = respond(podReview(pod));
  ASSERT_EQ(resp["allowed"], true);
  ASSERT_EQ(resp["patchType"], "JSONPatch");
  auto patch = base64Decode(resp["patch"].get<std::string>());
  ASSERT_TRUE(patch);
  json patched = pod.patch(json::parse(*patch));
  json meta = pod["metadata"], spec = pod["spec"];
  inject::injectPod(meta, spec, {"apps/v1", "Deployment", "reviews-v2", "shop"}, inject::InjectionConfig());
  EXPECT_EQ(patched["spec"], spec);
  EXPECT_EQ(patched["metadata"], meta);
  EXPECT_EQ(patched["spec"]["containers"][1]["name"], "istio-proxy");
}

TEST(InjectionWebhookTest, OptOutsAndFailures) {
  json pod = deploymentPod();
  pod["metadata"]["annotations"] = {{"sidecar.istio.io/inject", "false"}};
  json resp = respond(podReview(pod));
  EXPECT_EQ(resp["allowed"], true);
  EXPECT_FALSE(resp.contains("patch"));
  pod = deploymentPod();
  pod["spec"]["hostNetwork"] = true;
  EXPECT_FALSE(respond(podReview(pod)).contains("patch"));
  pod = deploymentPod();
  pod["metadata"]["annotations"] = {{"sidecar.istio.io/interceptionMode", "TPROXY"}};
  resp = respond(podReview(pod));
  EXPECT_EQ(resp["allowed"], false);
  EXPECT_EQ(
      resp["status"]["message"],
      "injection failed: metadata.annotations[sidecar.istio.io/interceptionMode]: 'TPROXY' is not supported by weft "
      "(REDIRECT is)");
  EXPECT_EQ(injectAdmissionReview("[]", inject::InjectionConfig()).status, 400);
}

}  // namespace
}  // namespace weft::control::webhook
