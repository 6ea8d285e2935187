// ApiServer: where the API server is and how weft authenticates, from a kubeconfig or from a
// pod's service account, with errors that name the file and the entry.
#include "common/kube/api_server.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "common/base64.h"

namespace weft::kube {
namespace {

class ApiServerTest : public ::testing::Test {
 protected:
  ApiServerTest() {
    dir = std::filesystem::temp_directory_path() / ("weft_kubeconfig_" + std::to_string(getpid()) + "_" +
                                                    ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir);
  }
  ~ApiServerTest() override { std::filesystem::remove_all(dir); }
  std::string write(const std::string& name, const std::string& text) {
    std::ofstream(dir / name) << text;
    return (dir / name).string();
  }
  std::filesystem::path dir;
};

constexpr const char* kTwoContexts = R"(apiVersion: v1
kind: Config
current-context: prod
clusters:
- name: prod-cluster
  cluster: {server: "https://10.0.0.1:6443", certificate-authority: ca.pem}
- name: dev-cluster
  cluster: {server: "http://[::1]", insecure-skip-tls-verify: true}
users:
- name: admin
  user: {tokenFile: token}
- name: dev
  user: {token: abc}
contexts:
- name: prod
  context: {cluster: prod-cluster, user: admin}
- name: dev
  context: {cluster: dev-cluster, user: dev}
)";

TEST_F(ApiServerTest, CurrentContextWithFilesRelativeToTheKubeconfig) {
  write("ca.pem", "CA PEM");
  write("token", "tok-1\n");
  auto s = kubeconfigApiServer(write("config", kTwoContexts));
  EXPECT_TRUE(s.tls);
  EXPECT_EQ(s.host, "10.0.0.1");
  EXPECT_EQ(s.port, "6443");
  EXPECT_EQ(s.ca_pem, "CA PEM");
  EXPECT_EQ(s.bearerToken(), "tok-1");
  // A rotated token is read again.
  write("token", "tok-2\n");
  EXPECT_EQ(s.bearerToken(), "tok-2");
  EXPECT_EQ(s.url(), "https://10.0.0.1:6443");
}

TEST_F(ApiServerTest, NamedContextPlainHttpOnIpv6) {
  auto s = kubeconfigApiServer(write("config", kTwoContexts), "dev");
  EXPECT_FALSE(s.tls);
  EXPECT_EQ(s.host, "::1");
  EXPECT_EQ(s.port, "80");
  EXPECT_TRUE(s.insecure_skip_verify);
  EXPECT_EQ(s.bearerToken(), "abc");
  EXPECT_EQ(s.url(), "http://[::1]:80");
}

TEST_F(ApiServerTest, InlineCertificateData) {
  std::string text = std::string("current-context: c\nclusters:\n- name: k\n  cluster:\n    server: https://k:443\n") +
                     "    certificate-authority-data: " + base64Encode("ROOT") +
                     "\nusers:\n- name: u\n  user:\n    client-certificate-data: " + base64Encode("CERT") +
                     "\n    client-key-data: " + base64Encode("KEY") +
                     "\ncontexts:\n- name: c\n  context: {cluster: k, user: u}\n";
  auto s = kubeconfigApiServer(write("config", text));
  EXPECT_EQ(s.ca_pem, "ROOT");
  EXPECT_EQ(s.client_cert_pem, "CERT");
  EXPECT_EQ(s.client_key_pem, "KEY");
}

TEST_F(ApiServerTest, ErrorsNameTheFileAndTheEntry) {
  auto config = write("config", kTwoContexts);
  try {
    kubeconfigApiServer(config, "staging");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), config + ": no entry named 'staging' in contexts");
  }
  // ca.pem is not there.
  EXPECT_THROW(kubeconfigApiServer(config), ConfigError);
  auto exec = write("exec", R"(current-context: c
clusters: [{name: k, cluster: {server: "https://k"}}]
users: [{name: u, user: {exec: {command: gke-gcloud-auth-plugin}}}]
contexts: [{name: c, context: {cluster: k, user: u}}]
)");
  try {
    kubeconfigApiServer(exec);
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("exec and auth-provider credential plugins are not supported"),
              std::string::npos);
  }
  auto half = write("half", R"(current-context: c
clusters: [{name: k, cluster: {server: "https://k"}}]
users: [{name: u, user: {client-certificate-data: Q0VSVA==}}]
contexts: [{name: c, context: {cluster: k, user: u}}]
)");
  EXPECT_THROW(kubeconfigApiServer(half), ConfigError);
  EXPECT_THROW(kubeconfigApiServer(write("ftp", R"(current-context: c
clusters: [{name: k, cluster: {server: "ftp://k"}}]
contexts: [{name: c, context: {cluster: k}}]
)")),
               ConfigError);
  EXPECT_THROW(kubeconfigApiServer((dir / "missing").string()), ConfigError);
}

TEST_F(ApiServerTest, InClusterFromTheServiceAccount) {
  write("token", "sa-token\n");
  write("ca.crt", "CLUSTER CA");
  setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
  setenv("KUBERNETES_SERVICE_PORT", "443", 1);
  auto s = inClusterApiServer(dir.string());
  EXPECT_EQ(s.url(), "https://10.96.0.1:443");
  EXPECT_EQ(s.ca_pem, "CLUSTER CA");
  EXPECT_EQ(s.bearerToken(), "sa-token");
  std::filesystem::remove(dir / "token");
  EXPECT_THROW(inClusterApiServer(dir.string()), ConfigError);
  unsetenv("KUBERNETES_SERVICE_HOST");
  EXPECT_THROW(inClusterApiServer(dir.string()), ConfigError);
  unsetenv("KUBERNETES_SERVICE_PORT");
}

}  // namespace
}  // namespace weft::kube
