#pragma once
// JSON Web Signature (RFC 7515) in compact form, as JWTs use it: base64url, splitting a token,
// and signing / verifying with OpenSSL for the algorithms Envoy's jwt_authn accepts
// (RS256/384/512, PS256/384/512, ES256/384/512). "none" is never accepted.
#include <openssl/evp.h>

#include <optional>
#include <string>
#include <string_view>

namespace weft::jwt {

std::string base64UrlEncode(std::string_view bytes);
// Accepts the unpadded alphabet of RFC 7515 (and tolerates '=' padding); nullopt otherwise.
std::optional<std::string> base64UrlDecode(std::string_view text);

struct CompactJws {
  std::string header;         // decoded JSON text
  std::string payload;        // decoded JSON text
  std::string signing_input;  // "<b64 header>.<b64 payload>"
  std::string signature;      // decoded bytes
};
// Splits "h.p.s" and decodes each part; the error says which part is bad.
std::optional<CompactJws> splitCompact(std::string_view token, std::string& error);

// ES256/384/512 signatures are raw r||s (RFC 7518 3.4); this converts to and from OpenSSL's DER.
std::string sign(const std::string& alg, EVP_PKEY* key, std::string_view signing_input, std::string& error);
bool verify(const std::string& alg, EVP_PKEY* key, std::string_view signing_input, std::string_view signature,
            std::string& error);

}  // namespace weft::jwt
