// RBAC policies compiled from Envoy's proto and evaluated on requests: and/or/not, headers,
// paths, ports, IPs; ALLOW, DENY and an empty ALLOW; refused features.
#include "proxy/filters/common/rbac/rbac_matcher.h"

#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/config/error.h"

namespace weft::proxy::rbac {
namespace {

envoy::config::rbac::v3::RBAC parse(const std::string& json) {
  envoy::config::rbac::v3::RBAC r;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, &r).ok()) << json;
  return r;
}

struct Req {
  RequestHead head;
  net::Address remote = *net::Address::parse("10.1.2.3", 40000);
  net::Address local = *net::Address::parse("10.0.0.9", 9080);
  Req(std::string_view method, std::string_view path) {
    head.method = method;
    head.path = path;
    head.target = path;
  }
  RbacRequest view() const { return RbacRequest(&head, "http", &remote, &local, nullptr, ""); }
};

TEST(RbacMatcherTest, AllowPolicies) {
  auto p = Policies::compile(parse(R"({"action": "ALLOW", "policies": {
    "get-api": {"permissions": [{"andRules": {"rules": [
                   {"header": {"name": ":method", "stringMatch": {"exact": "GET"}}},
                   {"urlPath": {"path": {"prefix": "/api/"}}},
                   {"notRule": {"destinationPort": 9443}}]}}],
                "principals": [{"directRemoteIp": {"addressPrefix": "10.1.0.0", "prefixLen": 16}}]}}})"),
                             "rules");
  std::string matched;
  EXPECT_TRUE(p->allowed(Req("GET", "/api/x").view(), &matched));
  EXPECT_EQ(matched, "get-api");
  EXPECT_FALSE(p->allowed(Req("POST", "/api/x").view(), &matched));
  EXPECT_EQ(matched, "");
  EXPECT_FALSE(p->allowed(Req("GET", "/other").view(), nullptr));
  Req far("GET", "/api/x");
  far.remote = *net::Address::parse("192.168.0.1", 1);
  EXPECT_FALSE(p->allowed(far.view(), nullptr));
  Req tls_port("GET", "/api/x");
  tls_port.local.setPort(9443);
  EXPECT_FALSE(p->allowed(tls_port.view(), nullptr));
  // No peer certificate: an authenticated principal never matches.
  auto authn = Policies::compile(parse(R"({"action": "ALLOW", "policies": {"a": {"permissions": [{"any": true}],
               "principals": [{"authenticated": {}}]}}})"),
                                 "rules");
  EXPECT_FALSE(authn->allowed(Req("GET", "/").view(), nullptr));
}

TEST(RbacMatcherTest, DenyAndEmptyAllow) {
  auto deny = Policies::compile(parse(R"({"action": "DENY", "policies": {"b": {"permissions": [{"orRules": {"rules": [
               {"urlPath": {"path": {"exact": "/admin"}}}, {"urlPath": {"path": {"suffix": ".php"}}}]}}],
               "principals": [{"any": true}]}}})"),
                                "rules");
  EXPECT_FALSE(deny->allowed(Req("GET", "/admin").view(), nullptr));
  EXPECT_FALSE(deny->allowed(Req("GET", "/x.php").view(), nullptr));
  EXPECT_TRUE(deny->allowed(Req("GET", "/ok").view(), nullptr));
  auto nothing = Policies::compile(parse(R"({"action": "ALLOW"})"), "rules");
  EXPECT_FALSE(nothing->allowed(Req("GET", "/").view(), nullptr));
}

// Istio's requestPrincipals and request.auth.claims: jwt_authn's payload in dynamic metadata,
// a claim matching as a value or as one element of a list.
TEST(RbacMatcherTest, JwtPayloadMetadata) {
  auto p = Policies::compile(parse(R"({"action": "ALLOW", "policies": {"jwt": {"permissions": [{"any": true}],
    "principals": [{"andIds": {"ids": [
      {"metadata": {"filter": "envoy.filters.http.jwt_authn", "path": [{"key": "payload"}, {"key": "iss"}],
                    "value": {"stringMatch": {"exact": "https://issuer"}}}},
      {"metadata": {"filter": "envoy.filters.http.jwt_authn", "path": [{"key": "payload"}, {"key": "scope"}],
                    "value": {"orMatch": {"valueMatchers": [
                       {"listMatch": {"oneOf": {"stringMatch": {"exact": "admin"}}}},
                       {"stringMatch": {"exact": "admin"}}]}}}}]}}]}}})"),
                             "rules");
  Req r("GET", "/");
  EXPECT_FALSE(p->allowed(r.view(), nullptr));  // no metadata at all
  DynamicMetadata md;
  md.set("envoy.filters.http.jwt_authn", "payload",
         nlohmann::json{{"iss", "https://issuer"}, {"scope", nlohmann::json::array({"read", "admin"})}});
  RbacRequest with_md(&r.head, "http", &r.remote, &r.local, nullptr, "", &md);
  EXPECT_TRUE(p->allowed(with_md, nullptr));
  md.set("envoy.filters.http.jwt_authn", "payload", nlohmann::json{{"iss", "https://issuer"}, {"scope", "admin"}});
  EXPECT_TRUE(p->allowed(with_md, nullptr));
  md.set("envoy.filters.http.jwt_authn", "payload", nlohmann::json{{"iss", "https://other"}, {"scope", "admin"}});
  EXPECT_FALSE(p->allowed(with_md, nullptr));
  md.set("envoy.filters.http.jwt_authn", "payload", nlohmann::json{{"iss", "https://issuer"}, {"scope", "read"}});
  EXPECT_FALSE(p->allowed(with_md, nullptr));
  // A network connection has no request: metadata never matches there.
  RbacRequest tcp(nullptr, "", &r.remote, &r.local, nullptr, "");
  EXPECT_FALSE(p->allowed(tcp, nullptr));
}

TEST(RbacMatcherTest, ErrorsNameTheField) {
  auto error = [](const std::string& json) {
    try {
      Policies::compile(parse(json), "rules");
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_EQ(error(R"({"policies": {"p": {"permissions": [{"any": true}]}}})"),
            "rules.policies['p'].principals: at least one is required");
  EXPECT_EQ(
      error(R"({"policies": {"p": {"permissions": [{"destinationPort": 70000}], "principals": [{"any": true}]}}})"),
      "rules.policies['p'].permissions[0].destination_port: must be 1-65535");
  EXPECT_EQ(error(R"({"policies": {"p": {"permissions": [{"any": true}],
                     "principals": [{"directRemoteIp": {"addressPrefix": "nope", "prefixLen": 8}}]}}})"),
            "rules.policies['p'].principals[0].direct_remote_ip: 'nope' is not an IP prefix");
  EXPECT_EQ(error(R"({"policies": {"p": {"permissions": [{"any": true}],
                     "principals": [{"metadata": {"filter": "f", "path": [{"key": "a"}]}}]}}})"),
            "rules.policies['p'].principals[0].metadata.value: required");
}

}  // namespace
}  // namespace weft::proxy::rbac
