#include "control/authn/jwks_resolver.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "common/jwt/jws.h"
#include "control/authn/http_fetch.h"

namespace weft::control::authn {

namespace {
using Clock = std::chrono::steady_clock;
constexpr auto kEvictAfter = std::chrono::hours(24);

std::string cacheKey(const std::string& issuer, const std::string& uri) {
  return uri.empty() ? "issuer:" + issuer : uri;
}
}  // namespace

JwksResolver::JwksResolver(Options options, std::function<void()> on_change)
    : options_(options), on_change_(std::move(on_change)), refresher_([this] { refreshLoop(); }) {}

JwksResolver::~JwksResolver() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  refresher_.join();
}

std::string JwksResolver::fetch(const std::string& issuer, const std::string& uri, std::chrono::milliseconds timeout,
                                std::string& error) const {
  std::string jwks_uri = uri;
  if (jwks_uri.empty()) {
    std::string base = issuer;
    while (!base.empty() && base.back() == '/') base.pop_back();
    FetchResult d = httpGet(base + "/.well-known/openid-configuration", timeout, options_.max_bytes);
    if (!d.error.empty()) {
      error = "OpenID discovery for issuer '" + issuer + "': " + d.error;
      return {};
    }
    auto doc = nlohmann::json::parse(d.body, nullptr, false);
    if (!doc.is_object() || !doc.contains("jwks_uri") || !doc["jwks_uri"].is_string()) {
      error = "OpenID discovery for issuer '" + issuer + "': the document has no jwks_uri";
      return {};
    }
    jwks_uri = doc["jwks_uri"].get<std::string>();
  }
  FetchResult r = httpGet(jwks_uri, timeout, options_.max_bytes);
  if (!r.error.empty()) {
    error = r.error;
    return {};
  }
  auto set = nlohmann::json::parse(r.body, nullptr, false);
  if (!set.is_object() || !set.contains("keys") || !set["keys"].is_array() || set["keys"].empty()) {
    error = "GET " + jwks_uri + ": not a JSON Web Key Set with keys";
    return {};
  }
  error.clear();
  return r.body;
}

std::string JwksResolver::fakeJwks() {
  // A fresh RSA public key whose private half is thrown away: nothing verifies against it.
  if (!fake_.empty()) return fake_;
  EVP_PKEY* key = EVP_RSA_gen(2048);
  BIGNUM *n = nullptr, *e = nullptr;
  EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &n);
  EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &e);
  auto b64 = [](const BIGNUM* b) {
    std::string bytes(static_cast<size_t>(BN_num_bytes(b)), '\0');
    BN_bn2bin(b, reinterpret_cast<unsigned char*>(bytes.data()));
    return jwt::base64UrlEncode(bytes);
  };
  fake_ =
      nlohmann::json{{"keys", {{{"kty", "RSA"}, {"kid", "weftd-unavailable"}, {"n", b64(n)}, {"e", b64(e)}}}}}.dump();
  BN_free(n);
  BN_free(e);
  EVP_PKEY_free(key);
  return fake_;
}

std::string JwksResolver::keys(const std::string& issuer, const std::string& uri, std::chrono::milliseconds timeout) {
  std::string key = cacheKey(issuer, uri);
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = cache_.find(key);
    if (it != cache_.end()) {
      it->second.last_used = Clock::now();
      if (!it->second.jwks.empty()) return it->second.jwks;
      return fakeJwks();  // failing: the refresher keeps trying
    }
  }
  std::string error;
  std::string jwks = fetch(issuer, uri, timeout, error);
  std::lock_guard<std::mutex> lock(mu_);
  Entry& e = cache_[key];
  e.issuer = issuer;
  e.uri = uri;
  e.timeout = timeout;
  e.jwks = jwks;
  e.error = error;
  e.last_used = Clock::now();
  e.next_fetch = Clock::now() + (jwks.empty() ? e.backoff : options_.refresh_interval);
  wake_.notify_all();
  if (!jwks.empty()) return jwks;
  spdlog::error("jwks: {}; tokens of this issuer are refused until it can be fetched", error);
  return fakeJwks();
}

std::string JwksResolver::lastError(const std::string& issuer, const std::string& uri) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = cache_.find(cacheKey(issuer, uri));
  return it == cache_.end() ? std::string() : it->second.error;
}

void JwksResolver::resolve(ConfigSnapshot& snap) {
  for (auto& ra : snap.request_authentications) {
    for (auto& r : ra.jwt_rules) {
      if (!r.jwks.empty()) continue;
      r.jwks = keys(r.issuer, r.jwks_uri,
                    r.fetch_timeout_ms ? std::chrono::milliseconds(*r.fetch_timeout_ms) : options_.fetch_timeout);
    }
  }
}

void JwksResolver::refreshLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    auto now = Clock::now();
    auto next = now + options_.refresh_interval;
    for (auto it = cache_.begin(); it != cache_.end();) {
      if (now - it->second.last_used > kEvictAfter) {
        it = cache_.erase(it);
        continue;
      }
      next = std::min(next, it->second.next_fetch);
      ++it;
    }
    if (next > now) {
      wake_.wait_until(lock, next);
      continue;
    }
    // Fetch what is due with the lock released: a slow issuer must not hold up resolve().
    std::vector<std::pair<std::string, Entry>> due;
    for (const auto& [k, e] : cache_)
      if (e.next_fetch <= now) due.emplace_back(k, e);
    lock.unlock();
    bool changed = false;
    std::vector<std::pair<std::string, std::pair<std::string, std::string>>> results;
    for (const auto& [k, e] : due) {
      std::string error;
      std::string jwks = fetch(e.issuer, e.uri, e.timeout, error);
      results.push_back({k, {jwks, error}});
    }
    lock.lock();
    for (auto& [k, result] : results) {
      auto it = cache_.find(k);
      if (it == cache_.end()) continue;
      Entry& e = it->second;
      auto& [jwks, error] = result;
      if (jwks.empty()) {
        if (e.error != error) spdlog::error("jwks: refresh: {}", error);
        e.error = error;
        e.next_fetch = Clock::now() + e.backoff;
        e.backoff = std::min<std::chrono::seconds>(e.backoff * 2, options_.refresh_interval);
        continue;  // the last good key set (or the fake one) stays
      }
      if (jwks != e.jwks) {
        spdlog::info("jwks: the key set of {} changed", e.uri.empty() ? "issuer " + e.issuer : e.uri);
        changed = true;
      }
      e.jwks = std::move(jwks);
      e.error.clear();
      e.backoff = std::chrono::seconds(1);
      e.next_fetch = Clock::now() + options_.refresh_interval;
    }
    if (changed && on_change_) {
      lock.unlock();
      on_change_();
      lock.lock();
    }
  }
}

}  // namespace weft::control::authn
