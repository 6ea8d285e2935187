// networking.istio.io DestinationRule: subsets and their traffic policies.
#include "control/config/decoders.h"

#include "control/config/decode_util.h"

namespace weft::control::decode {

namespace {

// A count that must be >= 0 (Istio's validation), or unset.
std::optional<int64_t> count(const YAML::Node& n, const char* key, const std::string& path, Errors& errs) {
  auto v = integer(n, key, path, errs);
  if (v && *v < 0) errs.push_back(join(path, key) + ": must be >= 0, got " + std::to_string(*v));
  return v;
}

std::optional<int64_t> atLeastOneMs(const YAML::Node& n, const char* key, const std::string& path, Errors& errs) {
  auto v = durationMs(n, key, path, errs);
  if (v && *v < 1) errs.push_back(join(path, key) + ": must be at least 1ms");
  return v;
}

std::optional<ConnectionPool> connectionPool(const YAML::Node& n, const std::string& path, Errors& errs) {
  if (!n || !expectMap(n, path, errs)) return std::nullopt;
  checkKeys(n, path, {"tcp", "http"}, errs);
  ConnectionPool cp;
  if (YAML::Node tcp = n["tcp"]) {
    std::string p = path + ".tcp";
    checkKeys(tcp, p, {"maxConnections", "connectTimeout", "tcpKeepalive", "idleTimeout"}, errs,
              "not supported by weftd (maxConnections, connectTimeout, tcpKeepalive, idleTimeout are)");
    ConnectionPool::Tcp t;
    t.max_connections = count(tcp, "maxConnections", p, errs);
    t.connect_timeout_ms = atLeastOneMs(tcp, "connectTimeout", p, errs);
    t.idle_timeout_ms = atLeastOneMs(tcp, "idleTimeout", p, errs);
    if (YAML::Node ka = tcp["tcpKeepalive"]) {
      std::string kp = p + ".tcpKeepalive";
      checkKeys(ka, kp, {"probes", "time", "interval"}, errs);
      ConnectionPool::Tcp::Keepalive k;
      k.probes = count(ka, "probes", kp, errs);
      k.time_ms = atLeastOneMs(ka, "time", kp, errs);
      k.interval_ms = atLeastOneMs(ka, "interval", kp, errs);
      t.keepalive = k;
    }
    cp.tcp = t;
  }
  if (YAML::Node http = n["http"]) {
    std::string p = path + ".http";
    checkKeys(http, p,
              {"http1MaxPendingRequests", "http2MaxRequests", "maxRetries", "maxRequestsPerConnection", "idleTimeout"},
              errs,
              "not supported by weftd (http1MaxPendingRequests, http2MaxRequests, maxRetries, "
              "maxRequestsPerConnection, idleTimeout are)");
    ConnectionPool::Http h;
    h.http1_max_pending_requests = count(http, "http1MaxPendingRequests", p, errs);
    h.http2_max_requests = count(http, "http2MaxRequests", p, errs);
    h.max_retries = count(http, "maxRetries", p, errs);
    h.max_requests_per_connection = count(http, "maxRequestsPerConnection", p, errs);
    h.idle_timeout_ms = atLeastOneMs(http, "idleTimeout", p, errs);
    cp.http = h;
  }
  return cp;
}

// As Istio's validateOutlierDetection: durations of at least 1 ms, percentages 0-100, and local
// origin failures only with the split. The deprecated consecutiveErrors is refused: today's Istio
// warns and ignores it, and weftd does not drop a setting silently.
std::optional<OutlierDetection> outlierDetection(const YAML::Node& n, const std::string& path, Errors& errs) {
  if (!n || !expectMap(n, path, errs)) return std::nullopt;
  if (n["consecutiveErrors"]) {
    errs.push_back(path +
                   ".consecutiveErrors: deprecated and ignored by Istio; use consecutiveGatewayErrors or "
                   "consecutive5xxErrors");
  }
  if (n["outlierDetectionHttpErrorCodes"]) {
    errs.push_back(path +
                   ".outlierDetectionHttpErrorCodes: not supported by weft-proxy yet (no outlier error matcher)");
  }
  checkKeys(n, path,
            {"consecutive5xxErrors", "consecutiveGatewayErrors", "consecutiveLocalOriginFailures",
             "splitExternalLocalOriginErrors", "interval", "baseEjectionTime", "maxEjectionPercent", "minHealthPercent",
             "consecutiveErrors", "outlierDetectionHttpErrorCodes"},
            errs);
  OutlierDetection od;
  od.consecutive_5xx_errors = count(n, "consecutive5xxErrors", path, errs);
  od.consecutive_gateway_errors = count(n, "consecutiveGatewayErrors", path, errs);
  od.consecutive_local_origin_failures = count(n, "consecutiveLocalOriginFailures", path, errs);
  od.split_external_local_origin_errors = boolean(n, "splitExternalLocalOriginErrors", path, errs).value_or(false);
  if (!od.split_external_local_origin_errors && od.consecutive_local_origin_failures.value_or(0) > 0) {
    errs.push_back(path +
                   ": outlier detection consecutive local origin failures is specified, but split external local "
                   "origin errors is set to false");
  }
  od.interval_ms = atLeastOneMs(n, "interval", path, errs);
  od.base_ejection_time_ms = atLeastOneMs(n, "baseEjectionTime", path, errs);
  for (auto [key, out] : {std::pair{"maxEjectionPercent", &od.max_ejection_percent},
                          std::pair{"minHealthPercent", &od.min_health_percent}}) {
    auto v = integer(n, key, path, errs);
    if (v && (*v < 0 || *v > 100)) errs.push_back(join(path, key) + ": must be 0-100, got " + std::to_string(*v));
    if (v) *out = *v;
  }
  return od;
}

// As Istio's validateLoadBalancer: one hash key and one of ringHash / maglev; a cookie needs a
// name and unique attribute names; a Maglev table size is a prime below 5000011.
ConsistentHash consistentHash(const YAML::Node& n, const std::string& path, Errors& errs) {
  ConsistentHash ch;
  if (!expectMap(n, path, errs)) return ch;
  checkKeys(n, path,
            {"httpHeaderName", "httpCookie", "useSourceIp", "httpQueryParameterName", "ringHash", "maglev",
             "minimumRingSize"},
            errs);
  int keys = 0;
  if (n["httpHeaderName"]) {
    ++keys;
    ch.key = ConsistentHash::Key::Header;
    ch.name = str(n, "httpHeaderName", path, errs);
    if (ch.name.empty()) errs.push_back(path + ".httpHeaderName: must not be empty");
  }
  if (YAML::Node c = n["httpCookie"]) {
    ++keys;
    std::string p = path + ".httpCookie";
    ch.key = ConsistentHash::Key::Cookie;
    if (expectMap(c, p, errs)) {
      checkKeys(c, p, {"name", "path", "ttl", "attributes"}, errs);
      ch.name = str(c, "name", p, errs);
      if (ch.name.empty()) errs.push_back(p + ": name required for HttpCookie");
      ch.cookie_path = str(c, "path", p, errs);
      ch.cookie_ttl_ms = durationMs(c, "ttl", p, errs);
      std::set<std::string> names;
      YAML::Node attrs = c["attributes"];
      for (size_t i = 0; attrs && attrs.IsSequence() && i < attrs.size(); ++i) {
        std::string ap = idx(p + ".attributes", i);
        if (!expectMap(attrs[i], ap, errs)) continue;
        checkKeys(attrs[i], ap, {"name", "value"}, errs);
        std::string name = str(attrs[i], "name", ap, errs);
        if (name.empty())
          errs.push_back(ap + ": cookie attribute name cannot be empty");
        else if (!names.insert(name).second)
          errs.push_back(ap + ": duplicate cookie attribute name: " + name);
        ch.cookie_attributes.emplace_back(name, str(attrs[i], "value", ap, errs));
      }
    }
  }
  if (n["useSourceIp"]) {
    ++keys;
    if (boolean(n, "useSourceIp", path, errs).value_or(false)) ch.key = ConsistentHash::Key::SourceIp;
  }
  if (n["httpQueryParameterName"]) {
    ++keys;
    ch.key = ConsistentHash::Key::QueryParameter;
    ch.name = str(n, "httpQueryParameterName", path, errs);
    if (ch.name.empty()) errs.push_back(path + ".httpQueryParameterName: must not be empty");
  }
  if (keys > 1) {
    errs.push_back(path + ": only one of httpHeaderName, httpCookie, useSourceIp, httpQueryParameterName may be set");
  }
  auto positive = [&](const YAML::Node& m, const char* key, const std::string& p) -> uint64_t {
    auto v = integer(m, key, p, errs);
    if (v && *v < 0) errs.push_back(join(p, key) + ": must be >= 0, got " + std::to_string(*v));
    return v && *v > 0 ? static_cast<uint64_t>(*v) : 0;
  };
  ch.ring_min_size = positive(n, "minimumRingSize", path);
  if (n["ringHash"] && n["maglev"]) errs.push_back(path + ": only one of ringHash or maglev may be set");
  if ((n["ringHash"] || n["maglev"]) && ch.ring_min_size) {
    errs.push_back(path + ": only one of MinimumRingSize or Maglev/Ringhash can be specified");
  }
  if (YAML::Node r = n["ringHash"]) {
    checkKeys(r, path + ".ringHash", {"minimumRingSize"}, errs);
    ch.ring_hash = true;
    ch.ring_min_size = positive(r, "minimumRingSize", path + ".ringHash");
  }
  if (YAML::Node m = n["maglev"]) {
    std::string p = path + ".maglev";
    checkKeys(m, p, {"tableSize"}, errs);
    ch.maglev = true;
    ch.maglev_table_size = positive(m, "tableSize", p);
    uint64_t t = ch.maglev_table_size;
    bool prime = t >= 2;
    for (uint64_t d = 2; prime && d * d <= t; ++d) prime = t % d != 0;
    if (t == 0)
      errs.push_back(p + ".tableSize: tableSize must be set for maglev");
    else if (t >= 5000011)
      errs.push_back(p + ".tableSize: tableSize must be less than 5000011 for maglev");
    else if (!prime)
      errs.push_back(p + ".tableSize: tableSize must be a prime number for maglev");
  }
  return ch;
}

std::optional<TrafficPolicy> trafficPolicy(const YAML::Node& n, const std::string& path, Errors& errs) {
  if (!n || n.IsNull()) return std::nullopt;
  if (!expectMap(n, path, errs)) return std::nullopt;
  checkKeys(n, path, {"loadBalancer", "connectionPool", "outlierDetection"}, errs);
  TrafficPolicy tp;
  tp.connection_pool = connectionPool(n["connectionPool"], path + ".connectionPool", errs);
  tp.outlier_detection = outlierDetection(n["outlierDetection"], path + ".outlierDetection", errs);
  if (YAML::Node lb = n["loadBalancer"]) {
    std::string p = path + ".loadBalancer";
    checkKeys(lb, p, {"simple", "consistentHash"}, errs);
    LoadBalancer l;
    if (lb["consistentHash"]) {
      if (lb["simple"]) errs.push_back(p + ": only one of simple or consistentHash may be set");
      l.consistent_hash = consistentHash(lb["consistentHash"], p + ".consistentHash", errs);
    } else {
      l.simple = str(lb, "simple", p, errs);
      static const std::set<std::string> ok = {"ROUND_ROBIN", "LEAST_REQUEST", "RANDOM", "UNSPECIFIED"};
      if (!ok.count(l.simple)) {
        errs.push_back(p + ".simple: '" + l.simple +
                       "' is not supported by weftd (ROUND_ROBIN, LEAST_REQUEST, RANDOM are)");
      }
    }
    tp.load_balancer = l;
  }
  return tp;
}

}  // namespace

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
  if (dr.host.empty())
    errs.push_back("spec.host: is required");
  else if (!isValidHost(dr.host))
    errs.push_back("spec.host: '" + dr.host + "' is not a valid host");
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
    if (sub.name.empty())
      errs.push_back(p + ".name: is required");
    else if (!isDnsLabel(sub.name))
      errs.push_back(p + ".name: '" + sub.name + "' is not a valid subset name (RFC 1123 label)");
    else if (!names.insert(sub.name).second)
      errs.push_back(p + ".name: duplicate subset '" + sub.name + "'");
    sub.labels = labels(s, "labels", p, errs);
    sub.traffic_policy = trafficPolicy(s["trafficPolicy"], p + ".trafficPolicy", errs);
    dr.subsets.push_back(std::move(sub));
  }
  return dr;
}

}  // namespace weft::control::decode
