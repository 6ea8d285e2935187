#include "control/ca/csr_signer.h"

#include <openssl/ec.h>
#include <openssl/x509v3.h>

namespace weft::control::ca {

namespace {

// The URI SANs a CSR asks for (its extension request).
std::vector<std::string> requestedUris(X509_REQ* req) {
  std::vector<std::string> out;
  STACK_OF(X509_EXTENSION)* exts = X509_REQ_get_extensions(req);
  if (exts == nullptr) return out;
  for (int i = 0; i < sk_X509_EXTENSION_num(exts); ++i) {
    X509_EXTENSION* ext = sk_X509_EXTENSION_value(exts, i);
    if (OBJ_obj2nid(X509_EXTENSION_get_object(ext)) != NID_subject_alt_name) continue;
    auto* names = static_cast<GENERAL_NAMES*>(X509V3_EXT_d2i(ext));
    for (int j = 0; names && j < sk_GENERAL_NAME_num(names); ++j) {
      GENERAL_NAME* n = sk_GENERAL_NAME_value(names, j);
      if (n->type == GEN_URI) {
        const unsigned char* d = ASN1_STRING_get0_data(n->d.uniformResourceIdentifier);
        out.emplace_back(reinterpret_cast<const char*>(d),
                         static_cast<size_t>(ASN1_STRING_length(n->d.uniformResourceIdentifier)));
      } else {
        out.emplace_back("(a non-URI name)");
      }
    }
    GENERAL_NAMES_free(names);
  }
  sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  return out;
}

std::string keyProblem(EVP_PKEY* key) {
  int type = EVP_PKEY_base_id(key);
  if (type == EVP_PKEY_RSA) {
    int bits = EVP_PKEY_bits(key);
    return bits >= 2048 ? "" : "an RSA key of " + std::to_string(bits) + " bits (2048 at least)";
  }
  if (type == EVP_PKEY_EC) {
    char curve[64] = {0};
    size_t len = 0;
    EVP_PKEY_get_utf8_string_param(key, "group", curve, sizeof(curve), &len);
    std::string c(curve);
    return c == "prime256v1" || c == "secp384r1" ? "" : "an EC key on curve " + c + " (P-256 or P-384)";
  }
  return "a key that is neither RSA nor EC";
}

}  // namespace

SignResult signCsr(const CaBundle& ca, const WorkloadIdentity& who, const std::string& csr_pem,
                   std::chrono::seconds requested_ttl, const SignPolicy& policy) {
  SignResult r;
  ReqPtr req = csrFromPem(csr_pem);
  if (!req) {
    r.error = "csr: not a PEM certificate request";
    return r;
  }
  EVP_PKEY* pub = X509_REQ_get0_pubkey(req.get());
  if (pub == nullptr || X509_REQ_verify(req.get(), pub) != 1) {
    r.error = "csr: its signature does not verify";
    return r;
  }
  if (std::string k = keyProblem(pub); !k.empty()) {
    r.error = "csr: " + k;
    return r;
  }
  const std::string id = who.spiffe();
  for (const auto& uri : requestedUris(req.get())) {
    if (uri != id) {
      r.error = "csr: asks for identity " + uri + ", but the caller is " + id;
      return r;
    }
  }
  if (requested_ttl.count() < 0) {
    r.error = "validity_duration: must not be negative";
    return r;
  }
  std::chrono::seconds ttl = requested_ttl.count() == 0 ? policy.default_ttl : requested_ttl;
  if (ttl > policy.max_ttl) {
    r.error = "validity_duration: " + std::to_string(ttl.count()) + "s is greater than the max allowed " +
              std::to_string(policy.max_ttl.count()) + "s";
    return r;
  }
  auto now = std::chrono::system_clock::now();
  if (now + ttl > ca.not_after) {
    ttl = std::chrono::duration_cast<std::chrono::seconds>(ca.not_after - now);  // as Istio: not past the CA
  }
  if (ttl.count() <= 0) {
    r.error = "the signing certificate has expired";
    return r;
  }

  X509Ptr cert = newCertificate(static_cast<long>(ttl.count()));
  X509_set_issuer_name(cert.get(), X509_get_subject_name(ca.signing_cert.get()));
  X509_set_pubkey(cert.get(), pub);
  // The subject is empty, so the SAN is critical (X.509 and SPIFFE).
  bool ok =
      addExtension(cert.get(), ca.signing_cert.get(), NID_subject_alt_name, "critical,URI:" + id) &&
      addExtension(cert.get(), ca.signing_cert.get(), NID_basic_constraints, "critical,CA:FALSE") &&
      addExtension(cert.get(), ca.signing_cert.get(), NID_key_usage, "critical,digitalSignature,keyEncipherment") &&
      addExtension(cert.get(), ca.signing_cert.get(), NID_ext_key_usage, "serverAuth,clientAuth") &&
      addExtension(cert.get(), ca.signing_cert.get(), NID_authority_key_identifier, "keyid");
  if (!ok || X509_sign(cert.get(), ca.signing_key.get(), EVP_sha256()) == 0) {
    r.error = "signing failed: " + lastError();
    return r;
  }
  r.cert_chain.push_back(certToPem(cert.get()));
  if (!ca.cert_chain_pem.empty()) r.cert_chain.push_back(ca.cert_chain_pem);
  r.cert_chain.push_back(ca.root_cert_pem);
  return r;
}

}  // namespace weft::control::ca
