// networking.istio.io DestinationRule: subsets and their load balancer.
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
    checkKeys(tcp, p, {"maxConnections", "connectTimeout", "tcpKeepalive"}, errs,
              "not supported by weftd (maxConnections, connectTimeout, tcpKeepalive are)");
    ConnectionPool::Tcp t;
    t.max_connections = count(tcp, "maxConnections", p, errs);
    t.connect_timeout_ms = atLeastOneMs(tcp, "connectTimeout", p, errs);
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
    checkKeys(http, p, {"http1MaxPendingRequests", "http2MaxRequests", "maxRetries"}, errs,
              "not supported by weftd (http1MaxPendingRequests, http2MaxRequests, maxRetries are)");
    ConnectionPool::Http h;
    h.http1_max_pending_requests = count(http, "http1MaxPendingRequests", p, errs);
    h.http2_max_requests = count(http, "http2MaxRequests", p, errs);
    h.max_retries = count(http, "maxRetries", p, errs);
    cp.http = h;
  }
  return cp;
}

std::optional<TrafficPolicy> trafficPolicy(const YAML::Node& n, const std::string& path, Errors& errs) {
  if (!n || n.IsNull()) return std::nullopt;
  if (!expectMap(n, path, errs)) return std::nullopt;
  checkKeys(n, path, {"loadBalancer", "connectionPool"}, errs);
  TrafficPolicy tp;
  tp.connection_pool = connectionPool(n["connectionPool"], path + ".connectionPool", errs);
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
