#pragma once
// JSON Web Key Sets (RFC 7517) as jwt_authn's local_jwks carries them: RSA keys (n, e) and EC
// keys (P-256, P-384, P-521: x, y) become OpenSSL public keys once, at config time.
#include <openssl/evp.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace weft::proxy::http::jwt_authn {

struct Jwk {
  std::string kid;  // may be empty
  std::string kty;  // "RSA" or "EC"
  std::string alg;  // may be empty
  std::shared_ptr<EVP_PKEY> key;
};

// Throws ConfigError naming `path` and the key for anything it cannot use.
std::vector<Jwk> parseJwks(std::string_view json, const std::string& path);

}  // namespace weft::proxy::http::jwt_authn
