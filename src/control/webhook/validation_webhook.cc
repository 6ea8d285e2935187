#include "control/webhook/validation_webhook.h"

#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>

#include "control/config/decode.h"

namespace weft::control::webhook {

WebhookReply validateAdmissionReview(const std::string& body) {
  WebhookReply error;
  auto review = parseAdmissionReview(body, error);
  if (!review) return error;
  const nlohmann::json* req = &review->request;
  nlohmann::json response = {{"uid", (*req)["uid"]}, {"allowed", true}};
  nlohmann::json warnings = nlohmann::json::array();
  std::vector<std::string> errors;
  auto object = req->find("object");
  if (req->value("operation", "") != "DELETE" && object != req->end() && object->is_object()) {
    nlohmann::json obj = *object;
    // The namespace is the request's when the object does not carry it (a create).
    if (!obj.contains("metadata") || !obj["metadata"].is_object()) obj["metadata"] = nlohmann::json::object();
    if (!obj["metadata"].contains("namespace") && req->contains("namespace") && (*req)["namespace"].is_string())
      obj["metadata"]["namespace"] = (*req)["namespace"];
    const std::string api_version = obj.value("apiVersion", ""), kind = obj.value("kind", "");
    const bool istio = api_version.rfind("networking.istio.io/", 0) == 0 ||
                       api_version.rfind("security.istio.io/", 0) == 0 ||
                       api_version.rfind("telemetry.istio.io/", 0) == 0;
    if (istio && isKnownKind(api_version, kind)) {
      // JSON is YAML: the same decoder as the config directory and the Kubernetes watch.
      DecodeResult r = decodeResource(YAML::Load(obj.dump()));
      for (const auto& w : r.warnings) warnings.push_back(w);
      for (const auto& e : r.errors) {
        if (isWeftdLimitation(e)) {
          warnings.push_back(e);
        } else {
          errors.push_back(e);
        }
      }
    }
  }
  if (!errors.empty()) {
    std::string message = "configuration is invalid: ";
    for (size_t i = 0; i < errors.size(); ++i) message += (i ? "; " : "") + errors[i];
    response["allowed"] = false;
    response["status"] = {{"status", "Failure"}, {"message", message}, {"reason", "Invalid"}, {"code", 400}};
  }
  if (!warnings.empty()) response["warnings"] = warnings;
  return admissionReply(*review, response);
}

}  // namespace weft::control::webhook
