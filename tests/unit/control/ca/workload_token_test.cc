#include "control/ca/workload_token.h"

#include <gtest/gtest.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "ca_test_support.h"
#include "common/jwt/jws.h"

namespace weft::control::ca {
namespace {

using testing::TempDir;

TEST(WorkloadToken, IssuedTokenNamesTheWorkload) {
  TempDir dir;
  auto tokens = TokenAuthority::loadOrCreate(dir.path(), "example.org");
  std::string token = tokens->issue("bookinfo", "reviews", std::chrono::hours(1));
  std::string error;
  auto id = tokens->verify(token, error);
  ASSERT_TRUE(id) << error;
  EXPECT_EQ(id->spiffe(), "spiffe://example.org/ns/bookinfo/sa/reviews");
  // Shaped like a Kubernetes service-account token.
  auto jws = jwt::splitCompact(token, error);
  auto payload = nlohmann::json::parse(jws->payload);
  EXPECT_EQ(payload["sub"], "system:serviceaccount:bookinfo:reviews");
  EXPECT_EQ(payload["aud"][0], "istio-ca");
  EXPECT_EQ(nlohmann::json::parse(jws->header)["alg"], "ES256");
}

TEST(WorkloadToken, KeyIsKeptAcrossRestarts) {
  TempDir dir;
  std::string token = TokenAuthority::loadOrCreate(dir.path(), "cluster.local")->issue("a", "b", std::chrono::hours(1));
  auto again = TokenAuthority::loadOrCreate(dir.path(), "cluster.local");
  std::string error;
  EXPECT_TRUE(again->verify(token, error)) << error;
  auto mode = std::filesystem::status(dir.path() / "token-key.pem").permissions();
  EXPECT_EQ(mode & std::filesystem::perms::group_read, std::filesystem::perms::none);
  EXPECT_EQ(mode & std::filesystem::perms::others_read, std::filesystem::perms::none);
}

TEST(WorkloadToken, RefusesForeignExpiredTamperedAndUnsigned) {
  TempDir dir;
  auto tokens = TokenAuthority::loadOrCreate(dir.path() / "mine", "cluster.local");
  auto other = TokenAuthority::loadOrCreate(dir.path() / "other", "cluster.local");
  std::string error;

  EXPECT_FALSE(tokens->verify(other->issue("ns", "sa", std::chrono::hours(1)), error));
  EXPECT_NE(error.find("not signed by this weftd"), std::string::npos) << error;

  EXPECT_FALSE(tokens->verify(tokens->issue("ns", "sa", std::chrono::seconds(-120)), error));
  EXPECT_NE(error.find("expired"), std::string::npos) << error;

  // Another identity in the payload under the original signature.
  std::string good = tokens->issue("ns", "sa", std::chrono::hours(1));
  auto jws = jwt::splitCompact(good, error);
  auto payload = nlohmann::json::parse(jws->payload);
  payload["kubernetes.io"]["serviceaccount"]["name"] = "admin";
  auto d1 = good.find('.'), d2 = good.rfind('.');
  std::string forged = good.substr(0, d1) + "." + jwt::base64UrlEncode(payload.dump()) + good.substr(d2);
  EXPECT_FALSE(tokens->verify(forged, error));

  // alg "none" with no signature.
  std::string none = jwt::base64UrlEncode(R"({"alg":"none"})") + "." + jwt::base64UrlEncode(payload.dump()) + ".";
  EXPECT_FALSE(tokens->verify(none, error));
  EXPECT_NE(error.find("none"), std::string::npos) << error;

  EXPECT_FALSE(tokens->verify("garbage", error));
}

TEST(WorkloadToken, RefusesABadKeyFile) {
  TempDir dir;
  std::ofstream(dir.path() / "token-key.pem") << "not a key\n";
  try {
    TokenAuthority::loadOrCreate(dir.path(), "cluster.local");
    FAIL() << "a bad key file was accepted";
  } catch (const CaError& e) {
    EXPECT_NE(std::string(e.what()).find("token-key.pem"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace weft::control::ca
