#include "proxy/http/hash_policy.h"

#include <algorithm>
#include <cstdio>

#include "common/config/error.h"
#include "common/hash.h"
#include "common/strings.h"
#include "proxy/http/matchers.h"

namespace weft::proxy::http {

namespace rv3 = envoy::config::route::v3;

std::shared_ptr<const HashPolicy> HashPolicy::compile(
    const google::protobuf::RepeatedPtrField<rv3::RouteAction::HashPolicy>& policies, const std::string& path) {
  auto out = std::make_shared<HashPolicy>();
  for (int i = 0; i < policies.size(); ++i) {
    const auto& p = policies[i];
    std::string pp = path + "[" + std::to_string(i) + "]";
    Part part;
    part.terminal = p.terminal();
    switch (p.policy_specifier_case()) {
      case rv3::RouteAction::HashPolicy::kHeader:
        part.kind = Part::Kind::Header;
        part.name = weft::toLower(p.header().header_name());
        if (part.name.empty()) throw ConfigError(pp + ".header.header_name: must not be empty");
        break;
      case rv3::RouteAction::HashPolicy::kCookie:
        part.kind = Part::Kind::Cookie;
        part.name = p.cookie().name();
        if (part.name.empty()) throw ConfigError(pp + ".cookie.name: must not be empty");
        if (p.cookie().has_ttl()) part.ttl = std::chrono::seconds(p.cookie().ttl().seconds());
        part.path = p.cookie().path();
        for (const auto& a : p.cookie().attributes()) part.attributes.emplace_back(a.name(), a.value());
        break;
      case rv3::RouteAction::HashPolicy::kConnectionProperties:
        if (!p.connection_properties().source_ip()) continue;  // nothing to hash
        part.kind = Part::Kind::SourceIp;
        break;
      case rv3::RouteAction::HashPolicy::kQueryParameter:
        part.kind = Part::Kind::QueryParameter;
        part.name = p.query_parameter().name();
        if (part.name.empty()) throw ConfigError(pp + ".query_parameter.name: must not be empty");
        break;
      default:
        throw ConfigError(pp +
                          ": a header, cookie, connection_properties or query_parameter policy is needed "
                          "(filter_state is not supported by weft-proxy)");
    }
    out->parts_.push_back(std::move(part));
  }
  return out;
}

std::optional<uint64_t> HashPolicy::hashOf(const Part& p, const RequestHead& req, const net::Address& remote,
                                           const net::Address& local, std::string* set_cookie) const {
  switch (p.kind) {
    case Part::Kind::Header: {
      // Every value, sorted, so their order does not change the hash (as Envoy).
      std::vector<std::string_view> values;
      if (p.name == ":authority" || p.name == "host") {
        values.push_back(req.host);
      } else if (p.name == ":path") {
        values.push_back(req.target);
      } else if (p.name == ":method") {
        values.push_back(req.method);
      } else {
        for (const Header& h : req.headers) {
          if (equalsIgnoreCase(h.name, p.name)) values.push_back(h.value);
        }
      }
      if (values.empty()) return std::nullopt;
      std::sort(values.begin(), values.end());
      uint64_t hash = 0;
      for (std::string_view v : values) hash = xxHash64(v, hash);
      return hash;
    }
    case Part::Kind::Cookie: {
      if (auto v = cookieValue(req, p.name)) return xxHash64(*v);
      if (!p.ttl) return std::nullopt;
      // As Envoy: the same value for every request of a connection.
      char hex[17];
      std::snprintf(hex, sizeof(hex), "%016llx",
                    static_cast<unsigned long long>(xxHash64(remote.toString() + local.toString())));
      std::string cookie = p.name + "=\"" + hex + "\"";
      if (p.ttl->count() != 0) cookie += "; Max-Age=" + std::to_string(p.ttl->count());
      if (!p.path.empty()) cookie += "; Path=" + p.path;
      for (const auto& [name, value] : p.attributes) cookie += "; " + name + (value.empty() ? "" : "=" + value);
      cookie += "; HttpOnly";
      if (set_cookie != nullptr) *set_cookie = std::move(cookie);
      return xxHash64(hex);
    }
    case Part::Kind::SourceIp:
      return xxHash64(remote.ip());
    case Part::Kind::QueryParameter:
      if (auto v = queryValue(req.query, p.name)) return xxHash64(*v);
      return std::nullopt;
  }
  return std::nullopt;
}

std::optional<uint64_t> HashPolicy::hash(const RequestHead& req, const net::Address& remote, const net::Address& local,
                                         std::string* set_cookie) const {
  std::optional<uint64_t> hash;
  for (const Part& p : parts_) {
    if (auto h = hashOf(p, req, remote, local, set_cookie)) {
      // Rotating the previous value keeps two equal rules from cancelling out (Envoy's).
      uint64_t old = hash ? ((*hash << 1) | (*hash >> 63)) : 0;
      hash = old ^ *h;
    }
    if (p.terminal && hash) break;
  }
  return hash;
}

}  // namespace weft::proxy::http
