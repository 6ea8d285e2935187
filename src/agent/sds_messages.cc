#include "agent/sds_messages.h"

#include "common/proto/wire.h"

namespace weft::agent {

std::optional<DiscoveryRequestView> decodeDiscoveryRequest(std::string_view bytes) {
  DiscoveryRequestView r;
  proto::Reader in(bytes);
  while (in.next()) {
    bool len = in.wireType() == 2;
    switch (in.field()) {
      case 1:
        if (len) r.version_info = in.bytes();
        break;
      case 3:
        if (len) r.resource_names.emplace_back(in.bytes());
        break;
      case 4:
        if (len) r.type_url = in.bytes();
        break;
      case 5:
        if (len) r.response_nonce = in.bytes();
        break;
      case 6:
        if (len) {
          r.has_error_detail = true;
          proto::Reader status(in.bytes());
          while (status.next())
            if (status.field() == 2 && status.wireType() == 2) r.error_message = status.bytes();
        }
        break;
      default:
        break;
    }
  }
  if (!in.ok()) return std::nullopt;
  return r;
}

std::string encodeSecret(const SecretValue& s) {
  proto::Writer secret;
  secret.bytes(1, s.name);
  if (!s.certificate_chain.empty() || !s.private_key.empty()) {
    proto::Writer chain, key, tls;
    chain.bytes(2, s.certificate_chain);  // DataSource.inline_bytes
    key.bytes(2, s.private_key);
    tls.message(1, chain);
    tls.message(2, key);
    secret.message(2, tls);
  }
  if (!s.trusted_ca.empty()) {
    proto::Writer ca, validation;
    ca.bytes(2, s.trusted_ca);
    validation.message(1, ca);
    secret.message(4, validation);
  }
  return secret.take();
}

std::string encodeDiscoveryResponse(const std::string& version, const std::vector<SecretValue>& secrets,
                                    const std::string& nonce) {
  proto::Writer out;
  out.bytes(1, version);
  for (const auto& s : secrets) {
    proto::Writer any;
    any.bytes(1, kSecretTypeUrl);
    any.bytes(2, encodeSecret(s));
    out.message(2, any);
  }
  out.bytes(4, kSecretTypeUrl);
  out.bytes(5, nonce);
  return out.take();
}

std::string encodeIstioCertificateRequest(const std::string& csr_pem, int64_t validity_seconds) {
  proto::Writer out;
  out.bytes(1, csr_pem);
  if (validity_seconds != 0) out.varint(3, static_cast<uint64_t>(validity_seconds));
  return out.take();
}

std::optional<std::vector<std::string>> decodeIstioCertificateResponse(std::string_view bytes) {
  std::vector<std::string> chain;
  proto::Reader in(bytes);
  while (in.next())
    if (in.field() == 1 && in.wireType() == 2) chain.emplace_back(in.bytes());
  if (!in.ok()) return std::nullopt;
  return chain;
}

}  // namespace weft::agent
