#include "proxy/network/client_hello.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/ssl.h>

namespace weft::proxy::network {
namespace {

using ::testing::ElementsAre;

// The ClientHello bytes a real OpenSSL client sends with this SNI and ALPN.
std::string clientHello(const char* sni, const std::string& alpn_wire) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL* ssl = SSL_new(ctx);
  BIO* in = BIO_new(BIO_s_mem());
  BIO* out = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl, in, out);
  if (sni) SSL_set_tlsext_host_name(ssl, sni);
  if (!alpn_wire.empty()) {
    SSL_set_alpn_protos(ssl, reinterpret_cast<const unsigned char*>(alpn_wire.data()),
                        static_cast<unsigned>(alpn_wire.size()));
  }
  SSL_set_connect_state(ssl);
  SSL_do_handshake(ssl);
  char* data;
  long n = BIO_get_mem_data(out, &data);
  std::string hello(data, static_cast<size_t>(n));
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  return hello;
}

TEST(ClientHelloTest, ReadsSniAndAlpn) {
  std::string hello = clientHello("Api.Example.COM", std::string("\x02h2\x08http/1.1", 12));
  ClientHello h;
  ASSERT_EQ(parseClientHello(hello, h), ClientHello::Result::Tls);
  EXPECT_EQ(h.server_name, "api.example.com");
  EXPECT_THAT(h.alpn, ElementsAre("h2", "http/1.1"));
}

TEST(ClientHelloTest, NoSniNoAlpn) {
  ClientHello h;
  ASSERT_EQ(parseClientHello(clientHello(nullptr, ""), h), ClientHello::Result::Tls);
  EXPECT_EQ(h.server_name, "");
  EXPECT_TRUE(h.alpn.empty());
}

TEST(ClientHelloTest, WaitsForTheWholeRecord) {
  std::string hello = clientHello("a.example.com", "");
  for (size_t n : {size_t{0}, size_t{1}, size_t{4}, size_t{5}, hello.size() / 2, hello.size() - 1}) {
    ClientHello h;
    EXPECT_EQ(parseClientHello(std::string_view(hello).substr(0, n), h), ClientHello::Result::NeedMore) << n;
  }
}

TEST(ClientHelloTest, PlaintextIsNotTls) {
  ClientHello h;
  EXPECT_EQ(parseClientHello("GET / HTTP/1.1\r\n", h), ClientHello::Result::NotTls);
  EXPECT_EQ(parseClientHello("PRI * HTTP/2.0\r\n", h), ClientHello::Result::NotTls);
  EXPECT_EQ(parseClientHello(std::string("\x16\x09\x00\x00\x05", 5), h), ClientHello::Result::NotTls);
}

TEST(ClientHelloTest, MalformedHelloIsLeftToTheHandshake) {
  // A handshake record whose body is garbage: Tls, with nothing learned, so the TLS stack
  // answers with a proper alert.
  std::string bad("\x16\x03\x01\x00\x08\x01\x00\xff\xff\x03\x03\x00\x00", 13);
  ClientHello h;
  EXPECT_EQ(parseClientHello(bad, h), ClientHello::Result::Tls);
  EXPECT_EQ(h.server_name, "");
}

}  // namespace
}  // namespace weft::proxy::network
