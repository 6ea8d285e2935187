// weft-cni's installer: its entry at the end of the node's primary CNI chain, replaced in place
// when run again, a single-plugin .conf turned into a .conflist, and taken out again.
#include "capture/cni_install.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace weft::capture {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class CniInstallTest : public ::testing::Test {
 protected:
  CniInstallTest() {
    dir = fs::temp_directory_path() / ("weft_cni_install_" + std::to_string(getpid()) + "_" +
                                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  ~CniInstallTest() override { fs::remove_all(dir); }
  void write(const std::string& name, const json& j) { std::ofstream(dir / name) << j.dump(); }
  json read(const std::string& name) {
    std::ifstream in(dir / name);
    std::stringstream ss;
    ss << in.rdbuf();
    return json::parse(ss.str());
  }
  fs::path dir;
  json plugin = {{"type", "weft-cni"}, {"kubernetes", {{"kubeconfig", "/etc/cni/net.d/weft-cni-kubeconfig"}}}};
};

TEST_F(CniInstallTest, AppendsToThePrimaryChainOnce) {
  json flannel = {
      {"cniVersion", "0.3.1"},
      {"name", "cbr0"},
      {"plugins", {{{"type", "flannel"}}, {{"type", "portmap"}, {"capabilities", {{"portMappings", true}}}}}}};
  write("10-flannel.conflist", flannel);
  write("99-other.conflist", flannel);
  auto r = addToChain(dir.string(), plugin);
  ASSERT_EQ(r.error, "");
  EXPECT_TRUE(r.changed);
  EXPECT_EQ(r.file, (dir / "10-flannel.conflist").string());
  json got = read("10-flannel.conflist");
  ASSERT_EQ(got["plugins"].size(), 3u);
  EXPECT_EQ(got["plugins"][2], plugin);
  EXPECT_EQ(read("99-other.conflist"), flannel);  // only the primary one
  // Again: nothing to do. A changed entry is replaced where it is.
  EXPECT_FALSE(addToChain(dir.string(), plugin).changed);
  json other = plugin;
  other["exclude_namespaces"] = {"kube-system"};
  EXPECT_TRUE(addToChain(dir.string(), other).changed);
  EXPECT_EQ(read("10-flannel.conflist")["plugins"].size(), 3u);
  EXPECT_EQ(read("10-flannel.conflist")["plugins"][2], other);
  // Out again, the rest untouched.
  r = removeFromChain(dir.string());
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(read("10-flannel.conflist"), flannel);
}

TEST_F(CniInstallTest, ASinglePluginConfBecomesAConflist) {
  json bridge = {{"cniVersion", "1.0.0"}, {"name", "k8s"}, {"type", "bridge"}, {"bridge", "cni0"}};
  write("10-bridge.conf", bridge);
  auto r = addToChain(dir.string(), plugin);
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(r.file, (dir / "10-bridge.conflist").string());
  EXPECT_FALSE(fs::exists(dir / "10-bridge.conf"));
  json got = read("10-bridge.conflist");
  EXPECT_EQ(got["name"], "k8s");
  EXPECT_EQ(got["cniVersion"], "1.0.0");
  EXPECT_EQ(got["plugins"], json::array({bridge, plugin}));
}

TEST_F(CniInstallTest, ErrorsNameTheFileOrDirectory) {
  EXPECT_NE(addToChain(dir.string(), plugin).error.find("no CNI network config"), std::string::npos);
  std::ofstream(dir / "10-x.conflist") << "{not json";
  EXPECT_EQ(addToChain(dir.string(), plugin).error, (dir / "10-x.conflist").string() + " is not a JSON object");
  EXPECT_NE(addToChain((dir / "missing").string(), plugin).error.find("cannot read the CNI config directory"),
            std::string::npos);
}

TEST_F(CniInstallTest, KubeconfigFromTheServiceAccount) {
  std::ofstream(dir / "token") << "tok\n";
  std::ofstream(dir / "ca.crt") << "PEM";
  setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
  setenv("KUBERNETES_SERVICE_PORT", "443", 1);
  std::string error;
  json cfg = json::parse(inClusterKubeconfig(dir.string(), error));
  EXPECT_EQ(error, "");
  EXPECT_EQ(cfg["clusters"][0]["cluster"]["server"], "https://10.96.0.1:443");
  EXPECT_EQ(cfg["clusters"][0]["cluster"]["certificate-authority-data"], "UEVN");
  EXPECT_EQ(cfg["users"][0]["user"]["token"], "tok");
  unsetenv("KUBERNETES_SERVICE_HOST");
  EXPECT_EQ(inClusterKubeconfig(dir.string(), error), "");
  EXPECT_NE(error.find("not in a Kubernetes pod"), std::string::npos);
  unsetenv("KUBERNETES_SERVICE_PORT");
}

}  // namespace
}  // namespace weft::capture
