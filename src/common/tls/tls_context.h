#pragma once
// An immutable OpenSSL context for one side of TLS (a listener's filter chain, or a cluster):
// certificates, trusted CAs, the peer's subject-alt-names to accept, ALPN, versions and
// ciphers. Built once at config time (errors name the config path and the file), then shared
// by every worker: SSL_CTX is safe to use from several threads at once.
#include <openssl/ssl.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace weft::tls {

// PEM text and where it came from, for error messages.
struct PemSource {
  std::string pem;
  std::string field;   // config path, e.g. "...tls_certificates[0].certificate_chain"
  std::string origin;  // "file '/etc/certs/cert.pem'" or "inline data"
};

struct SanMatcher {
  enum class Type { Any, Dns, Uri, Email, IpAddress };
  Type type = Type::Any;
  std::function<bool(std::string_view)> match;
};

struct ContextOptions {
  bool server = true;
  struct CertKey {
    PemSource chain;
    PemSource key;
  };
  std::vector<CertKey> certificates;
  std::optional<PemSource> trusted_ca;
  bool require_client_certificate = false;  // server only
  std::vector<SanMatcher> san_matchers;     // empty: any SAN
  std::vector<std::string> alpn;            // in preference order
  int min_version = TLS1_2_VERSION;
  int max_version = TLS1_3_VERSION;
  std::string cipher_list;  // TLS 1.2 suites, OpenSSL syntax; empty: modern AEAD suites only
  std::string curves;       // empty: X25519:P-256:P-384
  std::string sni;          // client only
  std::string path;         // config path of the context, for errors
};

class Context {
 public:
  // Throws ConfigError naming the field and the file when something is unreadable or wrong.
  static std::shared_ptr<const Context> create(const ContextOptions& options);
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  bool server() const { return server_; }
  // A new SSL object for one connection (client: with SNI and ALPN set).
  SSL* newSsl() const;
  // After a handshake: empty when the peer is acceptable, else why not.
  std::string verifyPeer(SSL* ssl) const;
  const std::string& sni() const { return sni_; }

 private:
  Context() = default;
  SSL_CTX* ctx_ = nullptr;
  bool server_ = true;
  bool verify_ = false;
  std::string sni_;
  std::string alpn_wire_;  // length-prefixed, as OpenSSL wants it
  std::vector<SanMatcher> san_matchers_;
  friend int selectAlpn(SSL*, const unsigned char**, unsigned char*, const unsigned char*, unsigned, void*);
};

// The last OpenSSL errors of this thread, as one line (and the queue cleared).
std::string opensslErrors();

// ALPN protocol negotiated on `ssl`, empty when none.
std::string_view negotiatedAlpn(const SSL* ssl);

}  // namespace weft::tls
