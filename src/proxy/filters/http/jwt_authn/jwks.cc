#include "proxy/filters/http/jwt_authn/jwks.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>

#include <nlohmann/json.hpp>

#include "common/config/error.h"
#include "common/jwt/jws.h"

namespace weft::proxy::http::jwt_authn {

namespace {

using Bld = std::unique_ptr<OSSL_PARAM_BLD, decltype(&OSSL_PARAM_BLD_free)>;
using Params = std::unique_ptr<OSSL_PARAM, decltype(&OSSL_PARAM_free)>;
using Bn = std::unique_ptr<BIGNUM, decltype(&BN_free)>;

std::string b64field(const nlohmann::json& k, const char* name, const std::string& path) {
  if (!k.contains(name) || !k[name].is_string()) throw ConfigError(path + "." + name + ": required (base64url)");
  auto v = jwt::base64UrlDecode(k[name].get<std::string>());
  if (!v || v->empty()) throw ConfigError(path + "." + name + ": not base64url");
  return *v;
}

std::shared_ptr<EVP_PKEY> fromParams(const char* type, OSSL_PARAM* params, const std::string& path) {
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr),
                                                                  EVP_PKEY_CTX_free);
  EVP_PKEY* key = nullptr;
  if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, params) != 1 || key == nullptr)
    throw ConfigError(path + ": not a valid " + std::string(type) + " public key");
  return std::shared_ptr<EVP_PKEY>(key, EVP_PKEY_free);
}

std::shared_ptr<EVP_PKEY> rsaKey(const nlohmann::json& k, const std::string& path) {
  std::string n = b64field(k, "n", path), e = b64field(k, "e", path);
  Bn bn_n(BN_bin2bn(reinterpret_cast<const unsigned char*>(n.data()), static_cast<int>(n.size()), nullptr), BN_free);
  Bn bn_e(BN_bin2bn(reinterpret_cast<const unsigned char*>(e.data()), static_cast<int>(e.size()), nullptr), BN_free);
  Bld bld(OSSL_PARAM_BLD_new(), OSSL_PARAM_BLD_free);
  OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get());
  OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get());
  Params params(OSSL_PARAM_BLD_to_param(bld.get()), OSSL_PARAM_free);
  auto key = fromParams("RSA", params.get(), path);
  if (EVP_PKEY_get_bits(key.get()) < 2048) throw ConfigError(path + ".n: RSA keys under 2048 bits are refused");
  return key;
}

std::shared_ptr<EVP_PKEY> ecKey(const nlohmann::json& k, const std::string& path) {
  std::string crv = k.value("crv", "");
  const char* group = crv == "P-256"   ? "prime256v1"
                      : crv == "P-384" ? "secp384r1"
                      : crv == "P-521" ? "secp521r1"
                                       : nullptr;
  if (group == nullptr) throw ConfigError(path + ".crv: '" + crv + "' is not P-256, P-384 or P-521");
  std::string pub = "\x04" + b64field(k, "x", path) + b64field(k, "y", path);
  Bld bld(OSSL_PARAM_BLD_new(), OSSL_PARAM_BLD_free);
  OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, 0);
  OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, pub.data(), pub.size());
  Params params(OSSL_PARAM_BLD_to_param(bld.get()), OSSL_PARAM_free);
  return fromParams("EC", params.get(), path);
}

}  // namespace

std::vector<Jwk> parseJwks(std::string_view text, const std::string& path) {
  auto doc = nlohmann::json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) throw ConfigError(path + ": not a JSON Web Key Set (JSON object)");
  nlohmann::json keys = doc.contains("keys") ? doc["keys"] : nlohmann::json::array({doc});
  if (!keys.is_array() || keys.empty()) throw ConfigError(path + ".keys: must be a non-empty list");
  std::vector<Jwk> out;
  for (size_t i = 0; i < keys.size(); ++i) {
    const auto& k = keys[i];
    std::string kpath = path + ".keys[" + std::to_string(i) + "]";
    if (!k.is_object()) throw ConfigError(kpath + ": must be an object");
    Jwk j;
    j.kty = k.value("kty", "");
    j.kid = k.contains("kid") && k["kid"].is_string() ? k["kid"].get<std::string>() : "";
    j.alg = k.contains("alg") && k["alg"].is_string() ? k["alg"].get<std::string>() : "";
    if (j.kty == "RSA")
      j.key = rsaKey(k, kpath);
    else if (j.kty == "EC")
      j.key = ecKey(k, kpath);
    else
      throw ConfigError(kpath + ".kty: '" + j.kty + "' is not supported (RSA, EC are)");
    out.push_back(std::move(j));
  }
  return out;
}

}  // namespace weft::proxy::http::jwt_authn
