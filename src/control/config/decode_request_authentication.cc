// security.istio.io RequestAuthentication, validated as Istio's ValidateRequestAuthentication.
// Keys come inline (`jwks`), or weftd fetches them from `jwksUri`, or from the issuer's OpenID
// discovery document when neither is given, as istiod does (control/authn/jwks_resolver).
#include <nlohmann/json.hpp>
#include <set>

#include "control/config/decode_util.h"
#include "control/config/decoders.h"

namespace weft::control::decode {

namespace {
// Istio's ParseJwksURI: an http or https URL with a host and, if any, a numeric port.
std::string checkJwksUri(const std::string& uri) {
  auto scheme_end = uri.find("://");
  std::string scheme = scheme_end == std::string::npos ? "" : uri.substr(0, scheme_end);
  if (scheme != "http" && scheme != "https") return "URI scheme \"" + scheme + "\" is not supported";
  std::string authority = uri.substr(scheme_end + 3);
  authority = authority.substr(0, authority.find_first_of("/?#"));
  if (authority.empty()) return "'" + uri + "' has no host";
  auto colon = authority.rfind(':');
  if (colon != std::string::npos && authority.find(']', colon) == std::string::npos) {
    std::string port = authority.substr(colon + 1);
    if (port.empty() || port.find_first_not_of("0123456789") != std::string::npos || port.size() > 5 ||
        std::stoi(port) > 65535)
      return "'" + uri + "' has an invalid port";
  }
  return {};
}
}  // namespace

RequestAuthentication decodeRequestAuthentication(const YAML::Node& doc, Errors& errs) {
  RequestAuthentication ra;
  ra.meta = meta(doc, errs);
  YAML::Node spec = doc["spec"];
  if (!spec || spec.IsNull()) return ra;
  if (!expectMap(spec, "spec", errs)) return ra;
  checkKeys(spec, "spec", {"selector", "jwtRules", "targetRef", "targetRefs"}, errs);
  ra.selector = workloadSelector(spec, errs, ra.warnings);
  policyTargetRefs(spec, errs);
  YAML::Node rules = spec["jwtRules"];
  if (rules && !rules.IsSequence()) errs.push_back("spec.jwtRules: must be a list");
  for (size_t i = 0; rules && rules.IsSequence() && i < rules.size(); ++i) {
    std::string rp = idx("spec.jwtRules", i);
    const YAML::Node& r = rules[i];
    if (!expectMap(r, rp, errs)) continue;
    checkKeys(
        r, rp,
        {"issuer", "audiences", "jwks", "jwksUri", "fromHeaders", "fromParams", "fromCookies", "forwardOriginalToken",
         "outputPayloadToHeader", "outputClaimToHeaders", "timeout", "spaceDelimitedClaims"},
        errs);
    JwtRule jr;
    jr.issuer = str(r, "issuer", rp, errs);
    jr.jwks_uri = str(r, "jwksUri", rp, errs);
    if (jr.issuer.empty() && jr.jwks_uri.empty()) errs.push_back(rp + ": issuer or jwksUri must be non-empty string");
    if (!jr.jwks_uri.empty()) {
      std::string why = checkJwksUri(jr.jwks_uri);
      if (!why.empty()) errs.push_back(rp + ".jwksUri: " + why);
    }
    jr.audiences = strings(r, "audiences", rp, errs);
    jr.jwks = str(r, "jwks", rp, errs);
    if (!jr.jwks.empty()) {
      auto j = nlohmann::json::parse(jr.jwks, nullptr, false);
      if (j.is_discarded() || !j.is_object()) {
        errs.push_back(rp + ".jwks: not a JSON Web Key Set");
      } else {
        // Istio's warnPrivateJwksKeys: a set, or one key; private or symmetric material is a warning.
        auto keys = j.contains("keys") ? j["keys"] : nlohmann::json::array({j});
        for (size_t k = 0; keys.is_array() && k < keys.size(); ++k) {
          if (keys[k].is_object() && (keys[k].contains("d") || (keys[k].contains("kty") && keys[k]["kty"] == "oct")))
            ra.warnings.push_back(rp + ".jwks: jwks key at index " + std::to_string(k) +
                                  " contains private key material; only public keys are used for verification");
        }
      }
    }
    if (YAML::Node presence = child(r, "presence", rp, errs); presence.IsDefined() && !presence.IsNull()) {
      std::string v = str(r, "presence", rp, errs);
      if (v != "OPTIONAL" && v != "REQUIRED")
        errs.push_back(rp + ".presence: Unsupported value: \"" + v +
                       "\": supported values: \"OPTIONAL\", \"REQUIRED\"");
    }
    jr.fetch_timeout_ms = istioDurationMs(r, "timeout", rp, errs);
    jr.from_cookies = strings(r, "fromCookies", rp, errs);
    for (const auto& c : jr.from_cookies)
      if (c.empty()) errs.push_back(rp + ".fromCookies: cookie name must be non-empty string");
    jr.space_delimited_claims = strings(r, "spaceDelimitedClaims", rp, errs);
    for (const auto& c : jr.space_delimited_claims)
      if (c.empty()) errs.push_back(rp + ".spaceDelimitedClaims: claim name must be non-empty string");
    for (const auto& a : jr.audiences)
      if (a.empty()) errs.push_back(rp + ".audiences: audience must be non-empty string");
    if (YAML::Node hs = seq(r, "fromHeaders", rp, errs)) {
      for (size_t j = 0; j < hs.size(); ++j) {
        std::string hp = idx(rp + ".fromHeaders", j);
        if (!expectMap(hs[j], hp, errs)) continue;
        checkKeys(hs[j], hp, {"name", "prefix"}, errs);
        std::string name = str(hs[j], "name", hp, errs);
        if (name.empty()) errs.push_back(hp + ".name: location header name must be non-empty");
        jr.from_headers.emplace_back(name, str(hs[j], "prefix", hp, errs));
      }
    }
    jr.from_params = strings(r, "fromParams", rp, errs);
    for (const auto& p : jr.from_params)
      if (p.empty()) errs.push_back(rp + ".fromParams: location query must be non-empty");
    jr.forward_original_token = boolean(r, "forwardOriginalToken", rp, errs).value_or(false);
    jr.output_payload_to_header = str(r, "outputPayloadToHeader", rp, errs);
    if (YAML::Node oc = seq(r, "outputClaimToHeaders", rp, errs)) {
      for (size_t j = 0; j < oc.size(); ++j) {
        std::string op = idx(rp + ".outputClaimToHeaders", j);
        if (!expectMap(oc[j], op, errs)) continue;
        checkKeys(oc[j], op, {"header", "claim"}, errs);
        std::string header = str(oc[j], "header", op, errs), claim = str(oc[j], "claim", op, errs);
        if (header.empty()) errs.push_back(op + ".header: outputClaimToHeaders header must be set");
        // Istio's ValidateStrictHTTPHeaderName.
        else if (header.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") !=
                 std::string::npos)
          errs.push_back(op + ".header: header name " + header + " is not a valid header name");
        if (claim.empty()) errs.push_back(op + ".claim: outputClaimToHeaders claim must be set");
        jr.output_claim_to_headers.emplace_back(header, claim);
      }
    }
    ra.jwt_rules.push_back(std::move(jr));
  }
  return ra;
}

}  // namespace weft::control::decode
