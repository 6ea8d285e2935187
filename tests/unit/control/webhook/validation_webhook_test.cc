// /validate: AdmissionReviews shaped as kube-apiserver sends them (v1 and v1beta1), Istio's
// verdict back with the request's uid, every error's field path in the message, Istio's
// warnings, weftd's own limits as warnings, unknown kinds and deletions allowed, and a clear
// 400 for a body that is not an AdmissionReview.
#include "control/webhook/validation_webhook.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace weft::control::webhook {
namespace {

using ::testing::HasSubstr;

// As kube-apiserver writes an AdmissionReview for a create (admission.k8s.io/v1).
nlohmann::json review(const nlohmann::json& object, const std::string& operation = "CREATE",
                      const std::string& api = "admission.k8s.io/v1") {
  std::string kind = object.value("kind", ""), av = object.value("apiVersion", "");
  std::string group = av.substr(0, av.find('/')), version = av.substr(av.find('/') + 1);
  return {{"apiVersion", api},
          {"kind", "AdmissionReview"},
          {"request",
           {{"uid", "705ab4f5-6393-11e8-b7cc-42010a800002"},
            {"kind", {{"group", group}, {"version", version}, {"kind", kind}}},
            {"resource", {{"group", group}, {"version", version}, {"resource", "serviceentries"}}},
            {"requestKind", {{"group", group}, {"version", version}, {"kind", kind}}},
            {"name", object["metadata"].value("name", "")},
            {"namespace", "default"},
            {"operation", operation},
            {"userInfo", {{"username", "admin"}, {"uid", "014fbff9a07c"}, {"groups", {"system:authenticated"}}}},
            {"object", operation == "DELETE" ? nlohmann::json() : object},
            {"oldObject", operation == "DELETE" ? object : nlohmann::json()},
            {"dryRun", false},
            {"options", {{"apiVersion", "meta.k8s.io/v1"}, {"kind", "CreateOptions"}}}}}};
}

nlohmann::json serviceEntry(const nlohmann::json& spec) {
  return {{"apiVersion", "networking.istio.io/v1"},
          {"kind", "ServiceEntry"},
          {"metadata",
           {{"name", "external"},
            {"creationTimestamp", nullptr},
            {"managedFields", nlohmann::json::array({{{"manager", "kubectl"}, {"operation", "Update"}}})}}},
          {"spec", spec}};
}

nlohmann::json answer(const nlohmann::json& req) {
  WebhookReply r = validateAdmissionReview(req.dump());
  EXPECT_EQ(r.status, 200) << r.body;
  auto out = nlohmann::json::parse(r.body);
  EXPECT_EQ(out["apiVersion"], req["apiVersion"]);
  EXPECT_EQ(out["kind"], "AdmissionReview");
  EXPECT_EQ(out["response"]["uid"], "705ab4f5-6393-11e8-b7cc-42010a800002");
  return out["response"];
}

TEST(ValidationWebhookTest, ValidIsAllowed) {
  auto resp = answer(review(serviceEntry({{"hosts", {"api.example.com"}},
                                          {"ports", {{{"number", 443}, {"name", "https"}, {"protocol", "TLS"}}}},
                                          {"resolution", "DNS"},
                                          {"subjectAltNames", {"spiffe://example.com/api"}}})));
  EXPECT_EQ(resp["allowed"], true);
  EXPECT_FALSE(resp.contains("status"));
  EXPECT_FALSE(resp.contains("warnings"));
}

TEST(ValidationWebhookTest, InvalidIsDeniedWithEveryPath) {
  auto resp = answer(review(serviceEntry({{"hosts", {"*", "ok.example.com"}},
                                          {"ports", {{{"number", 99999}, {"name", "bad_name"}, {"protocol", "HTTP"}}}},
                                          {"resolution", "DNS"}})));
  EXPECT_EQ(resp["allowed"], false);
  EXPECT_EQ(resp["status"]["code"], 400);
  std::string m = resp["status"]["message"];
  EXPECT_THAT(m, HasSubstr("configuration is invalid: spec.hosts[0]: invalid host *"));
  EXPECT_THAT(m, HasSubstr("spec.ports[0].name: invalid port name: bad_name"));
  EXPECT_THAT(m, HasSubstr("spec.ports[0].number: port number 99999 must be in the range 1..65535"));
}

TEST(ValidationWebhookTest, WarningsAndWeftdLimits) {
  auto resp = answer(review(serviceEntry({{"hosts", {"*x"}}})));  // Istio's partial-wildcard fixture
  EXPECT_EQ(resp["allowed"], true);
  EXPECT_EQ(resp["warnings"], nlohmann::json::array({"spec.hosts[0]: partial wildcard \"*x\" not allowed"}));
  resp = answer(review(serviceEntry({{"hosts", {"*.example.com"}},
                                     {"ports", {{{"number", 80}, {"name", "http"}, {"protocol", "HTTP"}}}},
                                     {"resolution", "DYNAMIC_DNS"}})));
  EXPECT_EQ(resp["allowed"], true);  // valid for Istio; weftd says it cannot serve it
  EXPECT_THAT(resp["warnings"][0].get<std::string>(), HasSubstr("DYNAMIC_DNS is not supported by weftd"));
}

TEST(ValidationWebhookTest, OtherKindsVersionsAndOperations) {
  nlohmann::json vs = nlohmann::json::parse(R"({"apiVersion": "networking.istio.io/v1beta1", "kind": "VirtualService",
    "metadata": {"name": "reviews"},
    "spec": {"hosts": ["reviews"], "http": [{"route": [{"destination": {"host": "reviews"}, "weight": -1}]}]}})");
  auto resp = answer(review(vs, "UPDATE", "admission.k8s.io/v1beta1"));
  EXPECT_EQ(resp["allowed"], false);
  EXPECT_THAT(resp["status"]["message"].get<std::string>(), HasSubstr("spec.http[0].route[0].weight"));
  EXPECT_EQ(answer(review(vs, "DELETE"))["allowed"], true);
  nlohmann::json wasm = {{"apiVersion", "extensions.istio.io/v1alpha1"},
                         {"kind", "WasmPlugin"},
                         {"metadata", {{"name", "w"}}},
                         {"spec", {{"url", "oci://x"}}}};
  EXPECT_EQ(answer(review(wasm))["allowed"], true);  // not a kind weftd validates
}

TEST(ValidationWebhookTest, NotAnAdmissionReview) {
  EXPECT_EQ(validateAdmissionReview("{").status, 400);
  WebhookReply r = validateAdmissionReview(R"({"apiVersion": "v1", "kind": "Pod"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, "bad AdmissionReview: apiVersion 'v1' is not admission.k8s.io/v1 or v1beta1\n");
  r = validateAdmissionReview(R"({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {}})");
  EXPECT_EQ(r.body, "bad AdmissionReview: request.uid: is required\n");
}

}  // namespace
}  // namespace weft::control::webhook
