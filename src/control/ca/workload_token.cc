#include "control/ca/workload_token.h"

#include <openssl/ec.h>
#include <openssl/pem.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/jwt/jws.h"
#include "control/ca/ca_bundle.h"

namespace weft::control::ca {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr auto kClockSkew = std::chrono::seconds(60);

int64_t nowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// A Kubernetes name: a DNS label (namespaces) or subdomain (service accounts), at most 253.
bool validName(const std::string& s) {
  if (s.empty() || s.size() > 253) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.')) return false;
  return s.front() != '-' && s.back() != '-' && s.front() != '.' && s.back() != '.';
}

}  // namespace

std::shared_ptr<const TokenAuthority> TokenAuthority::loadOrCreate(const fs::path& state_dir,
                                                                   std::string trust_domain) {
  auto a = std::make_shared<TokenAuthority>();
  a->trust_domain_ = std::move(trust_domain);
  fs::path file = state_dir / "token-key.pem";
  if (fs::exists(file)) {
    std::ifstream f(file, std::ios::binary);
    std::ostringstream s;
    s << f.rdbuf();
    a->key_ = keyFromPem(s.str());
    if (!a->key_ || EVP_PKEY_get_base_id(a->key_.get()) != EVP_PKEY_EC || EVP_PKEY_get_bits(a->key_.get()) != 256)
      throw CaError(file.string() + ": not an EC P-256 private key in PEM");
    return a;
  }
  std::error_code ec;
  fs::create_directories(state_dir, ec);
  a->key_.reset(EVP_EC_gen("P-256"));
  if (!a->key_) throw CaError(file.string() + ": cannot make an EC key: " + lastError());
  writeStateFile(file, keyToPem(a->key_.get()), 0600);
  return a;
}

std::string TokenAuthority::issue(const std::string& ns, const std::string& sa, std::chrono::seconds ttl) const {
  json header = {{"alg", "ES256"}, {"typ", "JWT"}, {"kid", "weftd-token"}};
  int64_t now = nowSeconds();
  json payload = {{"iss", kIssuer},
                  {"aud", json::array({kAudience})},
                  {"sub", "system:serviceaccount:" + ns + ":" + sa},
                  {"iat", now},
                  {"nbf", now},
                  {"exp", now + ttl.count()},
                  {"kubernetes.io", {{"namespace", ns}, {"serviceaccount", {{"name", sa}}}}}};
  std::string input = jwt::base64UrlEncode(header.dump()) + "." + jwt::base64UrlEncode(payload.dump());
  std::string error;
  std::string sig = jwt::sign("ES256", key_.get(), input, error);
  return input + "." + jwt::base64UrlEncode(sig);
}

std::optional<WorkloadIdentity> TokenAuthority::verify(std::string_view token, std::string& error) const {
  auto jws = jwt::splitCompact(token, error);
  if (!jws) return std::nullopt;
  auto header = json::parse(jws->header, nullptr, false);
  auto payload = json::parse(jws->payload, nullptr, false);
  if (!header.is_object() || !payload.is_object()) {
    error = "the token's header or payload is not a JSON object";
    return std::nullopt;
  }
  if (header.value("alg", "") != "ES256") {
    error = "the token's alg is '" + header.value("alg", "") + "', not ES256";
    return std::nullopt;
  }
  if (!jwt::verify("ES256", key_.get(), jws->signing_input, jws->signature, error)) {
    error = "the token is not signed by this weftd (" + error + ")";
    return std::nullopt;
  }
  if (!payload["iss"].is_string() || payload["iss"] != kIssuer) {
    error = "the token's issuer is not '" + std::string(kIssuer) + "'";
    return std::nullopt;
  }
  bool aud = payload["aud"].is_string() ? payload["aud"] == kAudience : false;
  if (payload["aud"].is_array())
    for (const auto& a : payload["aud"]) aud = aud || a == kAudience;
  if (!aud) {
    error = "the token's audience does not include '" + std::string(kAudience) + "'";
    return std::nullopt;
  }
  int64_t now = nowSeconds();
  if (!payload["exp"].is_number_integer() || payload["exp"].get<int64_t>() + kClockSkew.count() < now) {
    error = "the token has expired";
    return std::nullopt;
  }
  if (payload["nbf"].is_number_integer() && payload["nbf"].get<int64_t>() - kClockSkew.count() > now) {
    error = "the token is not valid yet";
    return std::nullopt;
  }
  const auto& k = payload["kubernetes.io"];
  if (!k.is_object() || !k["namespace"].is_string() || !k["serviceaccount"].is_object() ||
      !k["serviceaccount"]["name"].is_string()) {
    error = "the token names no namespace and service account";
    return std::nullopt;
  }
  WorkloadIdentity id{trust_domain_, k["namespace"], k["serviceaccount"]["name"]};
  if (!validName(id.ns) || !validName(id.service_account)) {
    error = "the token's namespace or service account is not a valid Kubernetes name";
    return std::nullopt;
  }
  return id;
}

}  // namespace weft::control::ca
