#pragma once
// JSON Web Key Sets for RequestAuthentication rules without inline `jwks`, fetched by weftd and
// inlined into the jwt_authn config, as istiod does by default (PILOT_JWT_ENABLE_REMOTE_JWKS
// false): from `jwksUri`, or from the `jwks_uri` of the issuer's OpenID discovery document
// (ISSUER/.well-known/openid-configuration). Key sets are cached; a background thread refreshes
// them every refresh interval (a failed one sooner, backing off from 1 s) and calls on_change
// when one changed, so proxies get the new keys; entries unused for 24 h are dropped. A key set
// that cannot be had is replaced by one no token verifies against (as istiod's fake JWKS): tokens
// are refused with 401 while requests without a token still reach AuthorizationPolicy.
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "control/config/config_snapshot.h"

namespace weft::control::authn {

class JwksResolver {
 public:
  struct Options {
    std::chrono::milliseconds fetch_timeout{5000};
    std::chrono::seconds refresh_interval{20 * 60};  // Istio's PILOT_JWT_PUB_KEY_REFRESH_INTERVAL
    size_t max_bytes = 1 << 20;
  };
  JwksResolver(Options options, std::function<void()> on_change);
  ~JwksResolver();
  JwksResolver(const JwksResolver&) = delete;
  JwksResolver& operator=(const JwksResolver&) = delete;

  // Fills `jwks` in every rule of `snap` that has none. Blocks while a key set is fetched the
  // first time (up to the rule's `timeout`, else fetch_timeout).
  void resolve(ConfigSnapshot& snap);
  // The key set for one rule (same rules as resolve).
  std::string keys(const std::string& issuer, const std::string& jwks_uri, std::chrono::milliseconds timeout);
  // The last error for that rule's key set ("" when it was fetched), for debug output and tests.
  std::string lastError(const std::string& issuer, const std::string& jwks_uri);

 private:
  struct Entry {
    std::string issuer, uri;
    std::string jwks;  // the last good key set; empty: never fetched
    std::string error;
    std::chrono::milliseconds timeout{};
    std::chrono::steady_clock::time_point last_used, next_fetch;
    std::chrono::seconds backoff{1};
  };
  // Fetches the key set (following discovery when there is no URI); "" with `error` set on failure.
  std::string fetch(const std::string& issuer, const std::string& uri, std::chrono::milliseconds timeout,
                    std::string& error) const;
  void refreshLoop();
  std::string fakeJwks();

  Options options_;
  std::function<void()> on_change_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::map<std::string, Entry> cache_;  // by jwksUri, or "issuer:" + issuer for discovery
  std::string fake_;
  std::thread refresher_;
};

}  // namespace weft::control::authn
