#include "control/webhook/admission_review.h"

#include "common/json_shape.h"

namespace weft::control::webhook {

std::optional<AdmissionRequest> parseAdmissionReview(const std::string& body, WebhookReply& error) {
  auto bad = [&](const std::string& why) {
    error = {400, "bad AdmissionReview: " + why + "\n"};
    return std::nullopt;
  };
  nlohmann::json review = nlohmann::json::parse(body, nullptr, false);
  if (review.is_discarded() || !review.is_object()) return bad("the body is not a JSON object");
  // What the webhooks read of the envelope, with the types kube-apiserver sends.
  static const nlohmann::json shape = {
      {"apiVersion", "string"},
      {"kind", "string"},
      {"request",
       {{"uid", "string"},
        {"namespace", "string"},
        {"name", "string"},
        {"operation", "string"},
        {"object", {{"apiVersion", "string"}, {"kind", "string"}, {"metadata", nlohmann::json::object()}}}}}};
  if (auto e = jsonShapeError(review, shape, "")) return bad(*e);
  AdmissionRequest out;
  out.api_version = review.value("apiVersion", "");
  if (out.api_version != "admission.k8s.io/v1" && out.api_version != "admission.k8s.io/v1beta1")
    return bad("apiVersion '" + out.api_version + "' is not admission.k8s.io/v1 or v1beta1");
  if (review.value("kind", "") != "AdmissionReview") return bad("kind must be AdmissionReview");
  auto req = review.find("request");
  if (req == review.end() || !req->is_object()) return bad("request: is required");
  if (!req->contains("uid") || !(*req)["uid"].is_string()) return bad("request.uid: is required");
  out.request = std::move(*req);
  return out;
}

WebhookReply admissionReply(const AdmissionRequest& review, const nlohmann::json& response) {
  nlohmann::json out = {{"apiVersion", review.api_version}, {"kind", "AdmissionReview"}, {"response", response}};
  return {200, out.dump()};
}

}  // namespace weft::control::webhook
