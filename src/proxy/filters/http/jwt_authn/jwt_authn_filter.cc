#include "proxy/filters/http/jwt_authn/jwt_authn_filter.h"

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/util/json_util.h>
#include "common/base64.h"
#include "common/config/error.h"
#include "common/jwt/jws.h"

#include <algorithm>
#include <cstring>
#include <map>
#include "proxy/http/filter_registry.h"
#include "proxy/http/matchers.h"

namespace weft::proxy::http::jwt_authn {

namespace {

struct Found {
  std::string token;
  std::string header;  // where it came from, to remove it when not forwarded ("" for a param)
};

// The provider's token, from its locations in order.
std::optional<Found> findToken(const Provider& p, const RequestHead& head) {
  auto headers = p.from_headers;
  auto params = p.from_params;
  if (headers.empty() && params.empty() && p.from_cookies.empty()) {  // Envoy's defaults
    headers = {{"authorization", "Bearer "}};
    params = {"access_token"};
  }
  for (const auto& [name, prefix] : headers) {
    for (const auto& h : head.headers) {
      if (!equalsIgnoreCase(h.name, name)) continue;
      std::string_view v = h.value;
      if (!prefix.empty()) {
        if (v.size() < prefix.size() || !equalsIgnoreCase(v.substr(0, prefix.size()), prefix)) continue;
        v.remove_prefix(prefix.size());
      }
      return Found{std::string(v), name};
    }
  }
  for (const auto& name : params) {
    if (auto v = queryValue(head.query, name); v && !v->empty()) return Found{std::string(*v), ""};
  }
  for (const auto& name : p.from_cookies) {
    if (auto v = cookieValue(head, name); v && !v->empty()) return Found{std::string(*v), ""};
  }
  return std::nullopt;
}

// Envoy's NormalizePayload: each listed claim that is a string becomes the list of its
// space-separated words, so a matcher can look for one scope among several.
void normalize(nlohmann::json& payload, const std::vector<std::string>& space_delimited) {
  for (const auto& claim : space_delimited) {
    auto it = payload.find(claim);
    if (it == payload.end() || !it->is_string()) continue;
    std::string text = it->get<std::string>();
    nlohmann::json words = nlohmann::json::array();
    size_t at = 0;
    while (at < text.size()) {
      size_t end = text.find(' ', at);
      if (end == std::string::npos) end = text.size();
      if (end > at) words.push_back(text.substr(at, end - at));
      at = end + 1;
    }
    *it = std::move(words);
  }
}

}  // namespace

std::string verifyToken(const Provider& p, std::string_view token, int64_t now, std::string* payload_json) {
  std::string error;
  auto jws = jwt::splitCompact(token, error);
  if (!jws) return "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections";
  auto header = nlohmann::json::parse(jws->header, nullptr, false);
  auto payload = nlohmann::json::parse(jws->payload, nullptr, false);
  if (!header.is_object() || !payload.is_object()) return "Jwt header or payload is an invalid JSON";
  std::string alg = header.value("alg", "");
  std::string kid = header.contains("kid") && header["kid"].is_string() ? header["kid"].get<std::string>() : "";
  if (alg.empty() || alg == "none") return "Jwt header [alg] is not supported";
  if (!p.issuer.empty() && payload.value("iss", "") != p.issuer) return "Jwt issuer is not configured";
  if (!p.audiences.empty()) {
    bool ok = false;
    auto has = [&](const nlohmann::json& a) {
      if (a.is_string())
        for (const auto& want : p.audiences) ok = ok || a.get<std::string>() == want;
    };
    if (payload.contains("aud") && payload["aud"].is_array()) {
      for (const auto& a : payload["aud"]) has(a);
    } else if (payload.contains("aud")) {
      has(payload["aud"]);
    }
    if (!ok) return "Audiences in Jwt are not allowed";
  }
  if (payload.contains("nbf") && payload["nbf"].is_number() &&
      payload["nbf"].get<double>() > now + p.clock_skew_seconds)
    return "Jwt not yet valid";
  if (payload.contains("exp") && payload["exp"].is_number() &&
      payload["exp"].get<double>() < now - p.clock_skew_seconds)
    return "Jwt is expired";
  bool kid_matched = false;
  for (const auto& k : p.keys) {
    if (!kid.empty() && !k.kid.empty() && k.kid != kid) continue;
    if (!k.alg.empty() && k.alg != alg) continue;
    kid_matched = true;
    if (jwt::verify(alg, k.key.get(), jws->signing_input, jws->signature, error)) {
      if (payload_json) *payload_json = jws->payload;
      return {};
    }
  }
  return kid_matched ? "Jwt verification fails" : "Jwks doesn't have key to match kid or alg from Jwt";
}

void JwtAuthnFilter::deny(const std::string& why) {
  config_.stats->inc(JwtAuthnStats::denied);
  LocalReply r;
  r.status = 401;
  r.body = dec_->keep(why);
  std::string detail = "jwt_authn_access_denied{" + why + "}";
  for (char& c : detail)
    if (c == ' ') c = '_';
  r.details = dec_->keep(detail);
  const RequestHead& head = dec_->requestHeaders();
  std::string host(head.host), path(head.path);
  r.headers.push_back(
      {"www-authenticate", dec_->keep("Bearer realm=\"http://" + host + path + "\", error=\"invalid_token\"")});
  dec_->sendLocalReply(r);
}

FilterStatus JwtAuthnFilter::decodeHeaders(RequestHead& head, bool) {
  const Rule* rule = nullptr;
  for (const auto& r : config_.rules) {
    if ((!r.path.empty() && head.path == r.path) ||
        (r.path.empty() && head.path.substr(0, r.prefix.size()) == r.prefix)) {
      rule = &r;
      break;
    }
  }
  if (rule == nullptr) return FilterStatus::Continue;
  const Requirement& req = rule->requirement;
  int64_t now =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  std::string failure;
  bool any_token = false;
  for (const Provider* p : req.providers) {
    auto found = findToken(*p, head);
    if (!found) continue;
    any_token = true;
    std::string payload;
    std::string why = verifyToken(*p, found->token, now, &payload);
    if (!why.empty()) {
      if (failure.empty()) failure = why;
      continue;
    }
    if (!p->forward && !found->header.empty()) {
      std::erase_if(head.headers, [&](const Header& h) { return equalsIgnoreCase(h.name, found->header); });
    }
    if (!p->forward_payload_header.empty())
      head.headers.push_back({p->forward_payload_header, dec_->keep(jwt::base64UrlEncode(payload))});
    if (!p->claim_to_headers.empty() || !p->payload_in_metadata.empty()) {
      auto claims = nlohmann::json::parse(payload, nullptr, false);
      for (const auto& [header, claim] : p->claim_to_headers) {
        if (!claims.contains(claim)) continue;
        const auto& v = claims[claim];
        std::string text = v.is_string() ? v.get<std::string>() : v.is_primitive() ? v.dump() : "";
        if (!text.empty()) head.headers.push_back({dec_->keep(header), dec_->keep(text)});
      }
      if (!p->payload_in_metadata.empty()) {
        normalize(claims, p->space_delimited_claims);
        dec_->streamInfo().metadata.set("envoy.filters.http.jwt_authn", p->payload_in_metadata, std::move(claims));
      }
    }
    config_.stats->inc(JwtAuthnStats::allowed);
    return FilterStatus::Continue;
  }
  if (req.allow_missing_or_failed || (!any_token && req.allow_missing)) {
    config_.stats->inc(JwtAuthnStats::allowed);
    return FilterStatus::Continue;
  }
  deny(any_token ? failure : "Jwt is missing");
  return FilterStatus::StopIteration;
}

namespace {

using nlohmann::json;

// JwtAuthentication through reflection, as JSON with the proto's field names: its generated
// C++ has a field named `requires` (a C++20 keyword) and is compiled apart (api/CMakeLists.txt).
json configJson(const google::protobuf::Any& any, const std::string& path) {
  const auto* desc = google::protobuf::DescriptorPool::generated_pool()->FindMessageTypeByName(
      "envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication");
  if (desc == nullptr) throw ConfigError(path + ": JwtAuthentication is not built into weft-proxy");
  std::unique_ptr<google::protobuf::Message> msg(
      google::protobuf::MessageFactory::generated_factory()->GetPrototype(desc)->New());
  if (!any.UnpackTo(msg.get())) throw ConfigError(path + ": cannot decode a JwtAuthentication");
  std::string text;
  google::protobuf::util::JsonPrintOptions o;
  o.preserve_proto_field_names = true;
  if (!google::protobuf::util::MessageToJsonString(*msg, &text, o).ok())
    throw ConfigError(path + ": cannot read the JwtAuthentication");
  return json::parse(text);
}

std::string readJwks(const json& ds, const std::string& path) {
  if (ds.contains("inline_string")) return ds["inline_string"].get<std::string>();
  if (ds.contains("inline_bytes")) {
    // Proto JSON carries bytes as standard base64.
    auto out = base64Decode(ds["inline_bytes"].get<std::string>());
    if (!out) throw ConfigError(path + ".inline_bytes: not base64");
    return *out;
  }
  if (ds.contains("filename")) {
    std::string name = ds["filename"].get<std::string>();
    std::ifstream f(name);
    if (!f) throw ConfigError(path + ".filename: cannot read '" + name + "'");
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
  }
  throw ConfigError(path + ": one of inline_string, inline_bytes or filename is required");
}

Requirement requirement(const json& r, const JwtAuthnConfig& c, const std::string& path) {
  auto provider = [&](const std::string& name, const std::string& p) {
    for (const auto& pr : c.providers)
      if (pr->name == name) return pr.get();
    throw ConfigError(p + ": provider '" + name + "' is not in providers");
  };
  Requirement out;
  if (r.contains("provider_name")) {
    out.providers.push_back(provider(r["provider_name"], path + ".provider_name"));
  } else if (r.contains("allow_missing")) {
    out.allow_missing = true;
  } else if (r.contains("allow_missing_or_failed")) {
    out.allow_missing_or_failed = true;
  } else if (r.contains("requires_any")) {
    const json& any = r["requires_any"].value("requirements", json::array());
    for (size_t i = 0; i < any.size(); ++i) {
      std::string p = path + ".requires_any.requirements[" + std::to_string(i) + "]";
      if (any[i].contains("allow_missing"))
        out.allow_missing = true;
      else if (any[i].contains("allow_missing_or_failed"))
        out.allow_missing_or_failed = true;
      else if (any[i].contains("provider_name"))
        out.providers.push_back(provider(any[i]["provider_name"], p + ".provider_name"));
      else
        throw ConfigError(p + ": weft-proxy takes provider_name, allow_missing or allow_missing_or_failed here");
    }
  } else {
    throw ConfigError(path +
                      ": weft-proxy supports provider_name, requires_any, allow_missing, "
                      "allow_missing_or_failed");
  }
  return out;
}

class JwtAuthnFactory final : public HttpFilterFactory {
 public:
  std::string_view name() const override { return "envoy.filters.http.jwt_authn"; }
  std::vector<std::string_view> configTypes() const override {
    return {"envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication"};
  }
  config::FieldTable supportedFields() const override {
    return {
        {"envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication", {"providers", "rules"}},
        {"envoy.extensions.filters.http.jwt_authn.v3.JwtProvider",
         {"issuer", "audiences", "local_jwks", "forward", "from_headers", "from_params", "from_cookies",
          "forward_payload_header", "claim_to_headers", "clock_skew_seconds", "payload_in_metadata",
          "normalize_payload_in_metadata"}},
        {"envoy.extensions.filters.http.jwt_authn.v3.JwtProvider.NormalizePayload", {"space_delimited_claims"}},
        {"envoy.extensions.filters.http.jwt_authn.v3.JwtHeader", {"name", "value_prefix"}},
        {"envoy.extensions.filters.http.jwt_authn.v3.JwtClaimToHeader", {"header_name", "claim_name"}},
        {"envoy.extensions.filters.http.jwt_authn.v3.RequirementRule", {"match", "requires"}},
        {"envoy.extensions.filters.http.jwt_authn.v3.JwtRequirement",
         {"provider_name", "requires_any", "allow_missing", "allow_missing_or_failed"}},
        {"envoy.extensions.filters.http.jwt_authn.v3.JwtRequirementOrList", {"requirements"}},
        {"envoy.config.route.v3.RouteMatch", {"prefix", "path"}},
        {"envoy.config.core.v3.DataSource", {"inline_string", "inline_bytes", "filename"}},
    };
  }
  FilterFactoryCb compile(const google::protobuf::Any& any, const std::string& path,
                          FilterFactoryContext& ctx) const override {
    json p = configJson(any, path);
    auto c = std::make_shared<JwtAuthnConfig>();
    std::map<std::string, json> sorted;
    const json providers = p.value("providers", json::object());
    for (const auto& [name, pr] : providers.items()) sorted[name] = pr;
    for (const auto& [name, pr] : sorted) {
      std::string pp = path + ".providers['" + name + "']";
      auto prov = std::make_unique<Provider>();
      prov->name = name;
      prov->issuer = pr.value("issuer", "");
      for (const auto& a : pr.value("audiences", json::array())) prov->audiences.push_back(a);
      if (!pr.contains("local_jwks"))
        throw ConfigError(pp + ".local_jwks: required (weft-proxy does not fetch remote_jwks; weftd inlines them)");
      prov->keys = parseJwks(readJwks(pr["local_jwks"], pp + ".local_jwks"), pp + ".local_jwks");
      prov->forward = pr.value("forward", false);
      for (const auto& h : pr.value("from_headers", json::array()))
        prov->from_headers.emplace_back(h.value("name", ""), h.value("value_prefix", ""));
      for (const auto& q : pr.value("from_params", json::array())) prov->from_params.push_back(q);
      for (const auto& k : pr.value("from_cookies", json::array())) prov->from_cookies.push_back(k);
      prov->payload_in_metadata = pr.value("payload_in_metadata", "");
      for (const auto& k :
           pr.value("normalize_payload_in_metadata", json::object()).value("space_delimited_claims", json::array()))
        prov->space_delimited_claims.push_back(k);
      prov->forward_payload_header = pr.value("forward_payload_header", "");
      for (const auto& ch : pr.value("claim_to_headers", json::array()))
        prov->claim_to_headers.emplace_back(ch.value("header_name", ""), ch.value("claim_name", ""));
      if (pr.value("clock_skew_seconds", 0) > 0) prov->clock_skew_seconds = pr.value("clock_skew_seconds", 60);
      c->providers.push_back(std::move(prov));
    }
    const json rules = p.value("rules", json::array());
    for (size_t i = 0; i < rules.size(); ++i) {
      std::string rp = path + ".rules[" + std::to_string(i) + "]";
      const json& r = rules[i];
      Rule rule;
      json match = r.value("match", json::object());
      if (match.contains("path"))
        rule.path = match["path"];
      else if (match.contains("prefix"))
        rule.prefix = match["prefix"];
      else
        throw ConfigError(rp + ".match: weft-proxy matches by prefix or path");
      if (!r.contains("requires")) throw ConfigError(rp + ".requires: required");
      rule.requirement = requirement(r["requires"], *c, rp + ".requires");
      c->rules.push_back(std::move(rule));
    }
    c->stats = ctx.store.scope("http." + std::string(ctx.stat_prefix) + ".jwt_authn.", JwtAuthnStats::kDefs,
                               JwtAuthnStats::kCount);
    return [c](FilterChainBuilder& chain) { chain.addDecoder<JwtAuthnFilter>(*c); };
  }
};

}  // namespace

WEFT_REGISTER_HTTP_FILTER(JwtAuthnFactory);

}  // namespace weft::proxy::http::jwt_authn
