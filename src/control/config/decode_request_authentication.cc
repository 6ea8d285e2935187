// security.istio.io RequestAuthentication, validated as Istio's ValidateRequestAuthentication.
// The keys must be inline (`jwks`): weftd does not fetch `jwksUri` yet, and `fromCookies` has
// no counterpart in weft-proxy yet; both are refused by name.
#include <nlohmann/json.hpp>
#include <set>

#include "control/config/decode_util.h"
#include "control/config/decoders.h"

namespace weft::control::decode {

RequestAuthentication decodeRequestAuthentication(const YAML::Node& doc, Errors& errs) {
  RequestAuthentication ra;
  ra.meta = meta(doc, errs);
  YAML::Node spec = doc["spec"];
  if (!spec || spec.IsNull()) return ra;
  if (!expectMap(spec, "spec", errs)) return ra;
  checkKeys(spec, "spec", {"selector", "jwtRules", "targetRef", "targetRefs"}, errs);
  if (YAML::Node sel = spec["selector"]) {
    if (expectMap(sel, "spec.selector", errs)) {
      checkKeys(sel, "spec.selector", {"matchLabels"}, errs);
      ra.selector = labels(sel, "matchLabels", "spec.selector", errs);
    }
  }
  if (spec["targetRef"] || spec["targetRefs"]) errs.push_back("spec.targetRef: not supported by weftd; use selector");
  YAML::Node rules = spec["jwtRules"];
  if (rules && !rules.IsSequence()) errs.push_back("spec.jwtRules: must be a list");
  std::set<std::string> issuers;
  for (size_t i = 0; rules && rules.IsSequence() && i < rules.size(); ++i) {
    std::string rp = idx("spec.jwtRules", i);
    const YAML::Node& r = rules[i];
    if (!expectMap(r, rp, errs)) continue;
    checkKeys(r, rp,
              {"issuer", "audiences", "jwks", "jwksUri", "fromHeaders", "fromParams", "fromCookies",
               "forwardOriginalToken", "outputPayloadToHeader", "outputClaimToHeaders", "timeout"},
              errs);
    JwtRule jr;
    jr.issuer = str(r, "issuer", rp, errs);
    if (jr.issuer.empty()) errs.push_back(rp + ".issuer: issuer must be set");
    if (!jr.issuer.empty() && !issuers.insert(jr.issuer).second)
      errs.push_back(rp + ".issuer: '" + jr.issuer + "' is already used by another rule");
    jr.audiences = strings(r, "audiences", rp, errs);
    jr.jwks = str(r, "jwks", rp, errs);
    if (r["jwksUri"] && jr.jwks.empty())
      errs.push_back(rp + ".jwksUri: weftd does not fetch jwksUri yet; put the key set in `jwks`");
    if (!r["jwksUri"] && jr.jwks.empty()) errs.push_back(rp + ".jwks: required (inline JWKS)");
    if (!jr.jwks.empty()) {
      auto j = nlohmann::json::parse(jr.jwks, nullptr, false);
      if (j.is_discarded() || !j.is_object()) errs.push_back(rp + ".jwks: not a JSON Web Key Set");
    }
    if (r["fromCookies"]) errs.push_back(rp + ".fromCookies: not supported by weftd yet");
    if (YAML::Node hs = r["fromHeaders"]) {
      for (size_t j = 0; hs.IsSequence() && j < hs.size(); ++j) {
        std::string hp = idx(rp + ".fromHeaders", j);
        checkKeys(hs[j], hp, {"name", "prefix"}, errs);
        std::string name = str(hs[j], "name", hp, errs);
        if (name.empty()) errs.push_back(hp + ".name: location header name must be non-empty");
        jr.from_headers.emplace_back(name, str(hs[j], "prefix", hp, errs));
      }
    }
    jr.from_params = strings(r, "fromParams", rp, errs);
    for (const auto& p : jr.from_params)
      if (p.empty()) errs.push_back(rp + ".fromParams: location query must be non-empty");
    if (YAML::Node f = r["forwardOriginalToken"])
      jr.forward_original_token = f.IsScalar() && f.as<std::string>() == "true";
    jr.output_payload_to_header = str(r, "outputPayloadToHeader", rp, errs);
    if (YAML::Node oc = r["outputClaimToHeaders"]) {
      for (size_t j = 0; oc.IsSequence() && j < oc.size(); ++j) {
        std::string op = idx(rp + ".outputClaimToHeaders", j);
        checkKeys(oc[j], op, {"header", "claim"}, errs);
        std::string header = str(oc[j], "header", op, errs), claim = str(oc[j], "claim", op, errs);
        if (header.empty()) errs.push_back(op + ".header: outputClaimToHeaders header must be set");
        if (claim.empty()) errs.push_back(op + ".claim: outputClaimToHeaders claim must be set");
        jr.output_claim_to_headers.emplace_back(header, claim);
      }
    }
    ra.jwt_rules.push_back(std::move(jr));
  }
  return ra;
}

}  // namespace weft::control::decode
