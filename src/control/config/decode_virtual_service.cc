// networking.istio.io VirtualService: HTTP and TCP routes, destinations and weights, redirects,
// rewrites, timeouts, header operations, fault injection and CORS.
#include "control/config/decoders.h"

#include <re2/re2.h>

#include <algorithm>
#include <cctype>
#include <set>

#include "common/strings.h"
#include "control/config/decode_util.h"
#include "control/config/istio_names.h"

namespace weft::control::decode {

namespace {

// Envoy's retry conditions Istio accepts in retryOn (besides HTTP status codes), and the ones
// weft-proxy implements.
constexpr std::string_view kIstioRetryOn[] = {"5xx",
                                              "gateway-error",
                                              "reset",
                                              "connect-failure",
                                              "envoy-ratelimited",
                                              "retriable-4xx",
                                              "refused-stream",
                                              "retriable-status-codes",
                                              "retriable-headers",
                                              "cancelled",
                                              "deadline-exceeded",
                                              "internal",
                                              "resource-exhausted",
                                              "unavailable",
                                              "reset-before-request",
                                              "http3-post-connect-failure"};
// retriable-headers passes through, as Istio's: it has no field for retriable_headers, so
// Envoy (and weft-proxy) never retry on it.
constexpr std::string_view kNotImplementedRetryOn[] = {"reset-before-request", "http3-post-connect-failure"};

// The codes Go's net/http names (http.StatusText), which Istio's retryOn accepts.
bool isKnownHttpStatus(int c) {
  static const std::set<int> known = {100, 101, 102, 103, 200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 300, 301,
                                      302, 303, 304, 305, 307, 308, 400, 401, 402, 403, 404, 405, 406, 407, 408, 409,
                                      410, 411, 412, 413, 414, 415, 416, 417, 418, 421, 422, 423, 424, 425, 426, 428,
                                      429, 431, 451, 500, 501, 502, 503, 504, 505, 506, 507, 508, 510, 511};
  return known.count(c) != 0;
}

std::optional<HttpRoute::Retries> decodeRetries(const YAML::Node& n, const std::string& p, Errors& errs) {
  if (!n) return std::nullopt;
  if (!expectMap(n, p, errs)) return std::nullopt;
  checkKeys(n, p,
            {"attempts", "perTryTimeout", "retryOn", "retryRemoteLocalities", "retryIgnorePreviousHosts", "backoff"},
            errs);
  HttpRoute::Retries r;
  if (auto a = integer(n, "attempts", p, errs)) {
    if (*a < 0) errs.push_back(p + ".attempts: must be >= 0, got " + std::to_string(*a));
    r.attempts = *a;
  }
  r.per_try_timeout_ms = istioDurationMs(n, "perTryTimeout", p, errs);
  r.retry_on = str(n, "retryOn", p, errs);
  // Istio splits on "," without trimming: " gateway-error" is not a policy.
  for (size_t at = 0; !r.retry_on.empty() && at <= r.retry_on.size();) {
    size_t comma = r.retry_on.find(',', at);
    std::string item = r.retry_on.substr(at, comma == std::string::npos ? std::string::npos : comma - at);
    at = comma == std::string::npos ? r.retry_on.size() + 1 : comma + 1;
    // An HTTP status code Go's http.StatusText knows, or one of Envoy's policies.
    bool code = !item.empty() && item.size() <= 3 && item.find_first_not_of("0123456789") == std::string::npos &&
                isKnownHttpStatus(std::stoi(item));
    bool known = code;
    for (auto k : kIstioRetryOn) known = known || k == item;
    if (!known) {
      errs.push_back(p + ".retryOn: \"" + item + "\" is not a valid retryOn policy");
      continue;
    }
    for (auto k : kNotImplementedRetryOn) {
      if (k == item)
        errs.push_back(p + ".retryOn: '" + item + "' is not supported by weftd (weft-proxy does not retry on it yet)");
    }
  }
  r.retry_remote_localities = boolean(n, "retryRemoteLocalities", p, errs).value_or(false);
  if (auto b = boolean(n, "retryIgnorePreviousHosts", p, errs)) r.retry_ignore_previous_hosts = *b;
  r.backoff_ms = istioDurationMs(n, "backoff", p, errs);
  if (r.attempts == 0 && (r.per_try_timeout_ms || !r.retry_on.empty() || n["retryRemoteLocalities"]))
    errs.push_back(p + ": http retry policy configured when attempts are set to 0 (disabled)");
  return r;
}

std::optional<Destination> destination(const YAML::Node& dest, const std::string& path, Errors& errs) {
  if (!dest || !dest.IsMap()) {
    errs.push_back(path + ": is required");
    return std::nullopt;
  }
  Destination d;
  checkKeys(dest, path, {"host", "subset", "port"}, errs);
  d.host = str(dest, "host", path, errs);
  if (d.host.empty())
    errs.push_back(path + ".host: is required");
  else if (!isValidHost(d.host) || d.host.find('*') != std::string::npos)
    errs.push_back(path + ".host: '" + d.host + "' is not a valid host name");
  d.subset = str(dest, "subset", path, errs);
  if (!d.subset.empty() && !isIstioDnsLabel(d.subset))
    errs.push_back(path + ".subset: subset name is invalid: " + d.subset);
  if (YAML::Node dp = dest["port"]) {
    checkKeys(dp, path + ".port", {"number"}, errs);
    d.port = port(dp, "number", path + ".port", errs, true);
  }
  return d;
}

std::vector<RouteDestination> routeDestinations(const YAML::Node& n, const std::string& path, Errors& errs) {
  std::vector<RouteDestination> out;
  if (!n || n.IsNull()) return out;
  if (!n.IsSequence()) {
    errs.push_back(path + ": must be a list");
    return out;
  }
  int64_t total = 0;
  for (size_t i = 0; i < n.size(); ++i) {
    std::string p = idx(path, i);
    const YAML::Node& r = n[i];
    if (!expectMap(r, p, errs)) continue;
    checkKeys(r, p, {"destination", "weight", "headers"}, errs);
    RouteDestination d;
    auto dest = destination(r["destination"], p + ".destination", errs);
    if (!dest) continue;
    d.destination = *dest;
    if (auto w = integer(r, "weight", p, errs)) {
      if (*w < 0) errs.push_back(p + ".weight: must be >= 0, got " + std::to_string(*w));
      d.weight = static_cast<int32_t>(*w);
      d.weight_set = true;
      total += *w;
    }
    headers(r["headers"], p + ".headers", d.request_headers, d.response_headers, errs);
    out.push_back(std::move(d));
  }
  if (out.size() > 1) {
    bool any_set = false;
    for (const auto& d : out) any_set |= d.weight_set;
    if (!any_set)
      errs.push_back(path + ": weights are required when there is more than one destination");
    else if (total == 0)
      errs.push_back(path + ": the weights must not all be zero");
  } else if (out.size() == 1 && !out[0].weight_set) {
    out[0].weight = 100;
  }
  return out;
}

// Istio's Percent {value: 0..100}.
double percentValue(const YAML::Node& p, const std::string& path, Errors& errs) {
  if (!expectMap(p, path, errs)) return 0;
  checkKeys(p, path, {"value"}, errs);
  std::string v = str(p, "value", path, errs);
  try {
    size_t used = 0;
    double d = v.empty() ? 0 : std::stod(v, &used);
    if (!v.empty() && used != v.size()) throw std::invalid_argument(v);
    if (d < 0 || d > 100) errs.push_back(path + ".value: must be in [0, 100], got " + v);
    return d;
  } catch (const std::exception&) {
    errs.push_back(path + ".value: must be a number, got '" + v + "'");
    return 0;
  }
}

// A fault's `percentage` (Istio's Percent); `percent`: the old integer field.
double percentage(const YAML::Node& n, const std::string& path, Errors& errs) {
  YAML::Node p = n["percentage"];
  if (!p || p.IsNull()) {
    if (auto old = integer(n, "percent", path, errs)) {
      if (*old < 0 || *old > 100) errs.push_back(path + ".percent: must be in [0, 100]");
      return static_cast<double>(*old);
    }
    return 100;
  }
  return percentValue(p, path + ".percentage", errs);
}

// The mirror of a route (`mirror` with `mirrorPercentage`, or the deprecated integer
// `mirrorPercent`) and its `mirrors` list, as Istio validates them: not both, percentages 0-100.
std::vector<HttpRoute::Mirror> mirrors(const YAML::Node& h, const std::string& path, Errors& errs,
                                       std::vector<std::string>& warnings) {
  std::vector<HttpRoute::Mirror> out;
  if (h["mirror"] && h["mirrors"]) errs.push_back(path + ": HTTP route cannot contain both mirror and mirrors");
  // The percentages are checked with or without a mirror, as Istio checks them.
  HttpRoute::Mirror m;
  if (YAML::Node pct = h["mirrorPercentage"]) {
    m.percent = percentValue(pct, path + ".mirrorPercentage", errs);
    m.from_percent = true;
  } else if (auto old = integer(h, "mirrorPercent", path, errs)) {
    if (*old < 0 || *old > 100) errs.push_back(path + ".mirrorPercent: must be in [0, 100]");
    m.percent = static_cast<double>(*old);
  }
  if (h["mirrorPercent"])
    warnings.push_back(path +
                       ".mirrorPercent: using deprecated setting \"mirrorPercent\", use \"mirrorPercentage\" "
                       "instead");
  if (h["mirror"]) {
    if (auto d = destination(h["mirror"], path + ".mirror", errs)) m.destination = *d;
    out.push_back(m);
  }
  YAML::Node list = h["mirrors"];
  if (list && !list.IsSequence()) errs.push_back(path + ".mirrors: must be a list");
  for (size_t i = 0; list && list.IsSequence() && i < list.size(); ++i) {
    std::string p = idx(path + ".mirrors", i);
    if (!expectMap(list[i], p, errs)) continue;
    checkKeys(list[i], p, {"destination", "percentage"}, errs);
    HttpRoute::Mirror m;
    if (auto d = destination(list[i]["destination"], p + ".destination", errs)) m.destination = *d;
    if (YAML::Node pct = list[i]["percentage"]) {
      m.percent = percentValue(pct, p + ".percentage", errs);
      m.from_percent = true;
    }
    out.push_back(m);
  }
  return out;
}

int grpcStatusCode(const std::string& name, const std::string& path, Errors& errs) {
  static const char* kNames[] = {
      "OK",        "CANCELLED",      "UNKNOWN",           "INVALID_ARGUMENT",   "DEADLINE_EXCEEDED",
      "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
      "ABORTED",   "OUT_OF_RANGE",   "UNIMPLEMENTED",     "INTERNAL",           "UNAVAILABLE",
      "DATA_LOSS", "UNAUTHENTICATED"};
  for (int i = 0; i < 17; ++i) {
    if (name == kNames[i]) return i;
  }
  errs.push_back(path + ": gRPC status \"" + name +
                 "\" is not supported. See https://github.com/grpc/grpc/blob/master/doc/statuscodes.md for a list of "
                 "supported codes, for example 'NOT_FOUND'");
  return 2;
}

// HTTPFaultInjection, as Istio validates it. A delay or abort without its type is valid for
// Istio and injects nothing; weftd says so in a warning.
std::optional<HttpRoute::Fault> decodeFault(const YAML::Node& n, const std::string& path, Errors& errs,
                                            std::vector<std::string>& warnings) {
  if (!n || n.IsNull() || !expectMap(n, path, errs)) return std::nullopt;
  checkKeys(n, path, {"delay", "abort"}, errs);
  HttpRoute::Fault f;
  if (!n["delay"] && !n["abort"]) {
    errs.push_back(path + ": HTTP fault injection must have an abort and/or a delay");
    return std::nullopt;
  }
  if (YAML::Node d = n["delay"]; d && expectMap(d, path + ".delay", errs)) {
    checkKeys(d, path + ".delay", {"fixedDelay", "percentage", "percent"}, errs);
    HttpRoute::Fault::Delay delay;
    auto ms = istioDurationMs(d, "fixedDelay", path + ".delay", errs);
    delay.percent = percentage(d, path + ".delay", errs);
    if (ms) {
      delay.fixed_ms = *ms;
      f.delay = delay;
    } else if (!d["fixedDelay"]) {
      warnings.push_back(path + ".delay: delay configured, but fixedDelay not set (no delay is injected)");
    }
  }
  if (YAML::Node a = n["abort"]; a && expectMap(a, path + ".abort", errs)) {
    checkKeys(a, path + ".abort", {"httpStatus", "grpcStatus", "percentage", "percent"}, errs);
    HttpRoute::Fault::Abort abort;
    if (auto st = integer(a, "httpStatus", path + ".abort", errs)) {
      if (*st < 200 || *st > 599)
        errs.push_back(path + ".abort.httpStatus: HTTP status " + std::to_string(*st) + " is not in range 200-599");
      abort.http_status = static_cast<int>(*st);
    }
    std::string grpc = str(a, "grpcStatus", path + ".abort", errs);
    if (!grpc.empty()) abort.grpc_status = grpcStatusCode(grpc, path + ".abort.grpcStatus", errs);
    if (abort.http_status && abort.grpc_status) errs.push_back(path + ".abort: only one of httpStatus and grpcStatus");
    abort.percent = percentage(a, path + ".abort", errs);
    if (abort.http_status || abort.grpc_status)
      f.abort = abort;
    else
      warnings.push_back(path + ".abort: abort configured, but error type not set (no abort is injected)");
  }
  if (!f.delay && !f.abort) return std::nullopt;
  return f;
}

// Istio's host.Name.Matches: equal names, or a wildcard ("*.foo.com", "*") covering the other.
bool hostsOverlap(const std::string& a, const std::string& b) {
  auto wild = [](const std::string& h) { return !h.empty() && h[0] == '*'; };
  auto endsWith = [](const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  if (wild(a) && wild(b))
    return a.size() < b.size() ? endsWith(b.substr(1), a.substr(1)) : endsWith(a.substr(1), b.substr(1));
  if (wild(a)) return endsWith(b, a.substr(1));
  if (wild(b)) return endsWith(a, b.substr(1));
  return a == b;
}

// RFC 7230's tchar, as Istio's character class writes it (which also lets ',' through).
bool isHeaderToken(const std::string& name) {
  static const std::string kExtra = "!#$%&'*+,-.^_`|~";
  for (char c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && kExtra.find(c) == std::string::npos) return false;
  return true;
}

// A header name in a match, as Istio's ValidateHTTPHeaderNameOrJwtClaimRoute: a token (RFC 7230
// tchar; Istio's character class also lets ',' through), a pseudo header, or a JWT claim
// (@request.auth.claims...), which only gateways may route on.
void checkMatchHeaderName(const std::string& name, const std::string& path, const std::vector<std::string>& gateways,
                          bool mesh_bound, Errors& errs) {
  if (name.empty()) {
    errs.push_back(path + ": header name cannot be empty");
    return;
  }
  std::string lower = name;
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower.rfind("@request.auth.claims", 0) == 0) {
    if (mesh_bound) {
      std::string list = "[";
      for (size_t i = 0; i < gateways.size(); ++i) list += (i ? " " : "") + gateways[i];
      errs.push_back(path + ": JWT claim based routing (key: " + name +
                     ") is only supported for gateway, found no gateways: " + list + "]");
    }
    return;
  }
  for (const char* pseudo : {":method", ":scheme", ":authority", ":path", ":status"})
    if (name == pseudo) return;
  if (!isHeaderToken(name)) errs.push_back(path + ": header name " + name + " is not a valid header name");
}

// headers / withoutHeaders of a match: a null value is an error; `withoutHeaders` regex "*"
// means "present" (so: absent), not a regex.
std::map<std::string, StringMatch> headerMatches(const YAML::Node& n, const std::string& path, bool without,
                                                 const std::vector<std::string>& gateways, bool mesh_bound,
                                                 Errors& errs) {
  std::map<std::string, StringMatch> out;
  if (!n || n.IsNull() || !expectMap(n, path, errs)) return out;
  for (const auto& kv : n) {
    std::string key = kv.first.as<std::string>();
    checkMatchHeaderName(key, join(path, key), gateways, mesh_bound, errs);
    if (!kv.second || kv.second.IsNull()) {
      errs.push_back(join(path, key) + ": header match " + key + " cannot be null");
      continue;
    }
    if (without && kv.second.IsMap() && kv.second.size() == 1 && kv.second["regex"] && kv.second["regex"].IsScalar() &&
        kv.second["regex"].Scalar() == "*") {
      out[key] = StringMatch{StringMatch::Kind::Present, ""};
      continue;
    }
    if (auto m = stringMatch(kv.second, join(path, key), errs)) out[key] = *m;
  }
  return out;
}

// CorsPolicy, as Istio validates it.
std::optional<HttpRoute::Cors> decodeCors(const YAML::Node& n, const std::string& path, Errors& errs) {
  if (!n || n.IsNull() || !expectMap(n, path, errs)) return std::nullopt;
  checkKeys(n, path,
            {"allowOrigins", "allowOrigin", "allowMethods", "allowHeaders", "exposeHeaders", "maxAge",
             "allowCredentials", "unmatchedPreflights"},
            errs);
  HttpRoute::Cors c;
  YAML::Node origins = n["allowOrigins"];
  if (origins && !origins.IsSequence()) errs.push_back(path + ".allowOrigins: must be a list");
  for (size_t i = 0; origins && origins.IsSequence() && i < origins.size(); ++i) {
    auto m = stringMatch(origins[i], idx(path + ".allowOrigins", i), errs, true);
    if (m && m->value.empty()) {
      errs.push_back(idx(path + ".allowOrigins", i) + ": '' is not a valid match type for CORS allow origins");
    } else if (m) {
      c.allow_origins.push_back(*m);
    }
  }
  for (const auto& o : strings(n, "allowOrigin", path, errs)) {  // deprecated: exact origins
    c.allow_origins.push_back(StringMatch{StringMatch::Kind::Exact, o});
  }
  c.allow_methods = strings(n, "allowMethods", path, errs);
  for (const auto& m : c.allow_methods) {
    static const std::set<std::string> kMethods = {"GET",    "HEAD",    "POST",    "PUT",   "PATCH",
                                                   "DELETE", "CONNECT", "OPTIONS", "TRACE", "*"};
    if (!kMethods.count(m)) errs.push_back(path + ".allowMethods: \"" + m + "\" is not a supported HTTP method");
  }
  c.allow_headers = strings(n, "allowHeaders", path, errs);
  c.expose_headers = strings(n, "exposeHeaders", path, errs);
  // Istio's ValidateCORSHTTPHeaderName: a token, or "*".
  for (const auto* list : {&c.allow_headers, &c.expose_headers}) {
    const std::string field = path + (list == &c.allow_headers ? ".allowHeaders" : ".exposeHeaders");
    for (const auto& h : *list) {
      if (h.empty()) {
        errs.push_back(field + ": header name cannot be empty");
      } else if (h != "*" && !isHeaderToken(h)) {
        errs.push_back(field + ": header name " + h + " is not a valid header name");
      }
    }
  }
  if (n["maxAge"]) {
    auto ns = goDurationNs(str(n, "maxAge", path, errs));
    c.max_age_ms = istioDurationMs(n, "maxAge", path, errs);
    if (c.max_age_ms && ns && *ns % 1000000000 != 0)
      errs.push_back(path + ".maxAge: max_age duration is accurate only to seconds precision");
  }
  std::string cred = str(n, "allowCredentials", path, errs);
  if (cred == "true" || cred == "false")
    c.allow_credentials = cred == "true";
  else if (!cred.empty())
    errs.push_back(path + ".allowCredentials: must be true or false");
  std::string unmatched = str(n, "unmatchedPreflights", path, errs);
  if (unmatched == "IGNORE")
    c.forward_unmatched_preflights = false;
  else if (!unmatched.empty() && unmatched != "FORWARD" && unmatched != "UNSPECIFIED")
    errs.push_back(path + ".unmatchedPreflights: must be FORWARD or IGNORE");
  return c;
}

// host.Name.SubsetOf: every name `a` matches is matched by `b`.
bool hostSubsetOf(const std::string& a, const std::string& b) {
  if (!b.empty() && b[0] == '*') {
    const std::string suffix = b.substr(1);
    const std::string name = !a.empty() && a[0] == '*' ? a.substr(1) : a;
    return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  }
  return !a.empty() && a[0] != '*' && a == b;
}

// Istio's validateTLSRoute / validateTLSMatch / validateSniHost.
void tlsRoute(const YAML::Node& t, const std::string& tp, VirtualService& vs, bool gateway_only, Errors& errs) {
  if (!expectMap(t, tp, errs)) return;
  checkKeys(t, tp, {"match", "route"}, errs);
  YAML::Node matches = seq(t, "match", tp, errs);
  if (!matches || matches.size() == 0) errs.push_back(tp + ": TLS route must have at least one match condition");
  for (size_t j = 0; matches && j < matches.size(); ++j) {
    const std::string mp = idx(tp + ".match", j);
    if (!matches[j] || matches[j].IsNull()) {
      errs.push_back(mp + ": TLS match may not be null");
      continue;
    }
    if (!expectMap(matches[j], mp, errs)) continue;
    checkKeys(matches[j], mp, {"sniHosts", "destinationSubnets", "port", "sourceLabels", "gateways", "sourceNamespace"},
              errs);
    auto snis = strings(matches[j], "sniHosts", mp, errs);
    if (snis.empty()) errs.push_back(mp + ": TLS match must have at least one SNI host");
    for (size_t k = 0; k < snis.size(); ++k) {
      const std::string& sni = snis[k];
      const std::string sp = idx(mp + ".sniHosts", k);
      auto bad = gateway_only && sni.rfind("outbound_.", 0) == 0 ? std::nullopt : wildcardDomainError(sni);
      if (bad) {
        if (isIpAddress(sni))
          vs.warnings.push_back(sp + ": using an IP address (\"" + sni +
                                "\") goes against SNI spec and most clients do not support this");
        else
          errs.push_back(sp + ": " + *bad);
        continue;
      }
      bool subset = false;
      for (const auto& h : vs.hosts) subset |= hostSubsetOf(sni, h);
      if (!subset) {
        std::string hosts;
        for (const auto& h : vs.hosts) hosts += (hosts.empty() ? "" : ", ") + h;
        errs.push_back(sp + ": SNI host \"" + sni +
                       "\" is not a compatible subset of any of the virtual service hosts: [" + hosts + "]");
      }
    }
    for (const auto& subnet : strings(matches[j], "destinationSubnets", mp, errs))
      if (auto e = ipSubnetError(subnet)) errs.push_back(mp + ".destinationSubnets: " + *e);
    if (auto portn = integer(matches[j], "port", mp, errs); portn && *portn != 0)
      if (auto e = portNumberError(*portn)) errs.push_back(mp + ".port: " + *e);
  }
  YAML::Node route = seq(t, "route", tp, errs);
  if (!route || route.size() == 0)
    errs.push_back(tp + ": TLS route is required");
  else
    routeDestinations(route, tp + ".route", errs);
}

}  // namespace

VirtualService decodeVirtualService(const YAML::Node& doc, Errors& errs) {
  VirtualService vs;
  vs.meta = meta(doc, errs);
  YAML::Node spec;
  if (!decode::spec(doc, spec, errs)) return vs;
  checkKeys(spec, "spec", {"hosts", "gateways", "http", "tcp", "tls", "exportTo"}, errs);
  vs.hosts = strings(spec, "hosts", "spec", errs);
  vs.gateways = strings(spec, "gateways", "spec", errs);
  YAML::Node tls = seq(spec, "tls", "spec", errs), tcp_routes = seq(spec, "tcp", "spec", errs);
  const size_t tls_count = tls ? tls.size() : 0;
  if (vs.hosts.empty()) {
    // Istio: a VirtualService without hosts is a delegate, for another one's http routes.
    if (!vs.gateways.empty()) errs.push_back("spec.gateways: delegate virtual service must have no gateways specified");
    if (tls_count > 0) errs.push_back("spec.tls: delegate virtual service must have no tls route specified");
    if (tcp_routes && tcp_routes.size() > 0)
      errs.push_back("spec.tcp: delegate virtual service must have no tcp route specified");
    errs.push_back("spec.hosts: delegate VirtualServices (without hosts) are not supported by weftd");
  }
  // Bound to gateways only (no "mesh"), with SNI matches: Istio also takes its auto-generated
  // "outbound_.<port>_.<subset>_.<host>" names.
  const bool gateway_only =
      !vs.gateways.empty() && std::find(vs.gateways.begin(), vs.gateways.end(), "mesh") == vs.gateways.end();
  bool sni = false;
  for (size_t i = 0; i < tls_count; ++i) {
    YAML::Node matches = seq(tls[i], "match", idx("spec.tls", i), errs);
    for (size_t j = 0; matches && j < matches.size(); ++j)
      sni |= !strings(matches[j], "sniHosts", idx(idx("spec.tls", i) + ".match", j), errs).empty();
  }
  bool hosts_valid = true;
  for (size_t i = 0; i < vs.hosts.size(); ++i) {
    if (gateway_only && sni && vs.hosts[i].rfind("outbound_.", 0) == 0) continue;
    if (!isValidHost(vs.hosts[i]) && !isIpAddress(vs.hosts[i])) {
      errs.push_back(idx("spec.hosts", i) + ": '" + vs.hosts[i] + "' is not a valid host");
      hosts_valid = false;
    }
  }
  // Literal and wildcard duplicates (*.foo.com and *.com), as Istio checks them.
  for (size_t i = 0; hosts_valid && i < vs.hosts.size(); ++i)
    for (size_t j = i + 1; j < vs.hosts.size(); ++j)
      if (hostsOverlap(vs.hosts[i], vs.hosts[j]))
        errs.push_back("spec.hosts: duplicate hosts in virtual service: " + vs.hosts[i] + " & " + vs.hosts[j]);
  const bool mesh_bound =
      vs.gateways.empty() || std::find(vs.gateways.begin(), vs.gateways.end(), "mesh") != vs.gateways.end();
  for (size_t i = 0; i < vs.hosts.size(); ++i) {
    if (mesh_bound && vs.hosts[i] == "*")
      errs.push_back(idx("spec.hosts", i) +
                     ": wildcard host * is not allowed for virtual services bound to the mesh gateway");
  }
  for (size_t i = 0; i < vs.gateways.size(); ++i) {
    const std::string& g = vs.gateways[i];
    if (g == "mesh") continue;
    // Istio's validateGatewayNames.
    const std::string gp = idx("spec.gateways", i);
    auto slash = g.find('/');
    if (slash == std::string::npos) {
      if (auto e = fqdnError(g)) errs.push_back(gp + ": " + *e);
      if (auto dot = g.find('.'); dot != std::string::npos) {
        std::string rest = g.substr(dot + 1);
        vs.warnings.push_back(gp + ": using legacy gatewayName format \"" + g +
                              "\"; prefer the <namespace>/<name> format: \"" + rest.substr(0, rest.find('.')) + "/" +
                              g.substr(0, dot) + "\"");
      }
    } else {
      std::string ns = g.substr(0, slash), name = g.substr(slash + 1);
      if (ns.empty() || name.empty()) errs.push_back(gp + ": config namespace and gateway name cannot be empty");
      if (!isDnsLabel(ns)) errs.push_back(gp + ": invalid value for namespace: \"" + ns + "\"");
      if (!isDnsLabel(name)) errs.push_back(gp + ": invalid value for gateway name: \"" + name + "\"");
    }
    errs.push_back(gp + ": gateway '" + g + "': Gateways are not supported by weftd yet (only 'mesh')");
  }
  vs.export_to = strings(spec, "exportTo", "spec", errs);
  for (const auto& e : exportToErrors(vs.meta.ns, vs.export_to, false)) errs.push_back("spec.exportTo: " + e);
  YAML::Node http = spec["http"];
  if (http && !http.IsSequence()) errs.push_back("spec.http: must be a list");
  for (size_t i = 0; http && http.IsSequence() && i < http.size(); ++i) {
    std::string p = idx("spec.http", i);
    const YAML::Node& h = http[i];
    if (!expectMap(h, p, errs)) continue;
    checkKeys(h, p,
              {"name", "match", "route", "redirect", "directResponse", "rewrite", "timeout", "headers", "fault",
               "corsPolicy", "retries", "mirror", "mirrors", "mirrorPercentage", "mirrorPercent"},
              errs);
    HttpRoute r;
    r.name = str(h, "name", p, errs);
    YAML::Node matches = seq(h, "match", p, errs);
    for (size_t j = 0; matches && j < matches.size(); ++j) {
      std::string mp = idx(p + ".match", j);
      const YAML::Node& m = matches[j];
      if (!expectMap(m, mp, errs)) continue;
      checkKeys(m, mp,
                {"name", "uri", "method", "authority", "headers", "withoutHeaders", "queryParams", "port",
                 "sourceLabels", "ignoreUriCase"},
                errs);
      HttpMatch hm;
      hm.name = str(m, "name", mp, errs);
      hm.uri = stringMatch(m["uri"], mp + ".uri", errs, true);
      hm.method = stringMatch(m["method"], mp + ".method", errs);
      hm.authority = stringMatch(m["authority"], mp + ".authority", errs);
      hm.headers = headerMatches(m["headers"], mp + ".headers", false, vs.gateways, mesh_bound, errs);
      hm.without_headers =
          headerMatches(m["withoutHeaders"], mp + ".withoutHeaders", true, vs.gateways, mesh_bound, errs);
      hm.query_params = stringMatchMap(m["queryParams"], mp + ".queryParams", errs);
      if (m["port"]) hm.port = port(m, "port", mp, errs, true);
      hm.source_labels = labels(m, "sourceLabels", mp, errs);
      hm.ignore_uri_case = str(m, "ignoreUriCase", mp, errs) == "true";
      r.match.push_back(std::move(hm));
    }
    r.route = routeDestinations(h["route"], p + ".route", errs);
    if (YAML::Node rd = h["redirect"]) {
      checkKeys(rd, p + ".redirect", {"uri", "authority", "port", "scheme", "redirectCode", "prefixRewrite"}, errs);
      HttpRoute::Redirect red;
      red.uri = str(rd, "uri", p + ".redirect", errs);
      red.authority = str(rd, "authority", p + ".redirect", errs);
      if (rd["port"]) red.port = port(rd, "port", p + ".redirect", errs, true);
      red.scheme = str(rd, "scheme", p + ".redirect", errs);
      // Istio's validateHTTPRedirect.
      const std::string prefix_rewrite = str(rd, "prefixRewrite", p + ".redirect", errs);
      if (!red.uri.empty() && !prefix_rewrite.empty())
        errs.push_back(p + ".redirect: redirect may only specify one of uri or prefix_rewrite");
      if (!prefix_rewrite.empty()) {
        for (const auto& m : r.match)
          if (m.uri && m.uri->kind != StringMatch::Kind::Prefix) {
            errs.push_back(p + ".redirect: redirect prefix_rewrite requires all URI matches to use prefix match type");
            break;
          }
        errs.push_back(p + ".redirect.prefixRewrite: not supported by weftd");
      }
      if (red.uri.empty() && prefix_rewrite.empty() && red.authority.empty() && !red.port && red.scheme.empty())
        errs.push_back(p + ".redirect: redirect must specify URI, authority, scheme, or port");
      if (!red.scheme.empty() && red.scheme != "http" && red.scheme != "https")
        errs.push_back(p + ".redirect.scheme: invalid redirect scheme, must be \"http\" or \"https\"");
      if (auto c = integer(rd, "redirectCode", p + ".redirect", errs)) {
        if (*c < 300 || *c > 399)
          errs.push_back(p + ".redirect.redirectCode: " + std::to_string(*c) +
                         " is not a valid redirect code, must be 3xx");
        else if (*c != 301 && *c != 302 && *c != 303 && *c != 307 && *c != 308)
          errs.push_back(p + ".redirect.redirectCode: " + std::to_string(*c) +
                         " is not supported by weftd (Envoy's redirect codes: 301, 302, 303, 307, 308)");
        red.code = static_cast<int>(*c);
      }
      r.redirect = red;
    }
    if (YAML::Node dr = h["directResponse"]) {
      checkKeys(dr, p + ".directResponse", {"status", "body"}, errs);
      HttpRoute::DirectResponse d;
      auto st = integer(dr, "status", p + ".directResponse", errs);
      if (!st)
        errs.push_back(p + ".directResponse.status: is required");
      else if (*st < 200 || *st > 599)
        errs.push_back(p + ".directResponse.status: HTTP status " + std::to_string(*st) + " is not in range 200-599");
      else
        d.status = static_cast<int>(*st);
      if (YAML::Node b = dr["body"]) {
        checkKeys(b, p + ".directResponse.body", {"string"}, errs);
        d.body = str(b, "string", p + ".directResponse.body", errs);
        if (d.body.size() > (1u << 20))
          errs.push_back(p +
                         ".directResponse.body: large direct_responses may impact control plane performance, "
                         "must be less than 1MB");
        else if (d.body.size() > 100u * 1024)
          vs.warnings.push_back(p +
                                ".directResponse.body: large direct_responses may impact control plane performance");
      }
      r.direct_response = d;
    }
    if (YAML::Node rw = h["rewrite"]) {
      checkKeys(rw, p + ".rewrite", {"uri", "authority"}, errs);
      r.rewrite = HttpRoute::Rewrite{str(rw, "uri", p + ".rewrite", errs), str(rw, "authority", p + ".rewrite", errs)};
      if (r.rewrite->uri.empty() && r.rewrite->authority.empty())
        errs.push_back(p +
                       ".rewrite: rewrite must specify at least one of URI, UriRegexRewrite, or authority. Only one "
                       "of URI or UriRegexRewrite may be specified");
    }
    r.timeout_ms = istioDurationMs(h, "timeout", p, errs);
    r.retries = decodeRetries(h["retries"], p + ".retries", errs);
    headers(h["headers"], p + ".headers", r.request_headers, r.response_headers, errs);
    // Istio's validateAuthorityRewrite: one authority, from the rewrite or a request header.
    {
      std::string current = r.rewrite ? r.rewrite->authority : "";
      for (const auto* ops : {&r.request_headers.set, &r.request_headers.add}) {
        for (const auto& [k, v] : *ops) {
          std::string lower = k;
          for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
          if (lower != ":authority" && lower != "host") continue;
          if (!current.empty()) {
            errs.push_back(p + ".headers: authority header cannot be set multiple times: have \"" + current +
                           "\", attempting to set \"" + v + "\"");
            break;
          }
          current = v;
        }
      }
    }
    r.fault = decodeFault(h["fault"], p + ".fault", errs, vs.warnings);
    r.cors = decodeCors(h["corsPolicy"], p + ".corsPolicy", errs);
    r.mirrors = mirrors(h, p, errs, vs.warnings);
    // Istio's validateHTTPRouteConflict, with its messages.
    const bool has_route = h["route"] && !(h["route"].IsSequence() && h["route"].size() == 0);
    if (h["redirect"]) {
      if (has_route) errs.push_back(p + ": HTTP route cannot contain both route and redirect");
      if (h["fault"]) errs.push_back(p + ": HTTP route cannot contain both fault and redirect");
      if (h["rewrite"]) errs.push_back(p + ": HTTP route rule cannot contain both rewrite and redirect");
      if (h["directResponse"]) errs.push_back(p + ": HTTP route rule cannot contain both direct_response and redirect");
    } else if (h["directResponse"]) {
      if (has_route) errs.push_back(p + ": HTTP route cannot contain both route and direct_response");
      if (h["fault"]) errs.push_back(p + ": HTTP route cannot contain both fault and direct_response");
      if (h["rewrite"]) errs.push_back(p + ": HTTP route rule cannot contain both rewrite and direct_response");
    } else if (!has_route) {
      errs.push_back(p + ": HTTP route, redirect or direct_response is required");
    }
    if (r.rewrite && !r.rewrite->uri.empty()) {
      for (const auto& m : r.match) {
        if (m.uri && m.uri->kind == StringMatch::Kind::Regex) {
          errs.push_back(p + ".rewrite.uri: rewriting a path matched by a regex is not supported by weftd yet");
          break;
        }
      }
    }
    vs.http.push_back(std::move(r));
  }
  const YAML::Node& tcp = tcp_routes;
  for (size_t i = 0; tcp && i < tcp.size(); ++i) {
    std::string p = idx("spec.tcp", i);
    const YAML::Node& t = tcp[i];
    if (!expectMap(t, p, errs)) continue;
    checkKeys(t, p, {"match", "route"}, errs);
    TcpRoute r;
    YAML::Node matches = seq(t, "match", p, errs);
    for (size_t j = 0; matches && j < matches.size(); ++j) {
      if (!expectMap(matches[j], idx(p + ".match", j), errs)) continue;
      checkKeys(matches[j], idx(p + ".match", j), {"port"}, errs);
      if (matches[j]["port"]) r.match_port = port(matches[j], "port", idx(p + ".match", j), errs, true);
    }
    r.route = routeDestinations(t["route"], p + ".route", errs);
    if (r.route.empty()) errs.push_back(p + ".route: at least one destination is required");
    vs.tcp.push_back(std::move(r));
  }
  if (vs.http.empty() && vs.tcp.empty() && tls_count == 0)
    errs.push_back("spec: http, tcp or tls must be provided in virtual service");
  for (size_t i = 0; i < tls_count; ++i) tlsRoute(tls[i], idx("spec.tls", i), vs, gateway_only, errs);
  if (tls_count > 0) errs.push_back("spec.tls: TLS routes (by SNI) are not supported by weftd");
  return vs;
}

}  // namespace weft::control::decode
