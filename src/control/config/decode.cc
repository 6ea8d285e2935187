#include "control/config/decode.h"

#include <re2/re2.h>

#include <set>

namespace weft::control {

namespace {

using Errors = std::vector<std::string>;

std::string join(const std::string& path, const std::string& key) { return path.empty() ? key : path + "." + key; }
std::string idx(const std::string& path, size_t i) { return path + "[" + std::to_string(i) + "]"; }

// Reports keys of a map that the decoder does not implement.
void checkKeys(const YAML::Node& n, const std::string& path, std::initializer_list<const char*> known, Errors& errs,
               const char* what = "not supported by weftd") {
  if (!n || !n.IsMap()) return;
  for (const auto& kv : n) {
    std::string key = kv.first.as<std::string>();
    bool ok = false;
    for (const char* k : known) ok |= key == k;
    if (!ok) errs.push_back(join(path, key) + ": " + what);
  }
}

bool expectMap(const YAML::Node& n, const std::string& path, Errors& errs) {
  if (!n) return false;
  if (!n.IsMap()) {
    errs.push_back(path + ": must be a map");
    return false;
  }
  return true;
}

std::string str(const YAML::Node& n, const std::string& key, const std::string& path, Errors& errs) {
  YAML::Node v = n[key];
  if (!v || v.IsNull()) return "";
  if (!v.IsScalar()) {
    errs.push_back(join(path, key) + ": must be a string");
    return "";
  }
  return v.Scalar();
}

std::optional<int64_t> integer(const YAML::Node& n, const std::string& key, const std::string& path, Errors& errs) {
  YAML::Node v = n[key];
  if (!v || v.IsNull()) return std::nullopt;
  try {
    if (!v.IsScalar()) throw std::runtime_error("");
    size_t used = 0;
    int64_t out = std::stoll(v.Scalar(), &used, 10);
    if (used != v.Scalar().size()) throw std::runtime_error("");
    return out;
  } catch (...) {
    errs.push_back(join(path, key) + ": must be an integer, got '" + (v.IsScalar() ? v.Scalar() : "<non-scalar>") + "'");
    return std::nullopt;
  }
}

uint32_t port(const YAML::Node& n, const std::string& key, const std::string& path, Errors& errs, bool required) {
  auto v = integer(n, key, path, errs);
  if (!v) {
    if (required) errs.push_back(join(path, key) + ": is required");
    return 0;
  }
  if (*v < 1 || *v > 65535) {
    errs.push_back(join(path, key) + ": must be a port number in [1, 65535], got " + std::to_string(*v));
    return 0;
  }
  return static_cast<uint32_t>(*v);
}

std::vector<std::string> strings(const YAML::Node& n, const std::string& key, const std::string& path, Errors& errs) {
  std::vector<std::string> out;
  YAML::Node v = n[key];
  if (!v || v.IsNull()) return out;
  if (!v.IsSequence()) {
    errs.push_back(join(path, key) + ": must be a list of strings");
    return out;
  }
  for (size_t i = 0; i < v.size(); ++i) {
    if (!v[i].IsScalar()) {
      errs.push_back(idx(join(path, key), i) + ": must be a string");
      continue;
    }
    out.push_back(v[i].Scalar());
  }
  return out;
}

Labels labels(const YAML::Node& n, const std::string& key, const std::string& path, Errors& errs) {
  Labels out;
  YAML::Node v = n[key];
  if (!v || v.IsNull()) return out;
  if (!v.IsMap()) {
    errs.push_back(join(path, key) + ": must be a map of strings");
    return out;
  }
  for (const auto& kv : v) {
    if (!kv.second.IsScalar()) {
      errs.push_back(join(join(path, key), kv.first.as<std::string>()) + ": must be a string");
      continue;
    }
    out[kv.first.as<std::string>()] = kv.second.Scalar();
  }
  return out;
}

// RFC 1123 label: what Kubernetes requires of names, and Istio of subset and port names.
bool isDnsLabel(const std::string& s) {
  static const RE2 re("[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?");
  return RE2::FullMatch(s, re);
}

// Istio host names: FQDN or short name, optionally with a leading "*." wildcard, or "*".
bool isValidHost(const std::string& h) {
  if (h == "*") return true;
  static const RE2 re("(\\*\\.)?[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?(\\.[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?)*");
  return h.size() <= 253 && RE2::FullMatch(h, re);
}

ObjectMeta meta(const YAML::Node& doc, Errors& errs) {
  ObjectMeta m;
  YAML::Node md = doc["metadata"];
  if (!md || !md.IsMap()) {
    errs.push_back("metadata: is required");
    return m;
  }
  m.name = str(md, "name", "metadata", errs);
  std::string ns = str(md, "namespace", "metadata", errs);
  if (!ns.empty()) m.ns = ns;
  if (m.name.empty()) errs.push_back("metadata.name: is required");
  m.labels = labels(md, "labels", "metadata", errs);
  m.annotations = labels(md, "annotations", "metadata", errs);
  return m;
}

std::optional<StringMatch> stringMatch(const YAML::Node& n, const std::string& path, Errors& errs) {
  if (!n || n.IsNull()) return std::nullopt;
  if (!expectMap(n, path, errs)) return std::nullopt;
  checkKeys(n, path, {"exact", "prefix", "regex"}, errs);
  if (n.size() != 1) {
    errs.push_back(path + ": exactly one of exact, prefix, regex is required");
    return std::nullopt;
  }
  StringMatch m;
  if (n["exact"]) {
    m.kind = StringMatch::Kind::Exact;
    m.value = str(n, "exact", path, errs);
  } else if (n["prefix"]) {
    m.kind = StringMatch::Kind::Prefix;
    m.value = str(n, "prefix", path, errs);
  } else if (n["regex"]) {
    m.kind = StringMatch::Kind::Regex;
    m.value = str(n, "regex", path, errs);
    RE2 re(m.value, RE2::Quiet);
    if (!re.ok()) errs.push_back(path + ".regex: invalid regex '" + m.value + "': " + re.error());
  }
  return m;
}

std::map<std::string, StringMatch> stringMatchMap(const YAML::Node& n, const std::string& path, Errors& errs) {
  std::map<std::string, StringMatch> out;
  if (!n || n.IsNull()) return out;
  if (!expectMap(n, path, errs)) return out;
  for (const auto& kv : n) {
    std::string key = kv.first.as<std::string>();
    auto m = stringMatch(kv.second, join(path, key), errs);
    if (m) out[key] = *m;
  }
  return out;
}

HeaderOps headerOps(const YAML::Node& n, const std::string& path, Errors& errs) {
  HeaderOps ops;
  if (!n || n.IsNull()) return ops;
  if (!expectMap(n, path, errs)) return ops;
  checkKeys(n, path, {"set", "add", "remove"}, errs);
  ops.set = labels(n, "set", path, errs);
  ops.add = labels(n, "add", path, errs);
  ops.remove = strings(n, "remove", path, errs);
  return ops;
}

void headers(const YAML::Node& n, const std::string& path, HeaderOps& req, HeaderOps& resp, Errors& errs) {
  if (!n || n.IsNull()) return;
  if (!expectMap(n, path, errs)) return;
  checkKeys(n, path, {"request", "response"}, errs);
  req = headerOps(n["request"], join(path, "request"), errs);
  resp = headerOps(n["response"], join(path, "response"), errs);
}

std::optional<int64_t> durationMs(const YAML::Node& n, const std::string& key, const std::string& path, Errors& errs) {
  std::string s = str(n, key, path, errs);
  if (s.empty()) return std::nullopt;
  static const RE2 re("([0-9]+(?:\\.[0-9]+)?)(ms|s|m|h)");
  std::string number, unit;
  if (!RE2::FullMatch(s, re, &number, &unit)) {
    errs.push_back(join(path, key) + ": '" + s + "' is not a duration (e.g. 500ms, 1.5s, 2m)");
    return std::nullopt;
  }
  double v = std::stod(number);
  double ms = unit == "ms" ? v : unit == "s" ? v * 1000 : unit == "m" ? v * 60000 : v * 3600000;
  return static_cast<int64_t>(ms);
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
    YAML::Node dest = r["destination"];
    if (!dest || !dest.IsMap()) {
      errs.push_back(p + ".destination: is required");
      continue;
    }
    checkKeys(dest, p + ".destination", {"host", "subset", "port"}, errs);
    d.destination.host = str(dest, "host", p + ".destination", errs);
    if (d.destination.host.empty()) errs.push_back(p + ".destination.host: is required");
    else if (!isValidHost(d.destination.host) || d.destination.host.find('*') != std::string::npos)
      errs.push_back(p + ".destination.host: '" + d.destination.host + "' is not a valid host name");
    d.destination.subset = str(dest, "subset", p + ".destination", errs);
    if (!d.destination.subset.empty() && !isDnsLabel(d.destination.subset))
      errs.push_back(p + ".destination.subset: '" + d.destination.subset + "' is not a valid subset name");
    if (YAML::Node dp = dest["port"]) {
      checkKeys(dp, p + ".destination.port", {"number"}, errs);
      d.destination.port = port(dp, "number", p + ".destination.port", errs, true);
    }
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
    if (!any_set) errs.push_back(path + ": weights are required when there is more than one destination");
    else if (total == 0) errs.push_back(path + ": the weights must not all be zero");
  } else if (out.size() == 1 && !out[0].weight_set) {
    out[0].weight = 100;
  }
  return out;
}

// Istio's Percent {value: 0..100}; `deprecated_percent`: the old integer `percent` field.
double percentage(const YAML::Node& n, const std::string& path, Errors& errs) {
  YAML::Node p = n["percentage"];
  if (!p || p.IsNull()) {
    if (auto old = integer(n, "percent", path, errs)) {
      if (*old < 0 || *old > 100) errs.push_back(path + ".percent: must be in [0, 100]");
      return static_cast<double>(*old);
    }
    return 100;
  }
  if (!expectMap(p, path + ".percentage", errs)) return 0;
  checkKeys(p, path + ".percentage", {"value"}, errs);
  std::string v = str(p, "value", path + ".percentage", errs);
  try {
    size_t used = 0;
    double d = v.empty() ? 0 : std::stod(v, &used);
    if (!v.empty() && used != v.size()) throw std::invalid_argument(v);
    if (d < 0 || d > 100) errs.push_back(path + ".percentage.value: must be in [0, 100], got " + v);
    return d;
  } catch (const std::exception&) {
    errs.push_back(path + ".percentage.value: must be a number, got '" + v + "'");
    return 0;
  }
}

int grpcStatusCode(const std::string& name, const std::string& path, Errors& errs) {
  static const char* kNames[] = {"OK",
                                 "CANCELLED",
                                 "UNKNOWN",
                                 "INVALID_ARGUMENT",
                                 "DEADLINE_EXCEEDED",
                                 "NOT_FOUND",
                                 "ALREADY_EXISTS",
                                 "PERMISSION_DENIED",
                                 "RESOURCE_EXHAUSTED",
                                 "FAILED_PRECONDITION",
                                 "ABORTED",
                                 "OUT_OF_RANGE",
                                 "UNIMPLEMENTED",
                                 "INTERNAL",
                                 "UNAVAILABLE",
                                 "DATA_LOSS",
                                 "UNAUTHENTICATED"};
  for (int i = 0; i < 17; ++i) {
    if (name == kNames[i]) return i;
  }
  errs.push_back(path + ": '" + name + "' is not a gRPC status name (e.g. UNAVAILABLE)");
  return 2;
}

// HTTPFaultInjection, as Istio validates it.
std::optional<HttpRoute::Fault> decodeFault(const YAML::Node& n, const std::string& path, Errors& errs) {
  if (!n || n.IsNull() || !expectMap(n, path, errs)) return std::nullopt;
  checkKeys(n, path, {"delay", "abort"}, errs);
  HttpRoute::Fault f;
  if (YAML::Node d = n["delay"]; d && expectMap(d, path + ".delay", errs)) {
    checkKeys(d, path + ".delay", {"fixedDelay", "percentage", "percent"}, errs);
    HttpRoute::Fault::Delay delay;
    auto ms = durationMs(d, "fixedDelay", path + ".delay", errs);
    if (!ms) errs.push_back(path + ".delay.fixedDelay: is required");
    else if (*ms < 1) errs.push_back(path + ".delay.fixedDelay: must be at least 1ms");
    else delay.fixed_ms = *ms;
    delay.percent = percentage(d, path + ".delay", errs);
    f.delay = delay;
  }
  if (YAML::Node a = n["abort"]; a && expectMap(a, path + ".abort", errs)) {
    checkKeys(a, path + ".abort", {"httpStatus", "grpcStatus", "percentage", "percent"}, errs);
    HttpRoute::Fault::Abort abort;
    if (auto st = integer(a, "httpStatus", path + ".abort", errs)) {
      if (*st < 200 || *st > 599) errs.push_back(path + ".abort.httpStatus: must be in [200, 599]");
      abort.http_status = static_cast<int>(*st);
    }
    std::string grpc = str(a, "grpcStatus", path + ".abort", errs);
    if (!grpc.empty()) abort.grpc_status = grpcStatusCode(grpc, path + ".abort.grpcStatus", errs);
    if (!abort.http_status && !abort.grpc_status) errs.push_back(path + ".abort: httpStatus or grpcStatus is required");
    if (abort.http_status && abort.grpc_status) errs.push_back(path + ".abort: only one of httpStatus and grpcStatus");
    abort.percent = percentage(a, path + ".abort", errs);
    f.abort = abort;
  }
  if (!f.delay && !f.abort) errs.push_back(path + ": delay or abort is required");
  return f;
}

// CorsPolicy, as Istio validates it.
std::optional<HttpRoute::Cors> decodeCors(const YAML::Node& n, const std::string& path, Errors& errs) {
  if (!n || n.IsNull() || !expectMap(n, path, errs)) return std::nullopt;
  checkKeys(n, path, {"allowOrigins", "allowOrigin", "allowMethods", "allowHeaders", "exposeHeaders", "maxAge",
                      "allowCredentials", "unmatchedPreflights"}, errs);
  HttpRoute::Cors c;
  YAML::Node origins = n["allowOrigins"];
  if (origins && !origins.IsSequence()) errs.push_back(path + ".allowOrigins: must be a list");
  for (size_t i = 0; origins && origins.IsSequence() && i < origins.size(); ++i) {
    if (auto m = stringMatch(origins[i], idx(path + ".allowOrigins", i), errs)) c.allow_origins.push_back(*m);
  }
  for (const auto& o : strings(n, "allowOrigin", path, errs)) {  // deprecated: exact origins
    c.allow_origins.push_back(StringMatch{StringMatch::Kind::Exact, o});
  }
  c.allow_methods = strings(n, "allowMethods", path, errs);
  c.allow_headers = strings(n, "allowHeaders", path, errs);
  c.expose_headers = strings(n, "exposeHeaders", path, errs);
  c.max_age_ms = durationMs(n, "maxAge", path, errs);
  std::string cred = str(n, "allowCredentials", path, errs);
  if (cred == "true" || cred == "false") c.allow_credentials = cred == "true";
  else if (!cred.empty()) errs.push_back(path + ".allowCredentials: must be true or false");
  std::string unmatched = str(n, "unmatchedPreflights", path, errs);
  if (unmatched == "IGNORE") c.forward_unmatched_preflights = false;
  else if (!unmatched.empty() && unmatched != "FORWARD" && unmatched != "UNSPECIFIED")
    errs.push_back(path + ".unmatchedPreflights: must be FORWARD or IGNORE");
  return c;
}

VirtualService decodeVirtualService(const YAML::Node& doc, Errors& errs) {
  VirtualService vs;
  vs.meta = meta(doc, errs);
  YAML::Node spec = doc["spec"];
  if (!expectMap(spec, "spec", errs)) {
    if (!spec) errs.push_back("spec: is required");
    return vs;
  }
  checkKeys(spec, "spec", {"hosts", "gateways", "http", "tcp", "exportTo"}, errs);
  vs.hosts = strings(spec, "hosts", "spec", errs);
  if (vs.hosts.empty()) errs.push_back("spec.hosts: at least one host is required");
  for (size_t i = 0; i < vs.hosts.size(); ++i) {
    if (!isValidHost(vs.hosts[i])) errs.push_back(idx("spec.hosts", i) + ": '" + vs.hosts[i] + "' is not a valid host");
  }
  vs.gateways = strings(spec, "gateways", "spec", errs);
  for (const auto& g : vs.gateways) {
    if (g != "mesh") errs.push_back("spec.gateways: gateway '" + g + "': Gateways are not supported by weftd yet (only 'mesh')");
  }
  vs.export_to = strings(spec, "exportTo", "spec", errs);
  YAML::Node http = spec["http"];
  if (http && !http.IsSequence()) errs.push_back("spec.http: must be a list");
  for (size_t i = 0; http && http.IsSequence() && i < http.size(); ++i) {
    std::string p = idx("spec.http", i);
    const YAML::Node& h = http[i];
    if (!expectMap(h, p, errs)) continue;
    checkKeys(h, p, {"name", "match", "route", "redirect", "directResponse", "rewrite", "timeout", "headers", "fault",
                     "corsPolicy"}, errs);
    HttpRoute r;
    r.name = str(h, "name", p, errs);
    YAML::Node matches = h["match"];
    for (size_t j = 0; matches && matches.IsSequence() && j < matches.size(); ++j) {
      std::string mp = idx(p + ".match", j);
      const YAML::Node& m = matches[j];
      if (!expectMap(m, mp, errs)) continue;
      checkKeys(m, mp, {"name", "uri", "method", "authority", "headers", "withoutHeaders", "queryParams", "port",
                        "sourceLabels", "ignoreUriCase"}, errs);
      HttpMatch hm;
      hm.name = str(m, "name", mp, errs);
      hm.uri = stringMatch(m["uri"], mp + ".uri", errs);
      hm.method = stringMatch(m["method"], mp + ".method", errs);
      hm.authority = stringMatch(m["authority"], mp + ".authority", errs);
      hm.headers = stringMatchMap(m["headers"], mp + ".headers", errs);
      hm.without_headers = stringMatchMap(m["withoutHeaders"], mp + ".withoutHeaders", errs);
      hm.query_params = stringMatchMap(m["queryParams"], mp + ".queryParams", errs);
      if (m["port"]) hm.port = port(m, "port", mp, errs, true);
      hm.source_labels = labels(m, "sourceLabels", mp, errs);
      hm.ignore_uri_case = str(m, "ignoreUriCase", mp, errs) == "true";
      r.match.push_back(std::move(hm));
    }
    r.route = routeDestinations(h["route"], p + ".route", errs);
    if (YAML::Node rd = h["redirect"]) {
      checkKeys(rd, p + ".redirect", {"uri", "authority", "port", "scheme", "redirectCode"}, errs);
      HttpRoute::Redirect red;
      red.uri = str(rd, "uri", p + ".redirect", errs);
      red.authority = str(rd, "authority", p + ".redirect", errs);
      if (rd["port"]) red.port = port(rd, "port", p + ".redirect", errs, true);
      red.scheme = str(rd, "scheme", p + ".redirect", errs);
      if (auto c = integer(rd, "redirectCode", p + ".redirect", errs)) {
        if (*c != 301 && *c != 302 && *c != 303 && *c != 307 && *c != 308)
          errs.push_back(p + ".redirect.redirectCode: must be 301, 302, 303, 307 or 308");
        red.code = static_cast<int>(*c);
      }
      r.redirect = red;
    }
    if (YAML::Node dr = h["directResponse"]) {
      checkKeys(dr, p + ".directResponse", {"status", "body"}, errs);
      HttpRoute::DirectResponse d;
      auto st = integer(dr, "status", p + ".directResponse", errs);
      if (!st) errs.push_back(p + ".directResponse.status: is required");
      else if (*st < 200 || *st > 599) errs.push_back(p + ".directResponse.status: must be in [200, 599]");
      else d.status = static_cast<int>(*st);
      if (YAML::Node b = dr["body"]) {
        checkKeys(b, p + ".directResponse.body", {"string"}, errs);
        d.body = str(b, "string", p + ".directResponse.body", errs);
      }
      r.direct_response = d;
    }
    if (YAML::Node rw = h["rewrite"]) {
      checkKeys(rw, p + ".rewrite", {"uri", "authority"}, errs);
      r.rewrite = HttpRoute::Rewrite{str(rw, "uri", p + ".rewrite", errs), str(rw, "authority", p + ".rewrite", errs)};
    }
    r.timeout_ms = durationMs(h, "timeout", p, errs);
    headers(h["headers"], p + ".headers", r.request_headers, r.response_headers, errs);
    r.fault = decodeFault(h["fault"], p + ".fault", errs);
    r.cors = decodeCors(h["corsPolicy"], p + ".corsPolicy", errs);
    int actions = (!r.route.empty()) + r.redirect.has_value() + r.direct_response.has_value();
    if (actions != 1) errs.push_back(p + ": exactly one of route, redirect, directResponse is required");
    if (r.rewrite && (r.redirect || r.direct_response)) errs.push_back(p + ".rewrite: cannot be used with redirect or directResponse");
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
  YAML::Node tcp = spec["tcp"];
  for (size_t i = 0; tcp && tcp.IsSequence() && i < tcp.size(); ++i) {
    std::string p = idx("spec.tcp", i);
    const YAML::Node& t = tcp[i];
    if (!expectMap(t, p, errs)) continue;
    checkKeys(t, p, {"match", "route"}, errs);
    TcpRoute r;
    YAML::Node matches = t["match"];
    for (size_t j = 0; matches && matches.IsSequence() && j < matches.size(); ++j) {
      checkKeys(matches[j], idx(p + ".match", j), {"port"}, errs);
      if (matches[j]["port"]) r.match_port = port(matches[j], "port", idx(p + ".match", j), errs, true);
    }
    r.route = routeDestinations(t["route"], p + ".route", errs);
    if (r.route.empty()) errs.push_back(p + ".route: at least one destination is required");
    vs.tcp.push_back(std::move(r));
  }
  if (vs.http.empty() && vs.tcp.empty()) errs.push_back("spec: http or tcp routes are required");
  return vs;
}

std::optional<TrafficPolicy> trafficPolicy(const YAML::Node& n, const std::string& path, Errors& errs) {
  if (!n || n.IsNull()) return std::nullopt;
  if (!expectMap(n, path, errs)) return std::nullopt;
  checkKeys(n, path, {"loadBalancer"}, errs);
  TrafficPolicy tp;
  if (YAML::Node lb = n["loadBalancer"]) {
    checkKeys(lb, path + ".loadBalancer", {"simple"}, errs);
    LoadBalancer l{str(lb, "simple", path + ".loadBalancer", errs)};
    static const std::set<std::string> ok = {"ROUND_ROBIN", "LEAST_REQUEST", "RANDOM", "UNSPECIFIED"};
    if (!ok.count(l.simple)) {
      errs.push_back(path + ".loadBalancer.simple: '" + l.simple +
                     "' is not supported by weftd (ROUND_ROBIN, LEAST_REQUEST, RANDOM are)");
    }
    tp.load_balancer = l;
  }
  return tp;
}

DestinationRule decodeDestinationRule(const YAML::Node& doc, Errors& errs) {
  DestinationRule dr;
  dr.meta = meta(doc, errs);
  YAML::Node spec = doc["spec"];
  if (!expectMap(spec, "spec", errs)) {
    if (!spec) errs.push_back("spec: is required");
    return dr;
  }
  checkKeys(spec, "spec", {"host", "trafficPolicy", "subsets", "exportTo"}, errs);
  dr.host = str(spec, "host", "spec", errs);
  if (dr.host.empty()) errs.push_back("spec.host: is required");
  else if (!isValidHost(dr.host)) errs.push_back("spec.host: '" + dr.host + "' is not a valid host");
  dr.traffic_policy = trafficPolicy(spec["trafficPolicy"], "spec.trafficPolicy", errs);
  dr.export_to = strings(spec, "exportTo", "spec", errs);
  std::set<std::string> names;
  YAML::Node subsets = spec["subsets"];
  for (size_t i = 0; subsets && subsets.IsSequence() && i < subsets.size(); ++i) {
    std::string p = idx("spec.subsets", i);
    const YAML::Node& s = subsets[i];
    if (!expectMap(s, p, errs)) continue;
    checkKeys(s, p, {"name", "labels", "trafficPolicy"}, errs);
    Subset sub;
    sub.name = str(s, "name", p, errs);
    if (sub.name.empty()) errs.push_back(p + ".name: is required");
    else if (!isDnsLabel(sub.name)) errs.push_back(p + ".name: '" + sub.name + "' is not a valid subset name (RFC 1123 label)");
    else if (!names.insert(sub.name).second) errs.push_back(p + ".name: duplicate subset '" + sub.name + "'");
    sub.labels = labels(s, "labels", p, errs);
    sub.traffic_policy = trafficPolicy(s["trafficPolicy"], p + ".trafficPolicy", errs);
    dr.subsets.push_back(std::move(sub));
  }
  return dr;
}

Service decodeService(const YAML::Node& doc, Errors& errs) {
  Service s;
  s.meta = meta(doc, errs);
  YAML::Node spec = doc["spec"];
  if (!expectMap(spec, "spec", errs)) return s;
  s.selector = labels(spec, "selector", "spec", errs);
  s.cluster_ip = str(spec, "clusterIP", "spec", errs);
  if (s.cluster_ip == "None") s.cluster_ip.clear();
  std::set<std::string> names;
  YAML::Node ports = spec["ports"];
  for (size_t i = 0; ports && ports.IsSequence() && i < ports.size(); ++i) {
    std::string p = idx("spec.ports", i);
    ServicePort sp;
    sp.name = str(ports[i], "name", p, errs);
    sp.port = port(ports[i], "port", p, errs, true);
    if (ports[i]["targetPort"]) {
      // A named targetPort resolves through the Pod's container ports, which weftd does
      // not model: take the numeric form only.
      const YAML::Node& tpn = ports[i]["targetPort"];
      if (tpn.IsScalar() && !tpn.Scalar().empty() && tpn.Scalar().find_first_not_of("0123456789") == std::string::npos) {
        sp.target_port = port(ports[i], "targetPort", p, errs, true);
      } else if (!tpn.IsScalar()) {
        errs.push_back(p + ".targetPort: must be a port number or a port name");
      }  // a named port: the Endpoints carry the number
    }
    std::string proto = str(ports[i], "protocol", p, errs);
    if (!proto.empty()) sp.protocol = proto;
    sp.app_protocol = str(ports[i], "appProtocol", p, errs);
    if (!sp.name.empty() && !names.insert(sp.name).second) errs.push_back(p + ".name: duplicate port name '" + sp.name + "'");
    if (ports.size() > 1 && sp.name.empty()) errs.push_back(p + ".name: is required when a Service has several ports");
    s.ports.push_back(std::move(sp));
  }
  if (s.ports.empty()) errs.push_back("spec.ports: at least one port is required");
  return s;
}

Endpoints decodeEndpoints(const YAML::Node& doc, Errors& errs) {
  Endpoints e;
  e.meta = meta(doc, errs);
  YAML::Node subsets = doc["subsets"];
  for (size_t i = 0; subsets && subsets.IsSequence() && i < subsets.size(); ++i) {
    std::string p = idx("subsets", i);
    EndpointSubset sub;
    YAML::Node addrs = subsets[i]["addresses"];
    for (size_t j = 0; addrs && addrs.IsSequence() && j < addrs.size(); ++j) {
      std::string ap = idx(p + ".addresses", j);
      EndpointAddress a;
      a.ip = str(addrs[j], "ip", ap, errs);
      if (a.ip.empty()) errs.push_back(ap + ".ip: is required");
      if (YAML::Node ref = addrs[j]["targetRef"]) {
        if (str(ref, "kind", ap + ".targetRef", errs) == "Pod") a.pod = str(ref, "name", ap + ".targetRef", errs);
      }
      sub.addresses.push_back(std::move(a));
    }
    YAML::Node ports = subsets[i]["ports"];
    for (size_t j = 0; ports && ports.IsSequence() && j < ports.size(); ++j) {
      std::string pp = idx(p + ".ports", j);
      sub.ports.push_back({str(ports[j], "name", pp, errs), port(ports[j], "port", pp, errs, true)});
    }
    e.subsets.push_back(std::move(sub));
  }
  return e;
}

EndpointSlice decodeEndpointSlice(const YAML::Node& doc, Errors& errs) {
  EndpointSlice es;
  es.meta = meta(doc, errs);
  auto svc = es.meta.labels.find("kubernetes.io/service-name");
  if (svc == es.meta.labels.end()) errs.push_back("metadata.labels: kubernetes.io/service-name is required");
  else es.service = svc->second;
  std::string type = str(doc, "addressType", "", errs);
  if (type != "IPv4" && type != "IPv6") errs.push_back("addressType: '" + type + "' is not supported by weftd (IPv4, IPv6 are)");
  YAML::Node eps = doc["endpoints"];
  for (size_t i = 0; eps && eps.IsSequence() && i < eps.size(); ++i) {
    std::string p = idx("endpoints", i);
    // Kubernetes: a missing `ready` condition means ready.
    if (YAML::Node c = eps[i]["conditions"]; c && c["ready"] && c["ready"].IsScalar() && c["ready"].Scalar() == "false") continue;
    std::string pod;
    if (YAML::Node ref = eps[i]["targetRef"]; ref && str(ref, "kind", p + ".targetRef", errs) == "Pod") {
      pod = str(ref, "name", p + ".targetRef", errs);
    }
    for (const auto& ip : strings(eps[i], "addresses", p, errs)) es.endpoints.push_back({ip, pod});
  }
  YAML::Node ports = doc["ports"];
  for (size_t i = 0; ports && ports.IsSequence() && i < ports.size(); ++i) {
    std::string pp = idx("ports", i);
    es.ports.push_back({str(ports[i], "name", pp, errs), port(ports[i], "port", pp, errs, true)});
  }
  return es;
}

Pod decodePod(const YAML::Node& doc, Errors& errs) {
  Pod p;
  p.meta = meta(doc, errs);
  if (YAML::Node status = doc["status"]) p.ip = str(status, "podIP", "status", errs);
  if (YAML::Node spec = doc["spec"]) {
    std::string sa = str(spec, "serviceAccountName", "spec", errs);
    if (!sa.empty()) p.service_account = sa;
  }
  return p;
}

WorkloadEntrySpec workloadEntrySpec(const YAML::Node& n, const std::string& path, Errors& errs) {
  WorkloadEntrySpec w;
  checkKeys(n, path, {"address", "ports", "labels", "weight", "serviceAccount", "network", "locality"}, errs);
  w.address = str(n, "address", path, errs);
  if (w.address.empty()) errs.push_back(path + ".address: is required");
  w.labels = labels(n, "labels", path, errs);
  w.service_account = str(n, "serviceAccount", path, errs);
  if (auto wt = integer(n, "weight", path, errs)) w.weight = static_cast<uint32_t>(*wt);
  if (YAML::Node ports = n["ports"]) {
    for (const auto& kv : ports) w.ports[kv.first.as<std::string>()] = port(ports, kv.first.as<std::string>(), path + ".ports", errs, true);
  }
  return w;
}

ServiceEntry decodeServiceEntry(const YAML::Node& doc, Errors& errs) {
  ServiceEntry se;
  se.meta = meta(doc, errs);
  YAML::Node spec = doc["spec"];
  if (!expectMap(spec, "spec", errs)) return se;
  checkKeys(spec, "spec", {"hosts", "addresses", "ports", "location", "resolution", "endpoints", "workloadSelector", "exportTo"}, errs);
  se.hosts = strings(spec, "hosts", "spec", errs);
  if (se.hosts.empty()) errs.push_back("spec.hosts: at least one host is required");
  for (size_t i = 0; i < se.hosts.size(); ++i) {
    if (!isValidHost(se.hosts[i]) || se.hosts[i] == "*") errs.push_back(idx("spec.hosts", i) + ": '" + se.hosts[i] + "' is not a valid host");
  }
  se.addresses = strings(spec, "addresses", "spec", errs);
  std::set<std::string> names;
  YAML::Node ports = spec["ports"];
  for (size_t i = 0; ports && ports.IsSequence() && i < ports.size(); ++i) {
    std::string p = idx("spec.ports", i);
    checkKeys(ports[i], p, {"number", "protocol", "name", "targetPort"}, errs);
    ServiceEntryPort sp;
    sp.number = port(ports[i], "number", p, errs, true);
    sp.protocol = str(ports[i], "protocol", p, errs);
    sp.name = str(ports[i], "name", p, errs);
    if (ports[i]["targetPort"]) sp.target_port = port(ports[i], "targetPort", p, errs, true);
    if (sp.name.empty()) errs.push_back(p + ".name: is required");
    else if (!names.insert(sp.name).second) errs.push_back(p + ".name: duplicate port name '" + sp.name + "'");
    se.ports.push_back(std::move(sp));
  }
  if (se.ports.empty()) errs.push_back("spec.ports: at least one port is required");
  std::string loc = str(spec, "location", "spec", errs);
  if (!loc.empty()) se.location = loc;
  if (se.location != "MESH_EXTERNAL" && se.location != "MESH_INTERNAL") errs.push_back("spec.location: must be MESH_EXTERNAL or MESH_INTERNAL");
  std::string res = str(spec, "resolution", "spec", errs);
  if (!res.empty()) se.resolution = res;
  if (se.resolution != "NONE" && se.resolution != "STATIC" && se.resolution != "DNS") {
    errs.push_back("spec.resolution: '" + se.resolution + "' is not supported by weftd (NONE, STATIC, DNS are)");
  }
  YAML::Node eps = spec["endpoints"];
  for (size_t i = 0; eps && eps.IsSequence() && i < eps.size(); ++i) se.endpoints.push_back(workloadEntrySpec(eps[i], idx("spec.endpoints", i), errs));
  if (se.resolution == "STATIC" && se.endpoints.empty() && !spec["workloadSelector"]) {
    errs.push_back("spec.endpoints: STATIC resolution needs endpoints or a workloadSelector");
  }
  if (YAML::Node ws = spec["workloadSelector"]) se.workload_selector = labels(ws, "labels", "spec.workloadSelector", errs);
  se.export_to = strings(spec, "exportTo", "spec", errs);
  return se;
}

Sidecar decodeSidecar(const YAML::Node& doc, Errors& errs) {
  Sidecar sc;
  sc.meta = meta(doc, errs);
  YAML::Node spec = doc["spec"];
  if (!expectMap(spec, "spec", errs)) return sc;
  checkKeys(spec, "spec", {"workloadSelector", "egress"}, errs);
  if (YAML::Node ws = spec["workloadSelector"]) sc.workload_selector = labels(ws, "labels", "spec.workloadSelector", errs);
  YAML::Node egress = spec["egress"];
  for (size_t i = 0; egress && egress.IsSequence() && i < egress.size(); ++i) {
    std::string p = idx("spec.egress", i);
    checkKeys(egress[i], p, {"hosts"}, errs);
    for (auto& h : strings(egress[i], "hosts", p, errs)) {
      if (h.find('/') == std::string::npos) errs.push_back(p + ".hosts: '" + h + "' must be of the form namespace/host");
      sc.egress_hosts.push_back(h);
    }
  }
  return sc;
}

bool istioNetworking(const std::string& api) {
  return api == "networking.istio.io/v1" || api == "networking.istio.io/v1beta1" || api == "networking.istio.io/v1alpha3";
}

}  // namespace

bool isKnownKind(const std::string& api, const std::string& kind) {
  if (api == "discovery.k8s.io/v1") return kind == "EndpointSlice";
  if (api == "v1") return kind == "Service" || kind == "Endpoints" || kind == "Pod" || kind == "Namespace";
  if (istioNetworking(api)) {
    return kind == "VirtualService" || kind == "DestinationRule" || kind == "ServiceEntry" || kind == "WorkloadEntry" ||
           kind == "Sidecar";
  }
  return false;
}

DecodeResult decodeResource(const YAML::Node& doc) {
  DecodeResult r;
  if (!doc.IsMap()) {
    r.errors.push_back("document: must be a map with apiVersion, kind, metadata");
    return r;
  }
  Errors& errs = r.errors;
  std::string api = str(doc, "apiVersion", "", errs);
  r.kind = str(doc, "kind", "", errs);
  if (YAML::Node md = doc["metadata"]; md && md.IsMap()) {
    r.name = md["name"] && md["name"].IsScalar() ? md["name"].Scalar() : "";
    r.ns = md["namespace"] && md["namespace"].IsScalar() ? md["namespace"].Scalar() : "default";
  }
  if (api.empty() || r.kind.empty()) {
    errs.push_back("apiVersion and kind: are required");
    return r;
  }
  if (!isKnownKind(api, r.kind)) {
    errs.push_back("kind: " + api + " " + r.kind + " is not supported by weftd");
    return r;
  }
  Resource res;
  if (r.kind == "Service") res = decodeService(doc, errs);
  else if (r.kind == "Endpoints") res = decodeEndpoints(doc, errs);
  else if (r.kind == "EndpointSlice") res = decodeEndpointSlice(doc, errs);
  else if (r.kind == "Pod") res = decodePod(doc, errs);
  else if (r.kind == "Namespace") res = Namespace{meta(doc, errs)};
  else if (r.kind == "VirtualService") res = decodeVirtualService(doc, errs);
  else if (r.kind == "DestinationRule") res = decodeDestinationRule(doc, errs);
  else if (r.kind == "ServiceEntry") res = decodeServiceEntry(doc, errs);
  else if (r.kind == "WorkloadEntry") {
    WorkloadEntry we;
    we.meta = meta(doc, errs);
    YAML::Node spec = doc["spec"];
    if (expectMap(spec, "spec", errs)) we.spec = workloadEntrySpec(spec, "spec", errs);
    else if (!spec) errs.push_back("spec: is required");
    res = we;
  } else if (r.kind == "Sidecar") res = decodeSidecar(doc, errs);
  if (r.kind != "Namespace" && r.name.empty() && errs.empty()) errs.push_back("metadata.name: is required");
  if (errs.empty()) r.resource = std::move(res);
  return r;
}

}  // namespace weft::control
