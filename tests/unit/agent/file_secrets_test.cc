// Istio's file secrets: the names, reading a certificate with its key and a root bundle, the
// refusals (missing file, no PEM, a key of another certificate), and the fingerprint that
// changes when a file is replaced.
#include "agent/file_secrets.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>

namespace weft::agent {
namespace {

struct Pem {
  std::string cert, key;
};

Pem selfSigned(const char* cn) {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"), EVP_PKEY_free);
  std::unique_ptr<X509, decltype(&X509_free)> x(X509_new(), X509_free);
  X509_set_version(x.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(x.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(x.get()), 3600);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(x.get()), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn), -1, -1, 0);
  X509_set_issuer_name(x.get(), X509_get_subject_name(x.get()));
  X509_set_pubkey(x.get(), key.get());
  X509_sign(x.get(), key.get(), EVP_sha256());
  auto text = [](auto write) {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
    write(bio.get());
    char* data;
    long n = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<size_t>(n));
  };
  return {text([&](BIO* b) { PEM_write_bio_X509(b, x.get()); }),
          text([&](BIO* b) { PEM_write_bio_PrivateKey(b, key.get(), nullptr, nullptr, 0, nullptr, nullptr); })};
}

class FileSecretsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("weft-file-secrets-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
    return (dir_ / name).string();
  }
  std::filesystem::path dir_;
};

TEST_F(FileSecretsTest, Names) {
  EXPECT_TRUE(isFileSecretName("file-cert:/a.pem~/a.key"));
  EXPECT_TRUE(isFileSecretName("file-root:system"));
  EXPECT_FALSE(isFileSecretName("default"));
  EXPECT_FALSE(isFileSecretName("file-cert:/a.pem"));  // no key file
  std::string error;
  EXPECT_FALSE(readFileSecret("file-cert:/a.pem", error));
  EXPECT_EQ(error, "'file-cert:/a.pem' is not file-cert:CERT~KEY or file-root:CA");
  EXPECT_FALSE(readFileSecret("file-root:", error));
}

TEST_F(FileSecretsTest, CertificateWithItsKeyAndRoots) {
  Pem a = selfSigned("a"), b = selfSigned("b");
  std::string cert = write("a.pem", a.cert), key = write("a.key", a.key), other_key = write("b.key", b.key);
  std::string roots = write("roots.pem", a.cert + b.cert);
  std::string error;
  auto s = readFileSecret("file-cert:" + cert + "~" + key, error);
  ASSERT_TRUE(s) << error;
  EXPECT_EQ(s->value.name, "file-cert:" + cert + "~" + key);
  EXPECT_EQ(s->value.certificate_chain, a.cert);
  EXPECT_EQ(s->value.private_key, a.key);
  auto r = readFileSecret("file-root:" + roots, error);
  ASSERT_TRUE(r) << error;
  EXPECT_EQ(r->value.trusted_ca, a.cert + b.cert);
  // The system's bundle (Debian's ca-certificates).
  auto sys = readFileSecret("file-root:system", error);
  ASSERT_TRUE(sys) << error;
  EXPECT_NE(sys->value.trusted_ca.find("BEGIN CERTIFICATE"), std::string::npos);

  EXPECT_FALSE(readFileSecret("file-cert:" + cert + "~" + other_key, error));
  EXPECT_EQ(error, "the key in '" + other_key + "' does not match the certificate in '" + cert + "'");
  EXPECT_FALSE(readFileSecret("file-cert:" + cert + "~" + (dir_ / "none.key").string(), error));
  EXPECT_EQ(error.rfind("cannot read '" + (dir_ / "none.key").string() + "': No such file", 0), 0u) << error;
  std::string junk = write("junk.pem", "not a certificate");
  EXPECT_FALSE(readFileSecret("file-root:" + junk, error));
  EXPECT_EQ(error, "'" + junk + "' has no PEM certificate");
}

TEST_F(FileSecretsTest, FingerprintChangesWhenAFileIsReplaced) {
  Pem a = selfSigned("a"), b = selfSigned("b");
  std::string roots = write("roots.pem", a.cert);
  std::string before = fileSecretFingerprint("file-root:" + roots);
  ASSERT_FALSE(before.empty());
  EXPECT_EQ(fileSecretFingerprint("file-root:" + roots), before);
  write("roots.new", b.cert);
  std::filesystem::rename(dir_ / "roots.new", dir_ / "roots.pem");
  EXPECT_NE(fileSecretFingerprint("file-root:" + roots), before);
  EXPECT_EQ(fileSecretFingerprint("file-root:" + (dir_ / "gone.pem").string()), "");
}

}  // namespace
}  // namespace weft::agent
