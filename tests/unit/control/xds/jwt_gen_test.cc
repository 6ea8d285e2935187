// RequestAuthentication: Istio's validation, and the jwt_authn filter weftd generates for the
// workloads it applies to, compiled by weft-proxy's own jwt_authn factory.
#include "control/xds/jwt_gen.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/stats/stats.h"
#include "control/control_test_support.h"
#include "proxy/http/filter_registry.h"

namespace weft::control::xds {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// RFC 7517 appendix A.1's example EC P-256 key, as a JWKS.
const char* kJwks =
    R"({"keys":[{"kty":"EC","kid":"ec-1","crv":"P-256","x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4","y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"}]})";

std::string ra(const std::string& name, const std::string& ns, const std::string& spec) {
  return "apiVersion: security.istio.io/v1\nkind: RequestAuthentication\nmetadata: {name: " + name +
         ", namespace: " + ns + "}\nspec:\n" + spec;
}

std::vector<std::string> errorsOf(const std::string& yaml) {
  ConfigSnapshot snap = testing::snapshotFrom(yaml);
  return snap.rejected.empty() ? std::vector<std::string>{} : snap.rejected[0].errors;
}

TEST(RequestAuthenticationTest, ValidatedAsIstio) {
  EXPECT_THAT(errorsOf(ra("a", "default", "  jwtRules: [{jwks: '{}'}]\n")),
              ElementsAre("spec.jwtRules[0]: issuer or jwksUri must be non-empty string"));
  // jwksUri alone, or an issuer alone (OpenID discovery), is Istio's valid form; so are two
  // rules for one issuer.
  EXPECT_THAT(errorsOf(ra("a", "default", "  jwtRules: [{jwksUri: 'https://x/jwks'}, {issuer: y}]\n")), IsEmpty());
  EXPECT_THAT(errorsOf(ra("a", "default", "  jwtRules: [{issuer: x, jwks: '{}'}, {issuer: x, jwks: '{}'}]\n")),
              IsEmpty());
  EXPECT_THAT(errorsOf(ra("a", "default", "  jwtRules: [{issuer: x, jwksUri: 'ftp://x/jwks'}]\n")),
              ElementsAre("spec.jwtRules[0].jwksUri: URI scheme \"ftp\" is not supported"));
  EXPECT_THAT(errorsOf(ra("a", "default", "  jwtRules: [{issuer: x, jwksUri: 'https://x:99999/jwks'}]\n")),
              ElementsAre("spec.jwtRules[0].jwksUri: 'https://x:99999/jwks' has an invalid port"));
  EXPECT_THAT(errorsOf(ra("a", "default", "  jwtRules: [{issuer: x, jwks: '{}', fromHeaders: [{prefix: 'B '}]}]\n")),
              ElementsAre("spec.jwtRules[0].fromHeaders[0].name: location header name must be non-empty"));
  EXPECT_THAT(errorsOf(ra("a", "default", "  jwtRules: [{issuer: x, jwks: '{}', fromCookies: ['']}]\n")),
              ElementsAre("spec.jwtRules[0].fromCookies: cookie name must be non-empty string"));
  EXPECT_THAT(errorsOf(ra("a", "default", "  jwtRules: [{issuer: x, jwks: '{}', timeout: 2x}]\n")),
              ::testing::SizeIs(1));
  EXPECT_THAT(errorsOf(ra("a", "default", "  jwtRules: [{issuer: x, jwks: not-json}]\n")),
              ElementsAre("spec.jwtRules[0].jwks: not a JSON Web Key Set"));
}

TEST(RequestAuthenticationTest, ProvidersPerRuleAndTheProxyAcceptsThem) {
  std::string yaml = testing::withBase(
      ra("reviews-jwt", "default",
         std::string("  selector: {matchLabels: {app: reviews}}\n  jwtRules:\n") +
             "  - issuer: https://issuer.example.com\n    audiences: [bookinfo]\n    jwks: '" + kJwks + "'\n" +
             "    outputPayloadToHeader: x-jwt\n    outputClaimToHeaders: [{header: x-sub, claim: sub}]\n" +
             "    fromHeaders: [{name: x-token, prefix: 'Bearer '}]\n    forwardOriginalToken: true\n" +
             "    fromCookies: [session]\n    spaceDelimitedClaims: [roles]\n") +
      "---\n" + ra("other", "prod", std::string("  jwtRules: [{issuer: other, jwks: '") + kJwks + "'}]\n"));
  auto m = testing::modelFrom(yaml);
  EXPECT_FALSE(jwtHttpFilter(*m, testing::proxyIn("default", {{"app", "details"}})));
  auto f = jwtHttpFilter(*m, testing::proxyIn("default", {{"app", "reviews"}}));
  ASSERT_TRUE(f);
  EXPECT_EQ(f->name(), "envoy.filters.http.jwt_authn");
  EXPECT_EQ(f->typed_config().type_url(),
            "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication");
  std::string text = f->typed_config().value();
  for (const char* want : {"origins-0", "https://issuer.example.com", "bookinfo", "x-jwt", "x-sub", "x-token",
                           "session", "payload", "roles", "scope", "permission"})
    EXPECT_NE(text.find(want), std::string::npos) << want;
  // weft-proxy compiles what weftd generates.
  const auto* factory = proxy::http::findHttpFilter(f->typed_config().type_url());
  ASSERT_NE(factory, nullptr);
  stats::Store store(1);
  proxy::http::FilterFactoryContext ctx{store, "inbound", f->name()};
  EXPECT_NO_THROW(factory->compile(f->typed_config(), "http_filters[0]", ctx));
}

}  // namespace
}  // namespace weft::control::xds
