// KubeTokenReviewer: a TokenReview answer -> the workload identity, as istiod's
// KubeJWTAuthenticator reads it.
#include "control/ca/token_review.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace weft::control::ca {
namespace {

std::string answer(bool authenticated, const std::string& user, const std::vector<std::string>& audiences,
                   const std::string& error = "") {
  nlohmann::json st = {{"authenticated", authenticated}, {"user", {{"username", user}}}, {"audiences", audiences}};
  if (!error.empty()) st["error"] = error;
  return nlohmann::json{{"kind", "TokenReview"}, {"status", st}}.dump();
}

TEST(TokenReviewTest, RequestAsksForTheIstioCaAudience) {
  auto j = nlohmann::json::parse(KubeTokenReviewer::reviewRequest("tok"));
  EXPECT_EQ(j["apiVersion"], "authentication.k8s.io/v1");
  EXPECT_EQ(j["kind"], "TokenReview");
  EXPECT_EQ(j["spec"]["token"], "tok");
  EXPECT_EQ(j["spec"]["audiences"], nlohmann::json::array({"istio-ca"}));
}

TEST(TokenReviewTest, ServiceAccountUserIsTheIdentity) {
  std::string error;
  auto id = KubeTokenReviewer::identityFromReview(201, answer(true, "system:serviceaccount:shop:reviews", {"istio-ca"}),
                                                  "example.org", error);
  ASSERT_TRUE(id) << error;
  EXPECT_EQ(id->spiffe(), "spiffe://example.org/ns/shop/sa/reviews");
}

TEST(TokenReviewTest, RefusalsSayWhy) {
  std::string error;
  EXPECT_FALSE(KubeTokenReviewer::identityFromReview(201, answer(false, "", {}, "token expired"), "td", error));
  EXPECT_EQ(error, "the service account token is not authenticated: token expired");
  EXPECT_FALSE(
      KubeTokenReviewer::identityFromReview(201, answer(true, "system:serviceaccount:a:b", {"api"}), "td", error));
  EXPECT_EQ(error, "the service account token is not for the audience istio-ca");
  for (const char* user : {"kubernetes-admin", "system:serviceaccount:a", "system:serviceaccount::b",
                           "system:serviceaccount:a:", "system:serviceaccount:a:b:c"}) {
    EXPECT_FALSE(KubeTokenReviewer::identityFromReview(201, answer(true, user, {"istio-ca"}), "td", error)) << user;
    EXPECT_NE(error.find("is not system:serviceaccount:NAMESPACE:NAME"), std::string::npos) << error;
  }
  EXPECT_FALSE(KubeTokenReviewer::identityFromReview(403, "{\"reason\":\"Forbidden\"}", "td", error));
  EXPECT_EQ(error, "the TokenReview failed: HTTP 403 {\"reason\":\"Forbidden\"}");
  EXPECT_FALSE(KubeTokenReviewer::identityFromReview(201, "not json", "td", error));
}

}  // namespace
}  // namespace weft::control::ca
