#pragma once
// The messages weft-agent exchanges, encoded with common/proto/wire.h (field numbers from
// envoy/service/discovery/v3/discovery.proto, envoy/extensions/transport_sockets/tls/v3/
// secret.proto and common.proto, envoy/config/core/v3/base.proto, and Istio's ca.proto).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace weft::agent {

inline constexpr const char* kSecretTypeUrl = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret";

struct DiscoveryRequestView {
  std::string version_info;
  std::vector<std::string> resource_names;
  std::string type_url;
  std::string response_nonce;
  bool has_error_detail = false;
  std::string error_message;
};
std::optional<DiscoveryRequestView> decodeDiscoveryRequest(std::string_view bytes);

// One Secret: a tls_certificate (chain and key) or a validation_context (trusted CA), inline.
struct SecretValue {
  std::string name;
  std::string certificate_chain, private_key;  // tls_certificate
  std::string trusted_ca;                      // validation_context
};
std::string encodeSecret(const SecretValue& secret);
std::string encodeDiscoveryResponse(const std::string& version, const std::vector<SecretValue>& secrets,
                                    const std::string& nonce);

std::string encodeIstioCertificateRequest(const std::string& csr_pem, int64_t validity_seconds);
// cert_chain; nullopt when the bytes are not an IstioCertificateResponse.
std::optional<std::vector<std::string>> decodeIstioCertificateResponse(std::string_view bytes);

}  // namespace weft::agent
