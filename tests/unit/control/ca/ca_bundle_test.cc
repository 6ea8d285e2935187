#include "control/ca/ca_bundle.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "ca_test_support.h"
#include "control/ca/csr_signer.h"

namespace weft::control::ca {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::string slurp(const fs::path& p) {
  std::ifstream f(p);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

void put(const fs::path& p, const std::string& data) { std::ofstream(p) << data; }

TEST(CaBundleTest, SelfSignedRootIsMadeOnceAndKeptAcrossRestarts) {
  testing::TempDir dir;
  auto first = loadOrCreateSelfSigned(dir.path() / "ca", "cluster.local");
  EXPECT_TRUE(first->self_signed);
  EXPECT_EQ(first->root_cert_pem, first->signing_cert_pem);
  struct stat st {};
  ASSERT_EQ(::stat((dir.path() / "ca" / "ca-key.pem").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // Subject O=<trust domain>, a CA, about 10 years.
  char name[256];
  X509_NAME_oneline(X509_get_subject_name(first->signing_cert.get()), name, sizeof(name));
  EXPECT_EQ(std::string(name), "/O=cluster.local");
  EXPECT_EQ(X509_check_ca(first->signing_cert.get()), 1);
  EXPECT_GT(first->not_after, std::chrono::system_clock::now() + std::chrono::hours(24 * 3649));
  // A restart loads the same root: it is never made again.
  auto second = loadOrCreateSelfSigned(dir.path() / "ca", "other.domain");
  EXPECT_EQ(second->root_cert_pem, first->root_cert_pem);
  EXPECT_EQ(slurp(dir.path() / "ca" / "root-cert.pem"), first->root_cert_pem);
}

TEST(CaBundleTest, PluggedCaIsCheckedFileByFile) {
  testing::TempDir dir;
  auto root = loadOrCreateSelfSigned(dir.path() / "root", "cluster.local");
  fs::path plug = dir.path() / "cacerts";
  fs::create_directories(plug);
  put(plug / "ca-cert.pem", root->signing_cert_pem);
  put(plug / "ca-key.pem", slurp(dir.path() / "root" / "ca-key.pem"));
  put(plug / "root-cert.pem", root->root_cert_pem);
  put(plug / "cert-chain.pem", root->signing_cert_pem);
  auto ok = loadPluggedCa(plug);
  EXPECT_FALSE(ok->self_signed);
  EXPECT_EQ(ok->cert_chain_pem, root->signing_cert_pem);

  auto error = [&] {
    try {
      loadPluggedCa(plug);
    } catch (const CaError& e) {
      return std::string(e.what());
    }
    return std::string("<no error>");
  };
  // A key of another CA.
  auto other = loadOrCreateSelfSigned(dir.path() / "other", "cluster.local");
  put(plug / "ca-key.pem", slurp(dir.path() / "other" / "ca-key.pem"));
  EXPECT_EQ(error(), plug.string() + "/ca-key.pem: does not match ca-cert.pem");
  // A root that did not sign the CA certificate.
  put(plug / "ca-key.pem", slurp(dir.path() / "root" / "ca-key.pem"));
  put(plug / "root-cert.pem", other->root_cert_pem);
  EXPECT_THAT(error(), HasSubstr("ca-cert.pem: does not verify to root-cert.pem through cert-chain.pem"));
  // A workload certificate is not a CA.
  put(plug / "root-cert.pem", root->root_cert_pem);
  auto key = testing::ecKey();
  auto leaf = signCsr(*root, {"cluster.local", "ns", "sa"}, testing::csrPem(key.get()), std::chrono::seconds(0));
  ASSERT_TRUE(leaf.error.empty()) << leaf.error;
  put(plug / "ca-cert.pem", leaf.cert_chain[0]);
  put(plug / "ca-key.pem", keyToPem(key.get()));
  EXPECT_EQ(error(), plug.string() + "/ca-cert.pem: is not a CA certificate (basicConstraints)");
  // A missing file is named.
  fs::remove(plug / "cert-chain.pem");
  EXPECT_THAT(error(), HasSubstr("cert-chain.pem: cannot read the file"));
}

}  // namespace
}  // namespace weft::control::ca
