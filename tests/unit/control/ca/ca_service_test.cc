#include "control/ca/ca_service.h"

#include <gtest/gtest.h>

#include "ca_test_support.h"

namespace weft::control::ca {
namespace {

using testing::TempDir;

// A workload certificate for `uri`, signed by `ca`, as PEM (the leaf only).
std::string workloadCert(const CaBundle& ca, const std::string& trust_domain, const std::string& ns,
                         const std::string& sa) {
  auto key = testing::ecKey();
  auto r = signCsr(ca, WorkloadIdentity{trust_domain, ns, sa}, testing::csrPem(key.get()), std::chrono::hours(1));
  EXPECT_TRUE(r.error.empty()) << r.error;
  return r.cert_chain.empty() ? "" : r.cert_chain.front();
}

class Authenticate : public ::testing::Test {
 protected:
  TempDir dir;
  std::shared_ptr<const CaBundle> ca = loadOrCreateSelfSigned(dir.path(), "cluster.local");
  std::shared_ptr<const TokenAuthority> tokens = TokenAuthority::loadOrCreate(dir.path(), "cluster.local");
  std::string error;
};

TEST_F(Authenticate, BearerTokenGivesItsIdentity) {
  CallerCredentials c{true, {"Bearer " + tokens->issue("default", "productpage", std::chrono::hours(1))}, "", ""};
  auto id = authenticate(c, *tokens, "cluster.local", error);
  ASSERT_TRUE(id) << error;
  EXPECT_EQ(id->spiffe(), "spiffe://cluster.local/ns/default/sa/productpage");
}

TEST_F(Authenticate, CurrentCertificateRenews) {
  CallerCredentials c{true, {}, workloadCert(*ca, "cluster.local", "default", "reviews"), ""};
  auto id = authenticate(c, *tokens, "cluster.local", error);
  ASSERT_TRUE(id) << error;
  EXPECT_EQ(id->spiffe(), "spiffe://cluster.local/ns/default/sa/reviews");
}

TEST_F(Authenticate, TokenWinsOverCertificate) {
  CallerCredentials c{true,
                      {"Bearer " + tokens->issue("default", "ratings", std::chrono::hours(1))},
                      workloadCert(*ca, "cluster.local", "default", "reviews"),
                      ""};
  auto id = authenticate(c, *tokens, "cluster.local", error);
  ASSERT_TRUE(id) << error;
  EXPECT_EQ(id->service_account, "ratings");
}

TEST_F(Authenticate, Refusals) {
  std::string token = "Bearer " + tokens->issue("default", "a", std::chrono::hours(1));
  EXPECT_FALSE(authenticate({false, {token}, "", ""}, *tokens, "cluster.local", error));
  EXPECT_NE(error.find("TLS"), std::string::npos) << error;

  EXPECT_FALSE(authenticate({true, {}, "", ""}, *tokens, "cluster.local", error));
  EXPECT_NE(error.find("no credential"), std::string::npos) << error;

  EXPECT_FALSE(authenticate({true, {"Basic abc"}, "", ""}, *tokens, "cluster.local", error));
  EXPECT_NE(error.find("Bearer"), std::string::npos) << error;

  EXPECT_FALSE(authenticate({true, {"Bearer x.y.z"}, "", ""}, *tokens, "cluster.local", error));

  // A certificate from this CA but for another trust domain.
  CallerCredentials foreign{true, {}, workloadCert(*ca, "evil.example", "default", "a"), ""};
  EXPECT_FALSE(authenticate(foreign, *tokens, "cluster.local", error));
  EXPECT_NE(error.find("trust domain"), std::string::npos) << error;

  // weftd's own serving-style certificate has no SPIFFE identity.
  CallerCredentials no_spiffe{true, {}, ca->signing_cert_pem, ""};
  EXPECT_FALSE(authenticate(no_spiffe, *tokens, "cluster.local", error));
  EXPECT_NE(error.find("SPIFFE"), std::string::npos) << error;
}

TEST(CaMetrics, IstioNames) {
  CaMetrics m;
  m.csr = 3;
  m.issued = 2;
  m.auth_failures = 1;
  std::string text = m.prometheus();
  EXPECT_NE(text.find("citadel_server_csr_count 3\n"), std::string::npos);
  EXPECT_NE(text.find("citadel_server_success_cert_issuance_count 2\n"), std::string::npos);
  EXPECT_NE(text.find("citadel_server_authentication_failure_count 1\n"), std::string::npos);
  EXPECT_NE(text.find("citadel_server_csr_sign_error_count 0\n"), std::string::npos);
}

}  // namespace
}  // namespace weft::control::ca
