#include "common/tls/tls_context.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "common/config/error.h"

namespace weft::tls {

namespace {

// ECDHE with AEAD only, forward secrecy only (Mozilla "intermediate" for TLS 1.2). TLS 1.3
// suites are all modern and keep OpenSSL's defaults.
constexpr const char* kDefaultCiphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
constexpr const char* kDefaultCurves = "X25519:P-256:P-384";

struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioDeleter>;

BioPtr memBio(const std::string& s) { return BioPtr(BIO_new_mem_buf(s.data(), static_cast<int>(s.size()))); }

[[noreturn]] void fail(const PemSource& src, const std::string& what) {
  std::string detail = opensslErrors();
  throw ConfigError(src.field + ": " + what + " (" + src.origin + ")" + (detail.empty() ? "" : ": " + detail));
}

void loadCertificate(SSL_CTX* ctx, const ContextOptions::CertKey& ck) {
  auto bio = memBio(ck.chain.pem);
  X509* leaf = PEM_read_bio_X509_AUX(bio.get(), nullptr, nullptr, nullptr);
  if (leaf == nullptr) fail(ck.chain, "no PEM certificate found");
  int ok = SSL_CTX_use_certificate(ctx, leaf);
  X509_free(leaf);
  if (ok != 1) fail(ck.chain, "certificate not usable");
  SSL_CTX_clear_chain_certs(ctx);
  while (X509* extra = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    if (SSL_CTX_add0_chain_cert(ctx, extra) != 1) {
      X509_free(extra);
      fail(ck.chain, "intermediate certificate not usable");
    }
  }
  ERR_clear_error();  // the loop ends on a "no start line" error by design

  auto kbio = memBio(ck.key.pem);
  EVP_PKEY* key = PEM_read_bio_PrivateKey(kbio.get(), nullptr, nullptr, nullptr);
  if (key == nullptr) fail(ck.key, "no PEM private key found");
  ok = SSL_CTX_use_PrivateKey(ctx, key);
  EVP_PKEY_free(key);
  if (ok != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    fail(ck.key, "private key does not match the certificate of " + ck.chain.field);
  }
}

void loadTrustedCa(SSL_CTX* ctx, const PemSource& ca) {
  auto bio = memBio(ca.pem);
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  int n = 0;
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    X509_STORE_add_cert(store, cert);
    X509_free(cert);
    ++n;
  }
  ERR_clear_error();
  if (n == 0) fail(ca, "no PEM certificate found");
}

std::string encodeAlpn(const std::vector<std::string>& protos, const std::string& path) {
  std::string wire;
  for (const auto& p : protos) {
    if (p.empty() || p.size() > 255)
      throw ConfigError(path + ".alpn_protocols: '" + p + "' is not a valid protocol name");
    wire.push_back(static_cast<char>(p.size()));
    wire += p;
  }
  return wire;
}

std::string asn1Text(const ASN1_STRING* s) {
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     static_cast<size_t>(ASN1_STRING_length(s)));
}

std::string ipText(const ASN1_OCTET_STRING* s) {
  char buf[INET6_ADDRSTRLEN] = {0};
  int len = ASN1_STRING_length(s);
  const unsigned char* p = ASN1_STRING_get0_data(s);
  if (len == 4) inet_ntop(AF_INET, p, buf, sizeof(buf));
  if (len == 16) inet_ntop(AF_INET6, p, buf, sizeof(buf));
  return buf;
}

}  // namespace

std::string opensslErrors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out;
}

std::string_view negotiatedAlpn(const SSL* ssl) {
  const unsigned char* data = nullptr;
  unsigned int len = 0;
  SSL_get0_alpn_selected(ssl, &data, &len);
  return data ? std::string_view(reinterpret_cast<const char*>(data), len) : std::string_view();
}

// Server side: the first of our protocols (our preference order) that the client offers.
int selectAlpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned inlen,
               void* arg) {
  const auto* self = static_cast<const Context*>(arg);
  const std::string& ours = self->alpn_wire_;
  for (size_t i = 0; i < ours.size(); i += 1 + static_cast<unsigned char>(ours[i])) {
    auto olen = static_cast<unsigned char>(ours[i]);
    for (unsigned j = 0; j < inlen; j += 1u + in[j]) {
      if (in[j] == olen && j + 1 + olen <= inlen &&
          ours.compare(i + 1, olen, reinterpret_cast<const char*>(in + j + 1), olen) == 0) {
        *out = in + j + 1;
        *outlen = olen;
        return SSL_TLSEXT_ERR_OK;
      }
    }
  }
  return SSL_TLSEXT_ERR_NOACK;
}

