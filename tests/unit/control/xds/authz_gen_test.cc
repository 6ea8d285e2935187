// AuthorizationPolicy: Istio's validation, which policies apply to a workload, and the RBAC
// filters generated for its inbound HTTP connection managers (DENY before ALLOW, AUDIT as shadow
// rules, Istio's policy names and field mapping).
#include "control/xds/authz_gen.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "control/control_test_support.h"
#include "envoy/extensions/filters/http/rbac/v3/rbac.pb.h"
#include "envoy/extensions/filters/network/rbac/v3/rbac.pb.h"

namespace weft::control::xds {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
namespace rbacv3 = envoy::extensions::filters::http::rbac::v3;

std::string ap(const std::string& name, const std::string& ns, const std::string& spec) {
  return "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: " + name +
         ", namespace: " + ns + "}\n" + (spec.empty() ? "" : "spec:\n" + spec);
}

std::vector<std::string> errorsOf(const std::string& yaml) {
  ConfigSnapshot snap = testing::snapshotFrom(yaml);
  return snap.rejected.empty() ? std::vector<std::string>{} : snap.rejected[0].errors;
}

TEST(AuthorizationPolicyTest, ValidatedAsIstio) {
  EXPECT_THAT(
      errorsOf(ap("a", "default", "  action: DENY\n")),
      ElementsAre("spec: DENY action without `rules` is meaningless as it will never be triggered, add an empty "
                  "rule `{}` if you want it be triggered for every request"));
  EXPECT_THAT(errorsOf(ap("a", "default", "  action: CUSTOM\n  provider: {name: ext}\n  rules: [{}]\n")),
              ElementsAre("spec.action: CUSTOM (an external authorizer) is not supported by weftd"));
  // As Istio: an empty `from` is no `from`; port 0 and a '*' inside a path (a literal) are valid.
  EXPECT_THAT(errorsOf(ap("a", "default", "  rules:\n  - from: []\n")), IsEmpty());
  EXPECT_THAT(errorsOf(ap("a", "default", "  rules:\n  - to: [{operation: {ports: [\"0\"], paths: [/a*b]}}]\n")),
              IsEmpty());
  EXPECT_THAT(errorsOf(ap("a", "default", "  rules:\n  - to: [{operation: {ports: [\"70000\", http]}}]\n")),
              ElementsAre("spec.rules[0].to[0].operation.ports: bad port (70000): <nil>",
                          "spec.rules[0].to[0].operation.ports: bad port (http): strconv.ParseUint: parsing \"http\": "
                          "invalid syntax"));
  EXPECT_THAT(errorsOf(ap("a", "default", "  rules:\n  - from: [{source: {ipBlocks: [10.0.0.0/33]}}]\n")),
              ElementsAre("spec.rules[0].from[0].source.ipBlocks: '10.0.0.0/33' is not a valid IP address or CIDR "
                          "range"));
  EXPECT_THAT(errorsOf(ap("a", "default", "  rules:\n  - when: [{key: \"request.auth.claims[iss]\", values: [x]}]\n")),
              IsEmpty());
  EXPECT_THAT(errorsOf(ap("a", "default", "  rules:\n  - when: [{key: \"request.auth.claims[a\", values: [x]}]\n")),
              ElementsAre("spec.rules[0].when[0].key: request.auth.claims[a: expecting format "
                          "request.auth.claims[<NAME>]"));
  EXPECT_THAT(errorsOf(ap("a", "default", "  rules:\n  - when: [{key: \"destination.labels[app]\", values: [x]}]\n")),
              ElementsAre("spec.rules[0].when[0].key: attribute destination.labels[app] is replaced by the workload "
                          "selector"));
  EXPECT_THAT(
      errorsOf(ap("a", "default", "  rules:\n  - from: [{source: {serviceAccounts: [a/b/c], principals: [x]}}]\n")),
      ElementsAre("spec.rules[0].from[0].source: cannot set serviceAccounts with namespaces or principals",
                  "spec.rules[0].from[0].source.serviceAccounts: 'a/b/c' must be 'name' or 'namespace/name'"));
  EXPECT_THAT(errorsOf(ap("a", "default", "  rules:\n  - when: [{key: source.ip}]\n")),
              ElementsAre("spec.rules[0].when[0]: at least one of values or notValues must be set for key source.ip"));
  EXPECT_THAT(errorsOf(ap("a", "default", "")), IsEmpty());  // allow nothing
}

rbacv3::RBAC unpack(const envoy::extensions::filters::network::http_connection_manager::v3::HttpFilter& f) {
  rbacv3::RBAC r;
  EXPECT_TRUE(f.typed_config().UnpackTo(&r));
  return r;
}

TEST(AuthorizationPolicyTest, ScopeOrderAndMapping) {
  auto m = testing::modelFrom(testing::withBase(
      ap("mesh-audit", "istio-system", "  action: AUDIT\n  rules: [{}]\n") + "---\n" +
      ap("deny-admin", "default", "  action: DENY\n  rules:\n  - to: [{operation: {paths: [/admin*]}}]\n") + "---\n" +
      ap("reviews", "default",
         "  selector: {matchLabels: {app: reviews}}\n  rules:\n"
         "  - from: [{source: {principals: [cluster.local/ns/default/sa/productpage], namespaces: [shop]}}]\n"
         "    to: [{operation: {methods: [GET], notPaths: [/secret], ports: [\"9080\"], hosts: [\"*.example.com\"]}}]\n"
         "    when: [{key: source.ip, values: [10.0.0.0/8]}, {key: \"request.headers[x-user]\", notValues: [bob]}]\n") +
      "---\n" + ap("other-ns", "prod", "  rules: [{}]\n") + "---\n" +
      ap("ratings-only", "default", "  selector: {matchLabels: {app: ratings}}\n  rules: [{}]\n")));
  auto filters = authzHttpFilters(*m, testing::proxyIn("default", {{"app", "reviews"}}));
  ASSERT_EQ(filters.size(), 3u);  // AUDIT (shadow), DENY, ALLOW
  auto audit = unpack(filters[0]);
  EXPECT_TRUE(audit.has_shadow_rules());
  EXPECT_FALSE(audit.has_rules());
  EXPECT_EQ(audit.shadow_rules_stat_prefix(), "istio_audit_");
  auto deny = unpack(filters[1]);
  EXPECT_EQ(deny.rules().action(), envoy::config::rbac::v3::RBAC::DENY);
  ASSERT_EQ(deny.rules().policies().count("ns[default]-policy[deny-admin]-rule[0]"), 1u);
  auto allow = unpack(filters[2]);
  EXPECT_EQ(allow.rules().action(), envoy::config::rbac::v3::RBAC::ALLOW);
  ASSERT_EQ(allow.rules().policies_size(), 1);  // not prod's, not ratings'
  const auto& p = allow.rules().policies().at("ns[default]-policy[reviews]-rule[0]");
  std::string text = p.DebugString();
  for (const char* want : {"spiffe://cluster.local/ns/default/sa/productpage", ".*/ns/shop/.*", "\":method\"",
                           "/secret", "destination_port: 9080", "suffix: \".example.com\"", "ignore_case: true",
                           "address_prefix: \"10.0.0.0\"", "\"x-user\"", "not_rule"}) {
    EXPECT_NE(text.find(want), std::string::npos) << want << "\n" << text;
  }
  // A workload no ALLOW policy selects has no ALLOW filter.
  auto ratings_free = authzHttpFilters(*m, testing::proxyIn("default", {{"app", "details"}}));
  EXPECT_EQ(ratings_free.size(), 2u);
  EXPECT_TRUE(authzNetworkFilters(*testing::modelFrom(testing::withBase("")), testing::proxyIn("default")).empty());
}

std::string policyText(const envoy::extensions::filters::network::http_connection_manager::v3::HttpFilter& f,
                       const std::string& name) {
  auto r = unpack(f);
  auto it = r.rules().policies().find(name);
  return it == r.rules().policies().end() ? "" : it->second.DebugString();
}

// Istio's JWT attributes match jwt_authn's payload metadata; service accounts and trust domains
// match the SPIFFE identity.
TEST(AuthorizationPolicyTest, JwtAndIdentityAttributes) {
  auto m = testing::modelFrom(testing::withBase(
      ap("jwt", "default",
         "  rules:\n"
         "  - from: [{source: {requestPrincipals: [\"https://issuer.example.com/alice\", \"*/bob\"]}}]\n"
         "    when: [{key: \"request.auth.claims[groups]\", values: [admins]},\n"
         "           {key: \"request.auth.claims[realm][role]\", values: [\"*\"]},\n"
         "           {key: request.auth.audiences, values: [bookinfo]}]\n"
         "  - from: [{source: {serviceAccounts: [bookinfo-reviews, prod/api], trustDomains: [\"*.example\"]}}]\n")));
  auto filters = authzHttpFilters(*m, testing::proxyIn("default"));
  ASSERT_EQ(filters.size(), 1u);
  std::string jwt = policyText(filters[0], "ns[default]-policy[jwt]-rule[0]");
  for (const char* want :
       {"envoy.filters.http.jwt_authn", "key: \"payload\"", "key: \"iss\"", "exact: \"https://issuer.example.com\"",
        "exact: \"alice\"", "exact: \"bob\"", "regex: \".+\"", "key: \"groups\"", "list_match", "exact: \"admins\"",
        "key: \"realm\"", "key: \"role\"", "key: \"aud\""})
    EXPECT_NE(jwt.find(want), std::string::npos) << want << "\n" << jwt;
  std::string ids = policyText(filters[0], "ns[default]-policy[jwt]-rule[1]");
  for (const char* want : {"spiffe://.+/ns/default/(.+/|)sa/bookinfo-reviews(/.+)?",
                           "spiffe://.+/ns/prod/(.+/|)sa/api(/.+)?", "spiffe://[^/]*\\\\.example/.*"})
    EXPECT_NE(ids.find(want), std::string::npos) << want << "\n" << ids;
}

// On TCP chains an ALLOW rule that needs HTTP is left out, and a DENY rule loses just the HTTP
// fields (so it denies more), as Istio.
TEST(AuthorizationPolicyTest, TcpChainsGetNetworkRbac) {
  auto m = testing::modelFrom(testing::withBase(
      ap("allow", "default",
         "  rules:\n  - to: [{operation: {paths: [/api*]}}]\n  - to: [{operation: {ports: [\"9000\"]}}]\n"
         "  - from: [{source: {requestPrincipals: [\"*\"]}}]\n") +
      "---\n" +
      ap("deny", "default",
         "  action: DENY\n  rules:\n  - from: [{source: {ipBlocks: [10.0.0.0/8]}}]\n"
         "    to: [{operation: {methods: [POST]}}]\n")));
  auto filters = authzNetworkFilters(*m, testing::proxyIn("default"));
  ASSERT_EQ(filters.size(), 2u);
  envoy::extensions::filters::network::rbac::v3::RBAC deny, allow;
  ASSERT_TRUE(filters[0].typed_config().UnpackTo(&deny));
  ASSERT_TRUE(filters[1].typed_config().UnpackTo(&allow));
  EXPECT_EQ(filters[0].name(), "envoy.filters.network.rbac");
  EXPECT_EQ(deny.stat_prefix(), "tcp.");
  EXPECT_EQ(deny.rules().action(), envoy::config::rbac::v3::RBAC::DENY);
  std::string d = deny.rules().policies().at("ns[default]-policy[deny]-rule[0]").DebugString();
  EXPECT_NE(d.find("10.0.0.0"), std::string::npos) << d;
  EXPECT_EQ(d.find(":method"), std::string::npos) << d;  // the method is dropped: every connection from 10/8
  EXPECT_EQ(allow.rules().policies_size(), 1);
  EXPECT_EQ(allow.rules().policies().count("ns[default]-policy[allow]-rule[1]"), 1u);
}

TEST(AuthorizationPolicyTest, DryRunPoliciesAreShadowRules) {
  // Istio's istio.io/dry-run: the policy is counted (shadow rules, istio_dry_run_* stats) and
  // not enforced; an enforced policy of the same action shares the filter.
  const std::string dry =
      "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: dry-deny, "
      "namespace: default, annotations: {istio.io/dry-run: 'true'}}\nspec:\n  action: DENY\n"
      "  rules:\n  - to: [{operation: {methods: [DELETE]}}]\n";
  const std::string dry_allow =
      "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: "
      "dry-allow, namespace: default, annotations: {istio.io/dry-run: 'true'}}\nspec:\n"
      "  rules:\n  - to: [{operation: {methods: [GET]}}]\n";
  auto m = testing::modelFrom(testing::withBase(
      dry + "---\n" + dry_allow + "---\n" +
      ap("deny", "default", "  action: DENY\n  rules:\n  - to: [{operation: {methods: [PATCH]}}]\n")));
  auto filters = authzHttpFilters(*m, testing::proxyIn("default"));
  ASSERT_EQ(filters.size(), 2u);
  auto deny = unpack(filters[0]);
  EXPECT_EQ(deny.rules().policies().count("ns[default]-policy[deny]-rule[0]"), 1u);
  EXPECT_EQ(deny.shadow_rules().action(), envoy::config::rbac::v3::RBAC::DENY);
  EXPECT_EQ(deny.shadow_rules().policies().count("ns[default]-policy[dry-deny]-rule[0]"), 1u);
  EXPECT_EQ(deny.shadow_rules_stat_prefix(), "istio_dry_run_deny_");
  // A dry-run ALLOW alone enforces nothing: no rules, only shadow rules.
  auto allow = unpack(filters[1]);
  EXPECT_FALSE(allow.has_rules());
  EXPECT_EQ(allow.shadow_rules().action(), envoy::config::rbac::v3::RBAC::ALLOW);
  EXPECT_EQ(allow.shadow_rules_stat_prefix(), "istio_dry_run_allow_");
}

TEST(AuthorizationPolicyTest, AnEmptyPolicyAllowsNothing) {
  auto m = testing::modelFrom(testing::withBase(ap("nothing", "default", "")));
  auto filters = authzHttpFilters(*m, testing::proxyIn("default"));
  ASSERT_EQ(filters.size(), 1u);
  auto allow = unpack(filters[0]);
  EXPECT_EQ(allow.rules().action(), envoy::config::rbac::v3::RBAC::ALLOW);
  EXPECT_EQ(allow.rules().policies_size(), 0);  // weft-proxy (and Envoy) deny every request
}

}  // namespace
}  // namespace weft::control::xds
