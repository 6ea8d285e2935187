#pragma once
// envoy.filters.http.jwt_authn: JSON Web Tokens checked as Envoy does. The first rule whose
// match (prefix or path) fits the request names its requirement: one provider, or any of
// several, with allow_missing / allow_missing_or_failed. A provider's token comes from its
// from_headers / from_params / from_cookies (by default `Authorization: Bearer` and
// `access_token`), is
// verified with its local_jwks (RS/PS/ES algorithms; never "none"), its issuer, audiences and
// times (clock_skew_seconds); then forward, forward_payload_header, claim_to_headers and
// payload_in_metadata (what RBAC's metadata matchers read) apply.
// A bad token is 401 "Jwt verification fails" (a missing one: "Jwt is missing") with
// www-authenticate, as Envoy. Stats http.<prefix>.jwt_authn.{allowed,denied}.
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/stats/stats.h"
#include "proxy/filters/http/jwt_authn/jwks.h"
#include "proxy/http/filter.h"

namespace weft::proxy::http::jwt_authn {

#define WEFT_JWT_AUTHN_STATS(COUNTER, GAUGE) COUNTER(allowed) COUNTER(denied)
WEFT_STATS_STRUCT(JwtAuthnStats, WEFT_JWT_AUTHN_STATS)

struct Provider {
  std::string name, issuer;
  std::vector<std::string> audiences;
  std::vector<Jwk> keys;
  bool forward = false;
  std::vector<std::pair<std::string, std::string>> from_headers;  // name, value prefix
  std::vector<std::string> from_params;
  std::vector<std::string> from_cookies;
  std::string forward_payload_header;
  std::vector<std::pair<std::string, std::string>> claim_to_headers;  // header, claim
  int64_t clock_skew_seconds = 60;
  // The verified payload goes to dynamic metadata envoy.filters.http.jwt_authn[payload_in_metadata]
  // (empty: not written), with these string claims split on spaces into lists.
  std::string payload_in_metadata;
  std::vector<std::string> space_delimited_claims;
};

struct Requirement {
  std::vector<const Provider*> providers;  // any of them
  bool allow_missing = false;
  bool allow_missing_or_failed = false;
};

struct Rule {
  std::string prefix, path;  // one of them
  Requirement requirement;
};

struct JwtAuthnConfig {
  std::vector<std::unique_ptr<Provider>> providers;
  std::vector<Rule> rules;
  std::shared_ptr<stats::Scope> stats;
};

// Why a token was refused ("" when it verified), in Envoy's words.
std::string verifyToken(const Provider& p, std::string_view token, int64_t now_seconds, std::string* payload_json);

class JwtAuthnFilter final : public StreamFilterBase, public StreamDecoderFilter {
 public:
  explicit JwtAuthnFilter(const JwtAuthnConfig& config) : config_(config) {}
  void setDecoderFilterCallbacks(StreamDecoderFilterCallbacks& cb) override { dec_ = &cb; }
  FilterStatus decodeHeaders(RequestHead& head, bool end_stream) override;

 private:
  void deny(const std::string& why);
  const JwtAuthnConfig& config_;
  StreamDecoderFilterCallbacks* dec_ = nullptr;
};

}  // namespace weft::proxy::http::jwt_authn
