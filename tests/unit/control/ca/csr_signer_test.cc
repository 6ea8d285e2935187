#include "control/ca/csr_signer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "ca_test_support.h"

namespace weft::control::ca {
namespace {

using std::chrono::seconds;
using ::testing::HasSubstr;

class CsrSignerTest : public ::testing::Test {
 protected:
  testing::TempDir dir;
  std::shared_ptr<const CaBundle> ca = loadOrCreateSelfSigned(dir.path() / "ca", "cluster.local");
  WorkloadIdentity who{"cluster.local", "shop", "reviews"};
};

// The text of a certificate's extension, as OpenSSL prints it.
std::string extText(X509* cert, int nid) {
  int i = X509_get_ext_by_NID(cert, nid, -1);
  if (i < 0) return "";
  X509_EXTENSION* ext = X509_get_ext(cert, i);
  BIO* b = BIO_new(BIO_s_mem());
  X509V3_EXT_print(b, ext, 0, 0);
  char* data = nullptr;
  long n = BIO_get_mem_data(b, &data);
  std::string out(data, static_cast<size_t>(n));
  BIO_free(b);
  return (X509_EXTENSION_get_critical(ext) ? "critical " : "") + out;
}

TEST_F(CsrSignerTest, SignsTheCallersIdentityAsIstio) {
  auto key = testing::ecKey();
  auto r = signCsr(*ca, who, testing::csrPem(key.get(), who.spiffe()), seconds(0));
  ASSERT_TRUE(r.error.empty()) << r.error;
  ASSERT_EQ(r.cert_chain.size(), 2u);  // leaf, root (no intermediates for a self-signed root)
  EXPECT_EQ(r.cert_chain[1], ca->root_cert_pem);
  auto leaf = std::move(certsFromPem(r.cert_chain[0]).front());
  EXPECT_EQ(extText(leaf.get(), NID_subject_alt_name), "critical URI:spiffe://cluster.local/ns/shop/sa/reviews");
  EXPECT_EQ(extText(leaf.get(), NID_key_usage), "critical Digital Signature, Key Encipherment");
  EXPECT_EQ(extText(leaf.get(), NID_ext_key_usage), "TLS Web Server Authentication, TLS Web Client Authentication");
  EXPECT_EQ(extText(leaf.get(), NID_basic_constraints), "critical CA:FALSE");
  EXPECT_EQ(X509_check_private_key(leaf.get(), key.get()), 1);
  // Signed by the root; 24 h by default, with 2 minutes of clock-skew grace before now.
  EXPECT_EQ(X509_verify(leaf.get(), X509_get0_pubkey(ca->signing_cert.get())), 1);
  int days = 0, secs = 0;
  ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(leaf.get()), X509_get0_notAfter(leaf.get()));
  EXPECT_EQ(days * 86400 + secs, 24 * 3600 + 120);
}

TEST_F(CsrSignerTest, TheIdentityComesFromTheCallerNeverTheCsr) {
  auto key = testing::ecKey();
  // No SAN in the CSR: the caller's identity is used.
  EXPECT_TRUE(signCsr(*ca, who, testing::csrPem(key.get()), seconds(0)).error.empty());
  // Another identity in the CSR is refused, naming both.
  auto r = signCsr(*ca, who, testing::csrPem(key.get(), "spiffe://cluster.local/ns/kube-system/sa/admin"), seconds(0));
  EXPECT_EQ(r.error,
            "csr: asks for identity spiffe://cluster.local/ns/kube-system/sa/admin, but the caller is "
            "spiffe://cluster.local/ns/shop/sa/reviews");
  EXPECT_TRUE(r.cert_chain.empty());
}

TEST_F(CsrSignerTest, BadRequestsAreRefusedWithTheReason) {
  auto key = testing::ecKey();
  EXPECT_EQ(signCsr(*ca, who, "not a csr", seconds(0)).error, "csr: not a PEM certificate request");
  // A CSR whose signature does not match: the body of one with the signature of another.
  std::string a = testing::csrPem(key.get()), b = testing::csrPem(testing::ecKey().get());
  auto ra = csrFromPem(a), rb = csrFromPem(b);
  X509_REQ_set_pubkey(ra.get(), X509_REQ_get0_pubkey(rb.get()));
  std::string forged = testing::reqToPem(ra.get());
  EXPECT_EQ(signCsr(*ca, who, forged, seconds(0)).error, "csr: its signature does not verify");
  auto weak = testing::rsaKey(1024);
  EXPECT_EQ(signCsr(*ca, who, testing::csrPem(weak.get()), seconds(0)).error,
            "csr: an RSA key of 1024 bits (2048 at least)");
  auto rsa = testing::rsaKey(2048);
  EXPECT_TRUE(signCsr(*ca, who, testing::csrPem(rsa.get()), seconds(0)).error.empty());
  EXPECT_EQ(signCsr(*ca, who, testing::csrPem(key.get()), seconds(91 * 86400)).error,
            "validity_duration: 7862400s is greater than the max allowed 7776000s");
  EXPECT_EQ(signCsr(*ca, who, testing::csrPem(key.get()), seconds(-1)).error,
            "validity_duration: must not be negative");
}

}  // namespace
}  // namespace weft::control::ca