std::shared_ptr<const Context> Context::create(const ContextOptions& o) {
  std::shared_ptr<Context> c(new Context());
  c->server_ = o.server;
  c->sni_ = o.sni;
  c->san_matchers_ = o.san_matchers;
  c->ctx_ = SSL_CTX_new(o.server ? TLS_server_method() : TLS_client_method());
  if (c->ctx_ == nullptr) throw ConfigError(o.path + ": cannot create a TLS context: " + opensslErrors());
  SSL_CTX* ctx = c->ctx_;
  SSL_CTX_set_min_proto_version(ctx, o.min_version);
  SSL_CTX_set_max_proto_version(ctx, o.max_version);
  const std::string ciphers = o.cipher_list.empty() ? kDefaultCiphers : o.cipher_list;
  if (SSL_CTX_set_cipher_list(ctx, ciphers.c_str()) != 1) {
    throw ConfigError(o.path + ".common_tls_context.tls_params.cipher_suites: '" + ciphers +
                      "' selects no usable cipher");
  }
  const std::string curves = o.curves.empty() ? kDefaultCurves : o.curves;
  if (SSL_CTX_set1_groups_list(ctx, curves.c_str()) != 1) {
    ERR_clear_error();
    throw ConfigError(o.path + ".common_tls_context.tls_params.ecdh_curves: '" + curves +
                      "' is not a valid curve list");
  }
  // Partial writes let the connection's output buffer drain record by record; released
  // buffers keep idle connections at a few hundred bytes instead of ~34 KB each.
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
  SSL_CTX_set_read_ahead(ctx, 1);

  for (const auto& ck : o.certificates) loadCertificate(ctx, ck);
  if (o.server && o.certificates.empty()) {
    throw ConfigError(o.path + ".common_tls_context.tls_certificates: a server context needs a certificate");
  }
  if (o.trusted_ca) {
    loadTrustedCa(ctx, *o.trusted_ca);
    c->verify_ = true;
  }
  if (!o.san_matchers.empty() && !o.trusted_ca) {
    throw ConfigError(o.path + ".common_tls_context.validation_context: subject alt name matching needs trusted_ca");
  }
  if (o.server) {
    if (o.require_client_certificate && !o.trusted_ca) {
      throw ConfigError(o.path + ".require_client_certificate: needs common_tls_context.validation_context.trusted_ca");
    }
    int mode = SSL_VERIFY_NONE;
    if (c->verify_) mode = SSL_VERIFY_PEER | (o.require_client_certificate ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0);
    SSL_CTX_set_verify(ctx, mode, nullptr);
    // Needed for resumption of sessions whose client certificate was verified.
    static const unsigned char kSid[] = "weft";
    SSL_CTX_set_session_id_context(ctx, kSid, sizeof(kSid) - 1);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
    // One TLS 1.3 ticket per handshake (OpenSSL sends two): enough to resume, half the work.
    SSL_CTX_set_num_tickets(ctx, 1);
    if (!o.alpn.empty()) {
      c->alpn_wire_ = encodeAlpn(o.alpn, o.path + ".common_tls_context");
      SSL_CTX_set_alpn_select_cb(ctx, selectAlpn, c.get());
    }
  } else {
    SSL_CTX_set_verify(ctx, c->verify_ ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nullptr);
    c->alpn_wire_ = encodeAlpn(o.alpn, o.path + ".common_tls_context");
  }
  return c;
}

Context::~Context() {
  if (ctx_) SSL_CTX_free(ctx_);
}

SSL* Context::newSsl() const {
  SSL* ssl = SSL_new(ctx_);
  if (ssl == nullptr) return nullptr;
  if (!server_) {
    if (!sni_.empty()) SSL_set_tlsext_host_name(ssl, sni_.c_str());
    if (!alpn_wire_.empty()) {
      SSL_set_alpn_protos(ssl, reinterpret_cast<const unsigned char*>(alpn_wire_.data()),
                          static_cast<unsigned>(alpn_wire_.size()));
    }
  }
  return ssl;
}

std::string Context::verifyPeer(SSL* ssl) const {
  if (san_matchers_.empty()) return {};
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (cert == nullptr) return "peer presented no certificate";
  auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  std::string seen;
  bool ok = false;
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names) && !ok; ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names, i);
    SanMatcher::Type type;
    std::string value;
    switch (gn->type) {
      case GEN_DNS:
        type = SanMatcher::Type::Dns;
        value = asn1Text(gn->d.dNSName);
        break;
      case GEN_URI:
        type = SanMatcher::Type::Uri;
        value = asn1Text(gn->d.uniformResourceIdentifier);
        break;
      case GEN_EMAIL:
        type = SanMatcher::Type::Email;
        value = asn1Text(gn->d.rfc822Name);
        break;
      case GEN_IPADD:
        type = SanMatcher::Type::IpAddress;
        value = ipText(gn->d.iPAddress);
        break;
      default:
        continue;
    }
    if (!seen.empty()) seen += ", ";
    seen += value;
    for (const auto& m : san_matchers_) {
      if ((m.type == SanMatcher::Type::Any || m.type == type) && m.match(value)) {
        ok = true;
        break;
      }
    }
  }
  if (names) GENERAL_NAMES_free(names);
  if (ok) return {};
  return "peer certificate subject alt names [" + seen + "] match none of the configured matchers";
}

}  // namespace weft::tls
