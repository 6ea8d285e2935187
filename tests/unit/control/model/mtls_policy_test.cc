// PeerAuthentication: decoding and validation as Istio's, and the effective mode per workload
// and port as Istio composes mesh, namespace and workload policies.
#include "control/model/mtls_policy.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "control/control_test_support.h"

namespace weft::control {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using testing::snapshotFrom;

std::string pa(const std::string& name, const std::string& ns, const std::string& spec) {
  return "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: " + name + ", namespace: " + ns +
         "}\n" + (spec.empty() ? "" : "spec:\n" + spec);
}

std::vector<PeerAuthentication> policies(const std::string& yaml) {
  ConfigSnapshot snap = snapshotFrom(yaml);
  EXPECT_THAT(snap.rejected, IsEmpty()) << testing::rejectedText(snap);
  return snap.peer_authentications;
}

TEST(PeerAuthenticationTest, ValidatedAsIstio) {
  auto errors = [](const std::string& yaml) {
    ConfigSnapshot snap = snapshotFrom(yaml);
    return snap.rejected.empty() ? std::vector<std::string>{} : snap.rejected[0].errors;
  };
  EXPECT_THAT(errors(pa("a", "default", "  mtls: {mode: SOMETIMES}\n")),
              ElementsAre("spec.mtls.mode: 'SOMETIMES' is not one of UNSET, DISABLE, PERMISSIVE, STRICT"));
  EXPECT_THAT(errors(pa("a", "default", "  portLevelMtls: {8080: {mode: DISABLE}}\n")),
              ElementsAre("spec.portLevelMtls: mesh/namespace peer authentication cannot have port level mTLS"));
  EXPECT_THAT(errors(pa("a", "default",
                        "  selector: {matchLabels: {app: a}}\n  portLevelMtls: {0: {mode: DISABLE}, 70000: {}}\n")),
              ElementsAre("spec.portLevelMtls[0]: port must be in range 1..65535",
                          "spec.portLevelMtls[70000]: port must be in range 1..65535"));
  EXPECT_THAT(errors(pa("a", "default", "  mtls: {mode: STRICT}\n  rules: []\n")),
              ElementsAre("spec.rules: not supported by weftd"));
  EXPECT_THAT(errors(pa("a", "default", "")), IsEmpty());  // an empty spec is valid
}

TEST(PeerAuthenticationTest, MeshNamespaceWorkloadAndPort) {
  auto all = policies(pa("mesh", "istio-system", "  mtls: {mode: STRICT}\n") + "---\n" +
                      pa("ns", "shop", "  mtls: {mode: PERMISSIVE}\n") + "---\n" +
                      pa("cart", "shop",
                         "  selector: {matchLabels: {app: cart}}\n  mtls: {mode: UNSET}\n"
                         "  portLevelMtls: {8080: {mode: DISABLE}, 9090: {mode: UNSET}}\n"));
  // The mesh-wide policy everywhere without a namespace policy.
  EXPECT_EQ(effectiveMtls(all, "istio-system", "default", {}).mode, MtlsMode::Strict);
  // The namespace's overrides the mesh's.
  EXPECT_EQ(effectiveMtls(all, "istio-system", "shop", {{"app", "web"}}).mode, MtlsMode::Permissive);
  // The workload's UNSET inherits; its ports override (UNSET ports inherit too).
  auto cart = effectiveMtls(all, "istio-system", "shop", {{"app", "cart"}});
  EXPECT_EQ(cart.mode, MtlsMode::Permissive);
  EXPECT_EQ(cart.forPort(8080), MtlsMode::Disable);
  EXPECT_EQ(cart.forPort(9090), MtlsMode::Permissive);
  EXPECT_EQ(cart.forPort(80), MtlsMode::Permissive);
  // Nothing at all: PERMISSIVE.
  EXPECT_EQ(effectiveMtls({}, "istio-system", "shop", {}).mode, MtlsMode::Permissive);
}

}  // namespace
}  // namespace weft::control
