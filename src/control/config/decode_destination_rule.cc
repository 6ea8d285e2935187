// networking.istio.io DestinationRule: subsets and their traffic policies.
#include "control/config/decoders.h"

#include <algorithm>
#include <cstdlib>

#include "control/config/decode_util.h"
#include "control/config/istio_names.h"

namespace weft::control::decode {

namespace {

// A count that must be >= 0 (Istio's validation), or unset.
std::optional<int64_t> count(const YAML::Node& n, const char* key, const std::string& path, Errors& errs) {
  auto v = integer(n, key, path, errs);
  if (v && *v < 0) errs.push_back(join(path, key) + ": must be >= 0, got " + std::to_string(*v));
  return v;
}

// Istio's ValidateDuration: at least 1ms, whole milliseconds.
std::optional<int64_t> atLeastOneMs(const YAML::Node& n, const char* key, const std::string& path, Errors& errs) {
  return istioDurationMs(n, key, path, errs);
}

// As Istio's validateOutlierDetection: durations of at least 1 ms, percentages 0-100, and local
// origin failures only with the split. The deprecated consecutiveErrors is refused: today's Istio
// warns and ignores it, and weftd does not drop a setting silently.
std::optional<OutlierDetection> outlierDetection(const YAML::Node& n, const std::string& path, Errors& errs) {
  if (!n || !expectMap(n, path, errs)) return std::nullopt;
  if (n["consecutiveErrors"]) {
    // Istio accepts it with a warning, so /validate allows it (a weftd limitation, with a warning).
    errs.push_back(path +
                   ".consecutiveErrors: deprecated and ignored by Istio (use consecutiveGatewayErrors or "
                   "consecutive5xxErrors); not supported by weftd");
  }
  if (n["outlierDetectionHttpErrorCodes"]) {
    errs.push_back(
        path + ".outlierDetectionHttpErrorCodes: not supported by weftd (weft-proxy has no outlier error matcher yet)");
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

// A locality as validation sees it: region[/zone[/subzone]], with at most one '*', at the end.
bool localityShapeError(const std::string& loc, std::string& why) {
  size_t stars = std::count(loc.begin(), loc.end(), '*');
  if (stars > 0 && (stars > 1 || loc.back() != '*')) {
    why = "locality " + loc + " wildcard '*' number can not exceed 1 and must be in the end";
    return true;
  }
  size_t parts = 1;
  size_t start = 0;
  for (size_t i = 0; i <= loc.size(); ++i) {
    if (i == loc.size() || loc[i] == '/') {
      if (i == start || parts > 3) {
        why = "locality " + loc + " must not contain empty region/zone/subzone info";
        return true;
      }
      start = i + 1;
      if (i < loc.size()) ++parts;
    }
  }
  return false;
}

// As Istio's validateLocalities: well formed, and none overlapping another ("us/*" and "us/a").
void validateLocalities(const std::vector<std::string>& locs, const std::string& path, Errors& errs) {
  std::vector<std::string> prefixes;  // each as "region/zone/" without the '*'
  for (const auto& loc : locs) {
    std::string why;
    if (localityShapeError(loc, why)) {
      errs.push_back(path + ": " + why);
      return;
    }
    std::string key = loc.back() == '*' ? loc.substr(0, loc.size() - 1) : loc + "/";
    for (const auto& other : prefixes) {
      if (key.rfind(other, 0) == 0 || other.rfind(key, 0) == 0) {
        errs.push_back(path + ": locality " + loc + " overlap with previous specified ones");
        return;
      }
    }
    prefixes.push_back(key);
  }
}

// Istio's ValidateLocalityLbSetting.
LocalityLbSetting localityLbSetting(const YAML::Node& n, const std::string& path, Errors& errs) {
  LocalityLbSetting s;
  if (!expectMap(n, path, errs)) return s;
  checkKeys(n, path, {"distribute", "failover", "failoverPriority", "enabled"}, errs);
  s.enabled = boolean(n, "enabled", path, errs);
  s.failover_priority = strings(n, "failoverPriority", path, errs);
  YAML::Node dist = seq(n, "distribute", path, errs), fail = seq(n, "failover", path, errs);
  for (size_t i = 0; dist && i < dist.size(); ++i) {
    std::string p = idx(path + ".distribute", i);
    if (!expectMap(dist[i], p, errs)) continue;
    checkKeys(dist[i], p, {"from", "to"}, errs);
    LocalityLbSetting::Distribute d;
    d.from = str(dist[i], "from", p, errs);
    if (YAML::Node to = dist[i]["to"]; to && to.IsMap()) {
      for (const auto& kv : to) {
        auto w = integer(to, kv.first.as<std::string>().c_str(), p + ".to", errs);
        d.to.emplace_back(kv.first.as<std::string>(), static_cast<uint32_t>(w.value_or(0) < 0 ? 0 : w.value_or(0)));
        if (w && (*w <= 0 || *w > 100)) errs.push_back(p + ".to: locality weight must be in range [1, 100]");
      }
    }
    s.distribute.push_back(std::move(d));
  }
  for (size_t i = 0; fail && i < fail.size(); ++i) {
    std::string p = idx(path + ".failover", i);
    if (!expectMap(fail[i], p, errs)) continue;
    checkKeys(fail[i], p, {"from", "to"}, errs);
    s.failover.push_back({str(fail[i], "from", p, errs), str(fail[i], "to", p, errs)});
  }
  if (!s.distribute.empty() && !s.failover.empty()) {
    errs.push_back(path + ": can not simultaneously specify 'distribute' and 'failover'");
    return s;
  }
  if (!s.failover.empty()) {
    for (const auto& label : s.failover_priority) {
      if (label == "topology.kubernetes.io/region" || label == "topology.kubernetes.io/zone" ||
          label == "topology.istio.io/subzone") {
        errs.push_back(path + ".failoverPriority: can not simultaneously set 'failover' and topology label '" + label +
                       "' in 'failover_priority'");
        return s;
      }
    }
  }
  std::vector<std::string> froms;
  for (size_t i = 0; i < s.distribute.size(); ++i) {
    std::string p = idx(path + ".distribute", i);
    froms.push_back(s.distribute[i].from);
    uint32_t total = 0;
    std::vector<std::string> tos;
    for (const auto& [loc, w] : s.distribute[i].to) {
      total += w;
      tos.push_back(loc);
    }
    if (total != 100) errs.push_back(p + ".to: total locality weight " + std::to_string(total) + " != 100");
    validateLocalities(tos, p + ".to", errs);
  }
  validateLocalities(froms, path + ".distribute", errs);
  for (size_t i = 0; i < s.failover.size(); ++i) {
    std::string p = idx(path + ".failover", i);
    const auto& f = s.failover[i];
    if (f.from == f.to) errs.push_back(p + ": locality lb failover settings must specify different regions");
    if (f.from.find('/') != std::string::npos || f.to.find('/') != std::string::npos)
      errs.push_back(p + ": locality lb failover only specify region");
    if (f.from.find('*') != std::string::npos || f.to.find('*') != std::string::npos)
      errs.push_back(p + ": locality lb failover region should not contain '*' wildcard");
  }
  return s;
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

std::optional<LoadBalancer> loadBalancer(const YAML::Node& lb, const std::string& p, Errors& errs) {
  if (!lb || !expectMap(lb, p, errs)) return std::nullopt;
  checkKeys(lb, p,
            {"simple", "consistentHash", "localityLbSetting", "zoneAwareLbSetting", "warmupDurationSecs", "warmup"},
            errs);
  if (lb["localityLbSetting"] && lb["zoneAwareLbSetting"])
    errs.push_back(p + ": only one of localityLbSetting and zoneAwareLbSetting can be set");
  if (lb["zoneAwareLbSetting"]) errs.push_back(p + ".zoneAwareLbSetting: not supported by weftd");
  // validateLoadBalancer's warmup rules; slow start itself is weftd's limit.
  if (YAML::Node warm = mapField(lb, "warmup", p, errs)) {
    const std::string wp = p + ".warmup";
    if (!child(warm, "duration", wp, errs).IsDefined()) {
      errs.push_back(wp + ": duration is required");
    } else {
      istioDurationMs(warm, "duration", wp, errs);
    }
    // DoubleValues: plain numbers in YAML and JSON.
    auto number = [&](const char* key) -> std::optional<double> {
      YAML::Node v = child(warm, key, wp, errs);
      if (!v.IsDefined() || v.IsNull()) return std::nullopt;
      char* end = nullptr;
      double d = v.IsScalar() ? std::strtod(v.Scalar().c_str(), &end) : 0;
      if (!v.IsScalar() || v.Scalar().empty() || *end != '\0') {
        errs.push_back(join(wp, key) + ": must be a number");
        return std::nullopt;
      }
      return d;
    };
    if (auto min = number("minimumPercent"); min && *min > 100)
      errs.push_back(wp + ".minimumPercent: minimumPercent value should be less than or equal to 100");
    if (auto aggr = number("aggression"); aggr && *aggr <= 0)
      errs.push_back(wp + ".aggression: aggression should be greater than 0");
  }
  if (lb["warmupDurationSecs"]) istioDurationMs(lb, "warmupDurationSecs", p, errs);
  for (const char* k : {"warmupDurationSecs", "warmup"}) {
    if (lb[k]) errs.push_back(join(p, k) + ": slow start is not supported by weftd");
  }
  LoadBalancer l;
  if (lb["consistentHash"]) {
    if (lb["simple"]) errs.push_back(p + ": only one of simple or consistentHash may be set");
    l.consistent_hash = consistentHash(lb["consistentHash"], p + ".consistentHash", errs);
  } else if (lb["simple"]) {
    l.simple = str(lb, "simple", p, errs);
    if (l.simple == "LEAST_CONN") l.simple = "LEAST_REQUEST";  // Istio's deprecated alias
    static const std::set<std::string> ok = {"ROUND_ROBIN", "LEAST_REQUEST", "RANDOM", "UNSPECIFIED"};
    if (!ok.count(l.simple)) {
      errs.push_back(p + ".simple: '" + l.simple +
                     "' is not supported by weftd (ROUND_ROBIN, LEAST_REQUEST, RANDOM are)");
    }
  }
  if (lb["localityLbSetting"]) l.locality = localityLbSetting(lb["localityLbSetting"], p + ".localityLbSetting", errs);
  return l;
}

// ClientTLSSettings, validated as Istio's ValidateTLS. SIMPLE and MUTUAL name files in the
// workload's filesystem, which the sidecar's agent serves over SDS as Istio's file-cert: and
// file-root: secrets.
std::optional<ClientTls> clientTls(const YAML::Node& n, const std::string& path, Errors& errs) {
  if (!n || n.IsNull()) return std::nullopt;
  if (!expectMap(n, path, errs)) return std::nullopt;
  checkKeys(n, path,
            {"mode", "sni", "subjectAltNames", "clientCertificate", "privateKey", "caCertificates", "credentialName",
             "insecureSkipVerify", "caCrl"},
            errs);
  ClientTls t;
  std::string mode = str(n, "mode", path, errs);
  if (mode == "ISTIO_MUTUAL") {
    t.mode = ClientTls::Mode::IstioMutual;
  } else if (mode == "DISABLE" || mode.empty()) {
    t.mode = ClientTls::Mode::Disable;
  } else if (mode == "SIMPLE") {
    t.mode = ClientTls::Mode::Simple;
  } else if (mode == "MUTUAL") {
    t.mode = ClientTls::Mode::Mutual;
  } else {
    errs.push_back(path + ".mode: '" + mode + "' is not one of DISABLE, SIMPLE, MUTUAL, ISTIO_MUTUAL");
  }
  t.client_certificate = str(n, "clientCertificate", path, errs);
  t.private_key = str(n, "privateKey", path, errs);
  t.ca_certificates = str(n, "caCertificates", path, errs);
  if (YAML::Node v = n["insecureSkipVerify"]) t.insecure_skip_verify = v.IsScalar() && v.as<std::string>() == "true";
  bool files = t.mode == ClientTls::Mode::Simple || t.mode == ClientTls::Mode::Mutual;
  for (const char* k : {"clientCertificate", "privateKey", "caCertificates", "credentialName", "caCrl"}) {
    if (n[k] && t.mode == ClientTls::Mode::IstioMutual)
      errs.push_back(path + "." + k + ": must not be set with ISTIO_MUTUAL (the workload certificate is used)");
  }
  // Istio's ValidateTLS.
  const std::string credential = str(n, "credentialName", path, errs);
  if (t.insecure_skip_verify && t.mode == ClientTls::Mode::Simple &&
      (!t.ca_certificates.empty() || !credential.empty() || n["subjectAltNames"]))
    errs.push_back(path +
                   ": cannot specify CaCertificates or CredentialName or SubjectAltNames when InsecureSkipVerify is "
                   "set true");
  if (t.insecure_skip_verify && t.mode == ClientTls::Mode::Mutual &&
      (!t.ca_certificates.empty() || n["subjectAltNames"]))
    errs.push_back(path + ": cannot specify CaCertificates or SubjectAltNames when InsecureSkipVerify is set true");
  if (files && !credential.empty()) {
    // The credentials come from the named secret.
    if (!t.client_certificate.empty() || !t.ca_certificates.empty() || !t.private_key.empty() || n["caCrl"])
      errs.push_back(path +
                     ": cannot specify client certificates or CA certificate or CA CRL If credentialName is set");
    errs.push_back(path +
                   ".credentialName: Kubernetes secrets are not supported by weftd yet; name the files "
                   "(clientCertificate, privateKey, caCertificates)");
  } else {
    if (t.mode == ClientTls::Mode::Mutual && t.client_certificate.empty())
      errs.push_back(path + ".clientCertificate: client certificate required for mutual tls");
    if (t.mode == ClientTls::Mode::Mutual && t.private_key.empty())
      errs.push_back(path + ".privateKey: private key required for mutual tls");
  }
  if (n["caCrl"] && files) errs.push_back(path + ".caCrl: certificate revocation lists are not supported by weftd");
  for (const auto* f : {&t.client_certificate, &t.private_key, &t.ca_certificates})
    if (f->find('~') != std::string::npos)
      errs.push_back(path + ": '" + *f + "': a file name with '~' cannot be an SDS resource name");
  t.sni = str(n, "sni", path, errs);
  YAML::Node sans = n["subjectAltNames"];
  if (sans && !sans.IsSequence()) errs.push_back(path + ".subjectAltNames: must be a list");
  for (size_t i = 0; sans && sans.IsSequence() && i < sans.size(); ++i) {
    if (!sans[i].IsScalar() || sans[i].as<std::string>().empty())
      errs.push_back(idx(path + ".subjectAltNames", i) + ": must be a non-empty string");
    else
      t.subject_alt_names.push_back(sans[i].as<std::string>());
  }
  return t;
}

std::optional<TrafficPolicy> trafficPolicy(const YAML::Node& n, const std::string& path, Errors& errs) {
  if (!n || n.IsNull()) return std::nullopt;
  if (!expectMap(n, path, errs)) return std::nullopt;
  checkKeys(n, path, {"loadBalancer", "connectionPool", "outlierDetection", "portLevelSettings", "tls"}, errs);
  TrafficPolicy tp;
  if (n.size() == 0) {
    errs.push_back(path + ": traffic policy must have at least one field");
    return std::nullopt;
  }
  tp.tls = clientTls(n["tls"], path + ".tls", errs);
  tp.connection_pool = connectionPool(n["connectionPool"], path + ".connectionPool", errs);
  tp.outlier_detection = outlierDetection(n["outlierDetection"], path + ".outlierDetection", errs);
  tp.load_balancer = loadBalancer(n["loadBalancer"], path + ".loadBalancer", errs);
  YAML::Node pls = n["portLevelSettings"];
  if (pls && !pls.IsSequence()) errs.push_back(path + ".portLevelSettings: must be a list");
  std::set<uint32_t> seen;
  for (size_t i = 0; pls && pls.IsSequence() && i < pls.size(); ++i) {
    std::string p = idx(path + ".portLevelSettings", i);
    if (!expectMap(pls[i], p, errs)) continue;
    checkKeys(pls[i], p, {"port", "loadBalancer", "connectionPool", "outlierDetection", "tls"}, errs);
    PortTrafficPolicy pt;
    YAML::Node port_node = pls[i]["port"];
    if (!port_node || !port_node.IsMap()) {
      errs.push_back(p + ".port: portTrafficPolicy must have valid port");
    } else {
      checkKeys(port_node, p + ".port", {"number"}, errs);
      pt.port = port(port_node, "number", p + ".port", errs, true);
      if (pt.port != 0 && !seen.insert(pt.port).second)
        errs.push_back(p + ".port.number: port " + std::to_string(pt.port) + " is set twice");
    }
    pt.connection_pool = connectionPool(pls[i]["connectionPool"], p + ".connectionPool", errs);
    pt.outlier_detection = outlierDetection(pls[i]["outlierDetection"], p + ".outlierDetection", errs);
    pt.load_balancer = loadBalancer(pls[i]["loadBalancer"], p + ".loadBalancer", errs);
    pt.tls = clientTls(pls[i]["tls"], p + ".tls", errs);
    tp.port_level_settings.push_back(std::move(pt));
  }
  return tp;
}

}  // namespace

std::optional<ConnectionPool> connectionPool(const YAML::Node& n, const std::string& path, Errors& errs) {
  if (!n || !expectMap(n, path, errs)) return std::nullopt;
  checkKeys(n, path, {"tcp", "http"}, errs);
  ConnectionPool cp;
  if (!n["tcp"] && !n["http"]) {
    errs.push_back(path + ": connection pool must have at least one field");
    return std::nullopt;
  }
  if (YAML::Node tcp = n["tcp"]) {
    std::string p = path + ".tcp";
    checkKeys(tcp, p, {"maxConnections", "connectTimeout", "tcpKeepalive", "idleTimeout", "maxConnectionDuration"},
              errs,
              "not supported by weftd (maxConnections, connectTimeout, tcpKeepalive, idleTimeout, "
              "maxConnectionDuration are)");
    ConnectionPool::Tcp t;
    t.max_connections = count(tcp, "maxConnections", p, errs);
    t.connect_timeout_ms = atLeastOneMs(tcp, "connectTimeout", p, errs);
    // 0s turns the TCP idle timeout off (Istio accepts it here).
    const bool off =
        tcp["idleTimeout"] && tcp["idleTimeout"].IsScalar() && goDurationNs(tcp["idleTimeout"].Scalar()) == 0;
    t.idle_timeout_ms = off ? std::optional<int64_t>(0) : atLeastOneMs(tcp, "idleTimeout", p, errs);
    t.max_connection_duration_ms = atLeastOneMs(tcp, "maxConnectionDuration", p, errs);
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
              {"http1MaxPendingRequests", "http2MaxRequests", "maxRetries", "maxRequestsPerConnection", "idleTimeout",
               "h2UpgradePolicy", "useClientProtocol", "maxConcurrentStreams", "http2KeepAlive"},
              errs,
              "not supported by weftd (http1MaxPendingRequests, http2MaxRequests, maxRetries, "
              "maxRequestsPerConnection, idleTimeout, h2UpgradePolicy, useClientProtocol, maxConcurrentStreams are)");
    ConnectionPool::Http h;
    h.http1_max_pending_requests = count(http, "http1MaxPendingRequests", p, errs);
    h.http2_max_requests = count(http, "http2MaxRequests", p, errs);
    h.max_retries = count(http, "maxRetries", p, errs);
    h.max_requests_per_connection = count(http, "maxRequestsPerConnection", p, errs);
    h.idle_timeout_ms = atLeastOneMs(http, "idleTimeout", p, errs);
    h.max_concurrent_streams = count(http, "maxConcurrentStreams", p, errs);
    h.use_client_protocol = boolean(http, "useClientProtocol", p, errs).value_or(false);
    std::string upgrade = str(http, "h2UpgradePolicy", p, errs);
    if (upgrade == "UPGRADE") {
      h.h2_upgrade = ConnectionPool::Http::H2Upgrade::Upgrade;
    } else if (upgrade == "DO_NOT_UPGRADE") {
      h.h2_upgrade = ConnectionPool::Http::H2Upgrade::DoNotUpgrade;
    } else if (!upgrade.empty() && upgrade != "DEFAULT") {
      errs.push_back(p + ".h2UpgradePolicy: '" + upgrade + "' is not one of DEFAULT, DO_NOT_UPGRADE, UPGRADE");
    }
    if (h.h2_upgrade == ConnectionPool::Http::H2Upgrade::Upgrade && h.use_client_protocol)
      errs.push_back(p + ": use client protocol must not be true when H2UpgradePolicy is UPGRADE");
    if (YAML::Node ka = mapField(http, "http2KeepAlive", p, errs)) {
      // validateConnectionPool: both durations, each as ValidateDuration; then weftd's limit.
      const std::string kp = p + ".http2KeepAlive";
      for (const char* k : {"interval", "timeout"}) {
        if (!child(ka, k, kp, errs).IsDefined())
          errs.push_back(kp + ": http2 keepalive " + k + " is required");
        else
          istioDurationMs(ka, k, kp, errs);
      }
      errs.push_back(kp + ": not supported by weftd");
    }
    cp.http = h;
  }
  return cp;
}

DestinationRule decodeDestinationRule(const YAML::Node& doc, Errors& errs) {
  DestinationRule dr;
  dr.meta = meta(doc, errs);
  YAML::Node spec;
  if (!decode::spec(doc, spec, errs)) return dr;
  checkKeys(spec, "spec", {"host", "trafficPolicy", "subsets", "exportTo", "workloadSelector"}, errs);
  dr.host = str(spec, "host", "spec", errs);
  if (dr.host.empty())
    errs.push_back("spec.host: is required");
  else if (!isValidHost(dr.host))
    errs.push_back("spec.host: '" + dr.host + "' is not a valid host");
  dr.traffic_policy = trafficPolicy(spec["trafficPolicy"], "spec.trafficPolicy", errs);
  dr.export_to = strings(spec, "exportTo", "spec", errs);
  for (const auto& e : exportToErrors(dr.meta.ns, dr.export_to, false)) errs.push_back("spec.exportTo: " + e);
  if (YAML::Node ws = mapField(spec, "workloadSelector", "spec", errs)) {
    // validateWorkloadSelector, and validateExportTo's rule for a rule with a selector.
    Labels sel = labels(ws, "matchLabels", "spec.workloadSelector", errs);
    selectorLabelsValid(
        sel, [](const std::string&) { return std::string("spec.workloadSelector: "); }, errs);
    if (sel.empty()) dr.warnings.push_back("spec.workloadSelector: workload selector specified without labels");
    std::set<std::string> to;
    for (const auto& e : dr.export_to) to.insert(e == "." ? dr.meta.ns : e);
    if (!to.empty() && !to.count(dr.meta.ns))
      errs.push_back(
          "spec.exportTo: destination rule with workload selector cannot have exportTo beyond current namespace");
    else if (to.size() > 1)
      errs.push_back("spec.exportTo: destination rule with workload selector cannot have multiple entries in exportTo");
    errs.push_back("spec.workloadSelector: not supported by weftd");
  }
  std::set<std::string> names;
  YAML::Node subsets = seq(spec, "subsets", "spec", errs);
  for (size_t i = 0; subsets && i < subsets.size(); ++i) {
    std::string p = idx("spec.subsets", i);
    const YAML::Node& s = subsets[i];
    if (!expectMap(s, p, errs)) continue;
    checkKeys(s, p, {"name", "labels", "trafficPolicy"}, errs);
    Subset sub;
    sub.name = str(s, "name", p, errs);
    if (sub.name.empty())
      errs.push_back(p + ".name: subset name cannot be empty");
    else if (!isIstioDnsLabel(sub.name))
      errs.push_back(p + ".name: subset name is invalid: " + sub.name);
    else if (!names.insert(sub.name).second)
      errs.push_back(p + ".name: duplicate subset names: " + sub.name);
    sub.labels = labels(s, "labels", p, errs);
    for (const auto& e : labelErrors(sub.labels)) errs.push_back(join(p, "labels") + ": " + e);
    sub.traffic_policy = trafficPolicy(s["trafficPolicy"], p + ".trafficPolicy", errs);
    dr.subsets.push_back(std::move(sub));
  }
  return dr;
}

}  // namespace weft::control::decode
