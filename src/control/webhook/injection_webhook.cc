#include "control/webhook/injection_webhook.h"

#include <nlohmann/json.hpp>

#include "common/base64.h"

namespace weft::control::webhook {

using nlohmann::json;

namespace {

WebhookReply badRequest(const std::string& why) { return {400, "bad AdmissionReview: " + why + "\n"}; }

// The workload a pod belongs to, as Istio names it: a ReplicaSet's pods are their Deployment's.
inject::Workload workloadOf(const json& pod, const std::string& ns) {
  inject::Workload w;
  w.ns = ns;
  const json& meta = pod["metadata"];
  w.name = meta.value("name", "");
  if (w.name.empty()) {
    w.name = meta.value("generateName", "");
    if (!w.name.empty() && w.name.back() == '-') w.name.pop_back();
  }
  for (const auto& ref : meta.value("ownerReferences", json::array())) {
    if (!ref.value("controller", false)) continue;
    w.api_version = ref.value("apiVersion", "v1");
    w.kind = ref.value("kind", "Pod");
    w.name = ref.value("name", w.name);
    std::string hash = meta.contains("labels") ? meta["labels"].value("pod-template-hash", "") : "";
    if (w.kind == "ReplicaSet" && !hash.empty() && w.name.size() > hash.size() + 1 &&
        w.name.compare(w.name.size() - hash.size(), hash.size(), hash) == 0) {
      w.name.resize(w.name.size() - hash.size() - 1);
      w.kind = "Deployment";
      w.api_version = "apps/v1";
    }
  }
  return w;
}

}  // namespace

WebhookReply injectAdmissionReview(const std::string& body, const inject::InjectionConfig& config) {
  json review = json::parse(body, nullptr, false);
  if (review.is_discarded() || !review.is_object()) return badRequest("the body is not a JSON object");
  const std::string api = review.value("apiVersion", "");
  if (api != "admission.k8s.io/v1" && api != "admission.k8s.io/v1beta1")
    return badRequest("apiVersion '" + api + "' is not admission.k8s.io/v1 or v1beta1");
  auto req = review.find("request");
  if (req == review.end() || !req->is_object() || !req->contains("uid") || !(*req)["uid"].is_string())
    return badRequest("request.uid: is required");
  json response = {{"uid", (*req)["uid"]}, {"allowed", true}};
  auto reply = [&] {
    return WebhookReply{200, json({{"apiVersion", api}, {"kind", "AdmissionReview"}, {"response", response}}).dump()};
  };
  auto object = req->find("object");
  if (object == req->end() || !object->is_object() || object->value("kind", "Pod") != "Pod") return reply();
  json pod = *object;
  if (!pod.contains("metadata") || !pod["metadata"].is_object()) pod["metadata"] = json::object();
  if (!pod.contains("spec") || !pod["spec"].is_object()) return badRequest("request.object.spec: is required");
  if (inject::skipReason(pod["metadata"], pod["spec"])) return reply();
  std::string ns = req->value("namespace", "");
  if (ns.empty()) ns = pod["metadata"].value("namespace", "default");
  json injected = pod;
  try {
    inject::injectPod(injected["metadata"], injected["spec"], workloadOf(pod, ns), config);
  } catch (const std::invalid_argument& e) {
    response["allowed"] = false;
    response["status"] = {
        {"status", "Failure"}, {"message", std::string("injection failed: ") + e.what()}, {"code", 400}};
    return reply();
  }
  // RFC 6902 from the pod as sent to the pod as injected (nlohmann's diff).
  response["patchType"] = "JSONPatch";
  response["patch"] = base64Encode(json::diff(*object, injected).dump());
  return reply();
}

}  // namespace weft::control::webhook
