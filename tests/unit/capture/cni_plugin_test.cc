#include "capture/cni_plugin.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace weft::capture {
namespace {

using ::testing::HasSubstr;

struct Recorder {
  int applied = 0, removed = 0;
  std::string netns;
  CaptureConfig last;
  CniActions actions() {
    return {[this](const CaptureConfig* c, const std::string& ns) -> std::optional<std::string> {
              netns = ns;
              if (c) {
                ++applied;
                last = *c;
              } else {
                ++removed;
              }
              return std::nullopt;
            },
            [](const CaptureConfig&, const std::string&) -> std::optional<std::string> { return std::nullopt; },
            nullptr};
  }
};

CniCall call(const std::string& command, nlohmann::json conf) {
  return {{{"CNI_COMMAND", command},
           {"CNI_CONTAINERID", "c1"},
           {"CNI_NETNS", "/run/netns/p"},
           {"CNI_IFNAME", "eth0"},
           {"CNI_ARGS", "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=p"}},
          conf.dump()};
}

nlohmann::json conf(nlohmann::json annotations) {
  return {{"cniVersion", "1.0.0"},
          {"name", "n"},
          {"type", "weft-cni"},
          {"prevResult", {{"cniVersion", "1.0.0"}, {"ips", nlohmann::json::array({{{"address", "10.88.0.2/16"}}})}}},
          {"args", {{"cni", {{"annotations", annotations}}}}}};
}

TEST(CniPluginTest, AddAppliesIstioDefaultsAndPassesPrevResultThrough) {
  Recorder r;
  auto out = runCni(call("ADD", conf({{"sidecar.istio.io/status", "{}"}})), r.actions());
  EXPECT_EQ(out.exit_code, 0) << out.stdout_json;
  EXPECT_EQ(r.applied, 1);
  EXPECT_EQ(r.netns, "/run/netns/p");
  EXPECT_THAT(r.last.exclude_inbound_ports, ::testing::ElementsAre("15020", "15021", "15090"));
  EXPECT_THAT(r.last.exclude_outbound_ports, ::testing::ElementsAre("15020"));
  EXPECT_EQ(nlohmann::json::parse(out.stdout_json)["ips"][0]["address"], "10.88.0.2/16");
}

// Every field of the network configuration in every wrong type: an error naming it (code 7),
// never an exception.
TEST(CniPluginTest, AFieldOfTheWrongTypeIsCode7NamingIt) {
  nlohmann::json base = conf({{"sidecar.istio.io/status", "{}"}});
  base["exclude_namespaces"] = {"kube-system"};
  base["kubernetes"] = {{"kubeconfig", "/k"}};
  size_t tried = 0;
  for (const auto& ptr : {"/cniVersion", "/name", "/type", "/prevResult", "/exclude_namespaces",
                          "/exclude_namespaces/0", "/kubernetes", "/kubernetes/kubeconfig", "/args", "/args/cni",
                          "/args/cni/annotations", "/args/cni/annotations/sidecar.istio.io~1status"}) {
    const nlohmann::json::json_pointer at(ptr);
    for (const nlohmann::json& shape : {nlohmann::json(7), nlohmann::json(true), nlohmann::json::array({1}),
                                        nlohmann::json{{"a", 1}}, nlohmann::json("x")}) {
      if (base.at(at).type() == shape.type()) continue;
      nlohmann::json bad = base;
      bad.at(at) = shape;
      Recorder r;
      CniOutcome out;
      ++tried;
      ASSERT_NO_THROW(out = runCni(call("ADD", bad), r.actions())) << ptr << " = " << shape.dump();
      EXPECT_EQ(out.exit_code, 1) << ptr << " = " << shape.dump();
      auto e = nlohmann::json::parse(out.stdout_json);
      EXPECT_EQ(e["code"], 7) << out.stdout_json;
      EXPECT_THAT(e["details"].get<std::string>(), HasSubstr(std::string(ptr).substr(1, 4))) << out.stdout_json;
      EXPECT_EQ(r.applied, 0);
    }
  }
  EXPECT_GT(tried, 40u);
}

TEST(CniPluginTest, NotInjectedPodsAreSkipped) {
  Recorder r;
  auto out = runCni(call("ADD", conf(nlohmann::json::object())), r.actions());
  EXPECT_EQ(out.exit_code, 0);
  EXPECT_EQ(r.applied, 0);
  EXPECT_THAT(out.log, HasSubstr("skipped"));
}

TEST(CniPluginTest, BadAnnotationIsCode2NamingIt) {
  Recorder r;
  auto out = runCni(call("ADD", conf({{"sidecar.istio.io/status", "{}"},
                                      {"traffic.sidecar.istio.io/includeInboundPorts", "80,http"}})),
                    r.actions());
  EXPECT_NE(out.exit_code, 0);
  auto e = nlohmann::json::parse(out.stdout_json);
  EXPECT_EQ(e["code"], 2);
  EXPECT_THAT(e["details"].get<std::string>(), HasSubstr("'http'"));
  EXPECT_EQ(r.applied, 0);
}

TEST(CniPluginTest, DelRemovesAndIsQuiet) {
  Recorder r;
  auto out = runCni(call("DEL", conf({{"sidecar.istio.io/status", "{}"}})), r.actions());
  EXPECT_EQ(out.exit_code, 0);
  EXPECT_EQ(out.stdout_json, "");
  EXPECT_EQ(r.removed, 1);
}

}  // namespace
}  // namespace weft::capture

