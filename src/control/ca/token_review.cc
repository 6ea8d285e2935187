#include "control/ca/token_review.h"

#include <nlohmann/json.hpp>

namespace weft::control::ca {

std::string KubeTokenReviewer::reviewRequest(std::string_view token) {
  nlohmann::json review = {{"apiVersion", "authentication.k8s.io/v1"},
                           {"kind", "TokenReview"},
                           {"spec", {{"token", token}, {"audiences", {kAudience}}}}};
  return review.dump();
}

std::optional<WorkloadIdentity> KubeTokenReviewer::identityFromReview(int status, const std::string& body,
                                                                      const std::string& trust_domain,
                                                                      std::string& error) {
  if (status / 100 != 2) {
    error = "the TokenReview failed: HTTP " + std::to_string(status) + " " + body.substr(0, 300);
    return std::nullopt;
  }
  auto review = nlohmann::json::parse(body, nullptr, false);
  if (review.is_discarded() || !review.is_object() || !review["status"].is_object()) {
    error = "the TokenReview answer is not a TokenReview with a status";
    return std::nullopt;
  }
  const auto& st = review["status"];
  if (!st.value("authenticated", false)) {
    std::string why = st.contains("error") && st["error"].is_string() ? st["error"].get<std::string>() : "";
    error = "the service account token is not authenticated" + (why.empty() ? "" : ": " + why);
    return std::nullopt;
  }
  bool audience = false;
  if (st.contains("audiences") && st["audiences"].is_array()) {
    for (const auto& a : st["audiences"]) audience |= a.is_string() && a.get<std::string>() == kAudience;
  }
  if (!audience) {
    error = std::string("the service account token is not for the audience ") + kAudience;
    return std::nullopt;
  }
  std::string user;
  if (st.contains("user") && st["user"].is_object() && st["user"].contains("username") &&
      st["user"]["username"].is_string())
    user = st["user"]["username"].get<std::string>();
  const std::string prefix = "system:serviceaccount:";
  auto colon = user.find(':', prefix.size());
  if (user.rfind(prefix, 0) != 0 || colon == std::string::npos || colon == prefix.size() || colon + 1 == user.size() ||
      user.find(':', colon + 1) != std::string::npos) {
    error = "the token's user '" + user + "' is not system:serviceaccount:NAMESPACE:NAME";
    return std::nullopt;
  }
  return WorkloadIdentity{trust_domain, user.substr(prefix.size(), colon - prefix.size()), user.substr(colon + 1)};
}

std::optional<WorkloadIdentity> KubeTokenReviewer::verify(std::string_view token, std::string& error) const {
  weft::kube::Request req;
  req.method = "POST";
  req.target = "/apis/authentication.k8s.io/v1/tokenreviews";
  req.body = reviewRequest(token);
  req.timeout = std::chrono::seconds(5);
  req.max_body = 1 << 20;
  auto resp = client_.callSync(req);
  if (!resp.error.empty()) {
    error = "the TokenReview failed: " + resp.error;
    return std::nullopt;
  }
  return identityFromReview(resp.status, resp.body, trust_domain_, error);
}

}  // namespace weft::control::ca
