#include "control/webhook/injection_webhook.h"

#include <nlohmann/json.hpp>

#include "common/base64.h"

namespace weft::control::webhook {

using nlohmann::json;

namespace {

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
  WebhookReply error;
  auto review = parseAdmissionReview(body, error);
  if (!review) return error;
  const json* req = &review->request;
  json response = {{"uid", (*req)["uid"]}, {"allowed", true}};
  auto reply = [&] { return admissionReply(*review, response); };
  auto object = req->find("object");
  if (object == req->end() || !object->is_object() || object->value("kind", "Pod") != "Pod") return reply();
  json pod = *object;
  if (!pod.contains("metadata") || !pod["metadata"].is_object()) pod["metadata"] = json::object();
  if (!pod.contains("spec") || !pod["spec"].is_object())
    return {400, "bad AdmissionReview: request.object.spec: is required\n"};
  if (auto e = inject::podShapeError(pod["metadata"], pod["spec"])) {
    response["allowed"] = false;
    response["status"] = {{"status", "Failure"}, {"message", "injection failed: " + *e}, {"code", 400}};
    return reply();
  }
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
