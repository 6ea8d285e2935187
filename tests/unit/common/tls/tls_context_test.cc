#include "common/tls/tls_context.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "common/config/error.h"
#include "common/tls/self_signed.h"

namespace weft::tls {
namespace {

using ::testing::HasSubstr;

PemSource src(std::string pem, std::string field) { return PemSource{std::move(pem), std::move(field), "inline data"}; }

// Runs a full handshake between a client and a server SSL over memory BIOs.
bool handshake(SSL* client, SSL* server) {
  BIO *c_in = BIO_new(BIO_s_mem()), *c_out = BIO_new(BIO_s_mem());
  BIO *s_in = BIO_new(BIO_s_mem()), *s_out = BIO_new(BIO_s_mem());
  SSL_set_bio(client, c_in, c_out);
  SSL_set_bio(server, s_in, s_out);
  SSL_set_connect_state(client);
  SSL_set_accept_state(server);
  auto pump = [](BIO* from, BIO* to) {
    char buf[16384];
    int n;
    while ((n = BIO_read(from, buf, sizeof(buf))) > 0) BIO_write(to, buf, n);
  };
  for (int i = 0; i < 10; ++i) {
    int c = SSL_do_handshake(client);
    pump(c_out, s_in);
    int s = SSL_do_handshake(server);
    pump(s_out, c_in);
    if (c == 1 && s == 1) return true;
  }
  return false;
}

TEST(TlsContextTest, MismatchedKeyNamesBothFields) {
  Pem a = selfSigned("DNS:a.example.com");
  Pem b = selfSigned("DNS:b.example.com");
  ContextOptions o;
  o.path = "chain";
  o.certificates.push_back(
      {src(a.cert, "tls_certificates[0].certificate_chain"), src(b.key, "tls_certificates[0].private_key")});
  try {
    Context::create(o);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr("tls_certificates[0].private_key: private key does not match the certificate of "
                                    "tls_certificates[0].certificate_chain"));
  }
}

TEST(TlsContextTest, GarbageCertificateIsNamed) {
  ContextOptions o;
  o.certificates.push_back({src("not a pem", "x.certificate_chain"), src("nope", "x.private_key")});
  EXPECT_THROW(
      {
        try {
          Context::create(o);
        } catch (const ConfigError& e) {
          EXPECT_THAT(e.what(), HasSubstr("x.certificate_chain: no PEM certificate found (inline data)"));
          throw;
        }
      },
      ConfigError);
}

TEST(TlsContextTest, ServerWithoutCertificateIsRejected) {
  ContextOptions o;
  o.path = "p";
  EXPECT_THROW(Context::create(o), ConfigError);
}

class HandshakeTest : public ::testing::Test {
 protected:
  Pem server_ = selfSigned("URI:spiffe://cluster.local/ns/default/sa/server,DNS:server.local");

  std::shared_ptr<const Context> server(std::vector<std::string> alpn = {"h2", "http/1.1"}) {
    ContextOptions o;
    o.alpn = std::move(alpn);
    o.certificates.push_back({src(server_.cert, "c"), src(server_.key, "k")});
    return Context::create(o);
  }
  std::shared_ptr<const Context> client(std::vector<SanMatcher> sans,
                                        std::vector<std::string> alpn = {"http/1.1", "h2"}) {
    ContextOptions o;
    o.server = false;
    o.sni = "server.local";
    o.alpn = std::move(alpn);
    o.trusted_ca = src(server_.cert, "ca");
    o.san_matchers = std::move(sans);
    return Context::create(o);
  }
};

TEST_F(HandshakeTest, UriSanMatcherAcceptsThePeer) {
  auto s = server();
  auto c = client({SanMatcher{SanMatcher::Type::Uri,
                              [](std::string_view v) { return v == "spiffe://cluster.local/ns/default/sa/server"; }}});
  SSL* cs = c->newSsl();
  SSL* ss = s->newSsl();
  ASSERT_TRUE(handshake(cs, ss));
  EXPECT_EQ(c->verifyPeer(cs), "");
  // The server's preference wins: h2 first.
  EXPECT_EQ(negotiatedAlpn(cs), "h2");
  SSL_free(cs);
  SSL_free(ss);
}

TEST_F(HandshakeTest, DnsMatcherDoesNotMatchAUriSan) {
  auto s = server();
  auto c = client({SanMatcher{SanMatcher::Type::Dns, [](std::string_view v) { return v.find("spiffe://") == 0; }}});
  SSL* cs = c->newSsl();
  SSL* ss = s->newSsl();
  ASSERT_TRUE(handshake(cs, ss));
  EXPECT_THAT(c->verifyPeer(cs), HasSubstr("match none of the configured matchers"));
  EXPECT_THAT(c->verifyPeer(cs), HasSubstr("spiffe://cluster.local/ns/default/sa/server"));
  SSL_free(cs);
  SSL_free(ss);
}

TEST_F(HandshakeTest, NoCommonAlpnMeansNoAlpn) {
  auto s = server({"h2"});
  auto c = client({}, {"http/1.1"});
  SSL* cs = c->newSsl();
  SSL* ss = s->newSsl();
  ASSERT_TRUE(handshake(cs, ss));
  EXPECT_EQ(negotiatedAlpn(ss), "");
  SSL_free(cs);
  SSL_free(ss);
}

TEST_F(HandshakeTest, UntrustedServerFailsVerification) {
  auto s = server();
  ContextOptions o;
  o.server = false;
  o.trusted_ca = src(selfSigned("DNS:other").cert, "ca");
  auto c = Context::create(o);
  SSL* cs = c->newSsl();
  SSL* ss = s->newSsl();
  EXPECT_FALSE(handshake(cs, ss));
  EXPECT_NE(SSL_get_verify_result(cs), X509_V_OK);
  SSL_free(cs);
  SSL_free(ss);
}

}  // namespace
}  // namespace weft::tls