namespace weft::capture {
namespace {

nlohmann::json kubeConf() {
  nlohmann::json c = conf(nlohmann::json::object());
  c.erase("args");
  c["kubernetes"] = {{"kubeconfig", "/etc/cni/net.d/weft-cni-kubeconfig"}};
  return c;
}

TEST(CniPluginKubernetesTest, AnnotationsComeFromTheApiServer) {
  Recorder r;
  CniActions a = r.actions();
  std::string asked;
  a.pod_annotations = [&](const std::string& kubeconfig, const std::string& ns, const std::string& pod,
                          std::map<std::string, std::string>& out) -> std::optional<std::string> {
    asked = kubeconfig + " " + ns + "/" + pod;
    out["sidecar.istio.io/status"] = "{}";
    out["traffic.sidecar.istio.io/excludeOutboundPorts"] = "5432";
    return std::nullopt;
  };
  auto out = runCni(call("ADD", kubeConf()), a);
  EXPECT_EQ(out.exit_code, 0) << out.stdout_json;
  EXPECT_EQ(asked, "/etc/cni/net.d/weft-cni-kubeconfig default/p");
  EXPECT_EQ(r.applied, 1);
  EXPECT_THAT(r.last.exclude_outbound_ports, ::testing::ElementsAre("5432"));
}

TEST(CniPluginKubernetesTest, AnApiErrorFailsTheAddWithTheReason) {
  Recorder r;
  CniActions a = r.actions();
  a.pod_annotations = [](const std::string&, const std::string&, const std::string&,
                         std::map<std::string, std::string>&) -> std::optional<std::string> {
    return std::string("GET /api/v1/namespaces/default/pods/p: HTTP 403");
  };
  auto out = runCni(call("ADD", kubeConf()), a);
  EXPECT_EQ(out.exit_code, 1);
  auto err = nlohmann::json::parse(out.stdout_json);
  EXPECT_EQ(err["code"], 5);
  EXPECT_EQ(err["msg"], "cannot read the pod from the Kubernetes API");
  EXPECT_THAT(err["details"].get<std::string>(), HasSubstr("HTTP 403"));
  EXPECT_EQ(r.applied, 0);
  // DEL does not ask: the pod may be gone already; the rules are removed anyway.
  auto del = runCni(call("DEL", kubeConf()), a);
  EXPECT_EQ(del.exit_code, 0);
  EXPECT_EQ(r.removed, 1);
}

}  // namespace
}  // namespace weft::capture
