#pragma once
// The AdmissionReview envelope both webhooks share: a kube-apiserver review (admission.k8s.io/v1
// or v1beta1) read and checked once, and the answer written in the same version.
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace weft::control::webhook {

struct WebhookReply {
  int status = 200;  // 400 when the body is not an AdmissionReview
  std::string body;  // JSON, or the error text
};

struct AdmissionRequest {
  std::string api_version;  // the answer's too
  nlohmann::json request;   // an object with a string uid
};

// nullopt (with `error` the 400 to send) when the body is not an AdmissionReview.
std::optional<AdmissionRequest> parseAdmissionReview(const std::string& body, WebhookReply& error);
// `response` carries the request's uid and the verdict.
WebhookReply admissionReply(const AdmissionRequest& review, const nlohmann::json& response);

}  // namespace weft::control::webhook
