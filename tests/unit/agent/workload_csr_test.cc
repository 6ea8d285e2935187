#include "agent/workload_csr.h"

#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <memory>

namespace weft::agent {
namespace {

std::unique_ptr<X509_REQ, decltype(&X509_REQ_free)> parseCsr(const std::string& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  return {PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr), X509_REQ_free};
}

class Csr : public ::testing::TestWithParam<KeyType> {};

TEST_P(Csr, SignedForTheSpiffeIdOnly) {
  std::string error;
  auto kc = makeKeyAndCsr("spiffe://cluster.local/ns/default/sa/reviews", GetParam(), error);
  ASSERT_TRUE(kc) << error;
  auto req = parseCsr(kc->csr_pem);
  ASSERT_TRUE(req);
  EVP_PKEY* pub = X509_REQ_get0_pubkey(req.get());
  EXPECT_EQ(X509_REQ_verify(req.get(), pub), 1);
  if (GetParam() == KeyType::EcdsaP256) {
    EXPECT_EQ(EVP_PKEY_get_base_id(pub), EVP_PKEY_EC);
    EXPECT_EQ(EVP_PKEY_get_bits(pub), 256);
  } else {
    EXPECT_EQ(EVP_PKEY_get_base_id(pub), EVP_PKEY_RSA);
    EXPECT_EQ(EVP_PKEY_get_bits(pub), 2048);
  }
  STACK_OF(X509_EXTENSION)* exts = X509_REQ_get_extensions(req.get());
  ASSERT_NE(exts, nullptr);
  auto* names = static_cast<GENERAL_NAMES*>(X509V3_get_d2i(exts, NID_subject_alt_name, nullptr, nullptr));
  ASSERT_NE(names, nullptr);
  ASSERT_EQ(sk_GENERAL_NAME_num(names), 1);
  const GENERAL_NAME* n = sk_GENERAL_NAME_value(names, 0);
  ASSERT_EQ(n->type, GEN_URI);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(n->d.uniformResourceIdentifier))),
            "spiffe://cluster.local/ns/default/sa/reviews");
  GENERAL_NAMES_free(names);
  sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  EXPECT_NE(kc->key_pem.find("PRIVATE KEY"), std::string::npos);
  // Each call makes a new key.
  auto again = makeKeyAndCsr("spiffe://cluster.local/ns/default/sa/reviews", GetParam(), error);
  EXPECT_NE(again->key_pem, kc->key_pem);
}

INSTANTIATE_TEST_SUITE_P(KeyTypes, Csr, ::testing::Values(KeyType::EcdsaP256, KeyType::Rsa2048));

TEST(LeafValidity, RefusesGarbage) {
  EXPECT_FALSE(leafValidity("not a certificate"));
  EXPECT_TRUE(leafUris("").empty());
}

}  // namespace
}  // namespace weft::agent
