#include "common/jwt/jws.h"

#include <gtest/gtest.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <memory>

namespace weft::jwt {
namespace {

using Key = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;

TEST(Base64Url, Rfc7515Vectors) {
  // RFC 7515 appendix C: the octets 3, 236, 255, 224, 193 encode as "A-z_4ME".
  EXPECT_EQ(base64UrlEncode(std::string("\x03\xec\xff\xe0\xc1", 5)), "A-z_4ME");
  EXPECT_EQ(*base64UrlDecode("A-z_4ME"), std::string("\x03\xec\xff\xe0\xc1", 5));
  EXPECT_EQ(base64UrlEncode(""), "");
  EXPECT_EQ(base64UrlEncode("f"), "Zg");
  EXPECT_EQ(base64UrlEncode("fo"), "Zm8");
  EXPECT_EQ(base64UrlEncode("foo"), "Zm9v");
  EXPECT_EQ(*base64UrlDecode("Zm8="), "fo");  // padding tolerated
  EXPECT_FALSE(base64UrlDecode("Zm+v"));      // standard alphabet is not base64url
  EXPECT_FALSE(base64UrlDecode("Z"));         // impossible length
}

TEST(CompactJws, SplitsAndNamesTheBadPart) {
  std::string error;
  auto j = splitCompact("eyJhIjoxfQ.eyJiIjoyfQ.AAEC", error);
  ASSERT_TRUE(j) << error;
  EXPECT_EQ(j->header, "{\"a\":1}");
  EXPECT_EQ(j->payload, "{\"b\":2}");
  EXPECT_EQ(j->signature, std::string("\x00\x01\x02", 3));
  EXPECT_EQ(j->signing_input, "eyJhIjoxfQ.eyJiIjoyfQ");
  EXPECT_FALSE(splitCompact("a.b", error));
  EXPECT_NE(error.find("three"), std::string::npos);
  EXPECT_FALSE(splitCompact("a.b.c.d", error));
  EXPECT_FALSE(splitCompact("eyJhIjoxfQ.e$.AAEC", error));
  EXPECT_NE(error.find("payload"), std::string::npos);
}

struct AlgCase {
  const char* alg;
  const char* key;  // "P-256", "P-384", "RSA"
};

class SignVerify : public ::testing::TestWithParam<AlgCase> {};

TEST_P(SignVerify, RoundTripAndTamper) {
  const auto& c = GetParam();
  Key key(std::string(c.key) == "RSA" ? EVP_RSA_gen(2048) : EVP_EC_gen(c.key), EVP_PKEY_free);
  std::string error;
  std::string sig = sign(c.alg, key.get(), "header.payload", error);
  ASSERT_FALSE(sig.empty()) << error;
  if (std::string(c.key) == "P-256") {
    EXPECT_EQ(sig.size(), 64u);  // raw r||s, not DER
  }
  if (std::string(c.key) == "P-384") {
    EXPECT_EQ(sig.size(), 96u);
  }
  EXPECT_TRUE(verify(c.alg, key.get(), "header.payload", sig, error)) << error;
  EXPECT_FALSE(verify(c.alg, key.get(), "header.payloaD", sig, error));
  std::string bad = sig;
  bad[bad.size() / 2] ^= 1;
  EXPECT_FALSE(verify(c.alg, key.get(), "header.payload", bad, error));
  Key other(std::string(c.key) == "RSA" ? EVP_RSA_gen(2048) : EVP_EC_gen(c.key), EVP_PKEY_free);
  EXPECT_FALSE(verify(c.alg, other.get(), "header.payload", sig, error));
}

INSTANTIATE_TEST_SUITE_P(Algorithms, SignVerify,
                         ::testing::Values(AlgCase{"ES256", "P-256"}, AlgCase{"ES384", "P-384"},
                                           AlgCase{"RS256", "RSA"}, AlgCase{"RS384", "RSA"}, AlgCase{"RS512", "RSA"},
                                           AlgCase{"PS256", "RSA"}),
                         [](const auto& info) { return std::string(info.param.alg); });

TEST(SignVerify, RefusesNoneAndMismatchedKeys) {
  Key ec(EVP_EC_gen("P-256"), EVP_PKEY_free);
  Key rsa(EVP_RSA_gen(2048), EVP_PKEY_free);
  std::string error;
  EXPECT_FALSE(verify("none", ec.get(), "a.b", "", error));
  EXPECT_NE(error.find("unsupported"), std::string::npos);
  std::string sig = sign("RS256", rsa.get(), "a.b", error);
  EXPECT_FALSE(verify("ES256", rsa.get(), "a.b", sig, error));  // an RSA key for an EC algorithm
  EXPECT_NE(error.find("not an EC key"), std::string::npos);
  EXPECT_FALSE(verify("ES384", ec.get(), "a.b", std::string(96, 'x'), error));  // P-256 key, P-384 alg
  EXPECT_FALSE(verify("ES256", ec.get(), "a.b", std::string(63, 'x'), error));
}

}  // namespace
}  // namespace weft::jwt
