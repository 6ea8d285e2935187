// networking.istio.io Sidecar: the egress hosts a workload sees. Every field is validated as
// Istio's ValidateSidecar validates it; what weftd cannot serve (ingress listeners, egress
// listeners with a port, outboundTrafficPolicy, inboundConnectionPool) is then refused as its limit.
#include "control/config/decoders.h"

#include <map>
#include <set>

#include "control/config/decode_util.h"
#include "control/config/istio_names.h"

namespace weft::control::decode {

namespace {

// ValidateNamespaceSlashWildcardHostname(host, false, false).
void checkEgressHost(const std::string& h, const std::string& p, Errors& errs) {
  auto slash = h.find('/');
  if (slash == std::string::npos) {
    errs.push_back(p + ": host must be of form namespace/dnsName");
    return;
  }
  std::string ns = h.substr(0, slash), name = h.substr(slash + 1);
  if (ns.empty() || name.empty()) {
    errs.push_back(p + ": config namespace and dnsName in host entry cannot be empty");
    return;
  }
  std::string bare = ns[0] == '~' ? ns.substr(1) : ns;
  if (!bare.empty() && bare != "*" && bare != "." && !isIstioDnsLabel(bare))
    errs.push_back(p + ": invalid namespace value \"" + bare + "\" in sidecar");
  if (name != "*" && name.find('.') == std::string::npos) {
    errs.push_back(p + ": short names (non FQDN) are not allowed");
    return;
  }
  if (auto e = wildcardDomainError(name)) errs.push_back(p + ": " + *e);
  if (name.find('*') != std::string::npos && name.size() != 1 && name.rfind("*.", 0) != 0)
    errs.push_back(p + ": partial wildcard \"" + name + "\" not allowed");
}

// Istio's warnings for egress hosts that repeat (ns/a twice, or ns/a beside ns/*), and for */*
// beside other hosts.
void duplicateHostWarnings(const std::vector<std::string>& hosts, const std::string& ns_of_sidecar,
                           const std::string& p, std::vector<std::string>& warnings) {
  std::map<std::string, std::set<std::string>> seen;
  for (const auto& h : hosts) {
    auto slash = h.find('/');
    if (slash == std::string::npos || h[0] == '~') continue;
    std::string ns = h.substr(0, slash), svc = h.substr(slash + 1);
    if (ns == ".") ns = ns_of_sidecar;
    auto& svcs = seen[ns];
    if (svc != "*" ? (svcs.count(svc) > 0 || svcs.count("*") > 0) : !svcs.empty())
      warnings.push_back(p + ".hosts: duplicated egress host: " + h);
    svcs.insert(svc);
  }
  if (seen.count("*") && seen["*"].count("*") && seen.size() != 1)
    warnings.push_back(p + ".hosts: `*/*` host select all resources, no other hosts can be added");
}

// validateSidecarIngressPortAndBind / validateSidecarEgressPortBindAndCaptureMode: the port's
// name, protocol and number, and the bind address. Returns the port number (0: none).
int64_t sidecarPort(const YAML::Node& listener, const std::string& p, bool egress, Errors& errs) {
  YAML::Node port = mapField(listener, "port", p, errs);
  const std::string pp = p + ".port";
  checkKeys(port, pp, {"number", "protocol", "name", "targetPort"}, errs);
  std::string name = str(port, "name", pp, errs), proto = str(port, "protocol", pp, errs);
  int64_t number = integer(port, "number", pp, errs).value_or(0);
  if (integer(port, "targetPort", pp, errs).value_or(0) > 0)
    errs.push_back(pp + ".targetPort: targetPort has no impact on Sidecars");
  if (!name.empty())
    if (auto e = portNameError(name)) errs.push_back(pp + ".name: " + *e);
  if (auto e = protocolError(proto)) errs.push_back(pp + ".protocol: " + *e);
  std::string bind = str(listener, "bind", p, errs), mode = str(listener, "captureMode", p, errs);
  if (!mode.empty() && mode != "DEFAULT" && mode != "IPTABLES" && mode != "NONE")
    errs.push_back(p + ".captureMode: unknown capture mode '" + mode + "'");
  if (egress && number == 0) {
    if (bind.rfind("unix://", 0) != 0) {
      errs.push_back(p + ": sidecar: ports with 0 value must have a unix domain socket bind address");
    } else if (auto e = unixAddressError(bind.substr(7))) {
      errs.push_back(p + ".bind: " + *e);
    }
    if (!mode.empty() && mode != "DEFAULT" && mode != "NONE")
      errs.push_back(p + ": sidecar: captureMode must be DEFAULT/NONE for unix domain socket listeners");
    return 0;
  }
  if (auto e = portNumberError(number)) errs.push_back(pp + ".number: " + *e);
  if (!bind.empty() && !isIpAddress(bind)) errs.push_back(p + ".bind: " + bind + " is not a valid IP");
  return number;
}

// ValidateSidecar's checks of an ingress listener's defaultEndpoint and tls.
void ingressEndpointAndTls(const YAML::Node& in, const std::string& p, const std::string& proto, Errors& errs) {
  std::string ep = str(in, "defaultEndpoint", p, errs);
  if (ep.rfind("unix://", 0) == 0) {
    if (auto e = unixAddressError(ep.substr(7))) errs.push_back(p + ".defaultEndpoint: " + *e);
  } else if (!ep.empty()) {
    auto colon = ep.rfind(':');
    std::string host = colon == std::string::npos ? ep : ep.substr(0, colon);
    std::string port = colon == std::string::npos ? "" : ep.substr(colon + 1);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    if (colon == std::string::npos) errs.push_back(p + ".defaultEndpoint: address " + ep + ": missing port in address");
    if (!host.empty() && host != "127.0.0.1" && host != "0.0.0.0" && host != "::1" && host != "::")
      errs.push_back(p +
                     ".defaultEndpoint: sidecar: defaultEndpoint must be of form 127.0.0.1:<port>,0.0.0.0:<port>,"
                     "[::1]:port,[::]:port,unix://filepath or unset");
    if (port.empty() || port.find_first_not_of("0123456789") != std::string::npos || port.size() > 9) {
      errs.push_back(p + ".defaultEndpoint: sidecar: defaultEndpoint port (" + port + ") is not a number");
    } else if (auto e = portNumberError(std::stoll(port))) {
      errs.push_back(p + ".defaultEndpoint: " + *e);
    }
  }
  YAML::Node tls = mapField(in, "tls", p, errs);
  if (!tls) return;
  const std::string tp = p + ".tls";
  if (!strings(tls, "subjectAltNames", tp, errs).empty())
    errs.push_back(tp + ": sidecar: subjectAltNames is not supported in ingress tls");
  if (boolean(tls, "httpsRedirect", tp, errs).value_or(false))
    errs.push_back(tp + ": sidecar: httpsRedirect is not supported");
  if (!str(tls, "credentialName", tp, errs).empty())
    errs.push_back(tp + ": sidecar: credentialName is not currently supported");
  if (!strings(tls, "credentialNames", tp, errs).empty())
    errs.push_back(tp + ": sidecar: credentialNames is not currently supported");
  if (YAML::Node certs = seq(tls, "tlsCertificates", tp, errs); certs && certs.size() > 0)
    errs.push_back(tp + ": sidecar: tls_certificates is not currently supported");
  std::string mode = str(tls, "mode", tp, errs);
  if (mode == "ISTIO_MUTUAL" || mode == "AUTO_PASSTHROUGH")
    errs.push_back(tp + ": configuration is invalid: cannot set mode to " + mode + " in sidecar ingress tls");
  if (!isTlsProtocol(proto)) errs.push_back(tp + ": server cannot have TLS settings for non HTTPS/TLS ports");
  // validateTLSOptions, for the certificate files a sidecar can use.
  if (mode == "SIMPLE" || mode == "MUTUAL" || mode == "OPTIONAL_MUTUAL") {
    const std::string what = mode == "SIMPLE" ? "SIMPLE TLS" : "MUTUAL TLS";
    if (mode != "SIMPLE" && str(tls, "caCertificates", tp, errs).empty())
      errs.push_back(tp + ": " + what + " requires a client CA bundle");
    if (str(tls, "serverCertificate", tp, errs).empty())
      errs.push_back(tp + ": " + what + " requires a server certificate");
    if (str(tls, "privateKey", tp, errs).empty()) errs.push_back(tp + ": " + what + " requires a private key");
  }
  if (!str(tls, "caCrl", tp, errs).empty() && mode == "SIMPLE")
    errs.push_back(tp + ": CRL is not supported with SIMPLE TLS");
}

// validateSidecarOutboundTrafficPolicy.
void outboundTrafficPolicy(const YAML::Node& tp, Errors& errs) {
  const std::string p = "spec.outboundTrafficPolicy";
  checkKeys(tp, p, {"mode", "egressProxy"}, errs);
  std::string mode = str(tp, "mode", p, errs);
  if (mode == "ALLOW_ANY_DYNAMIC_DNS") {
    errs.push_back(p +
                   ": sidecar: ALLOW_ANY_DYNAMIC_DNS mode is only supported in MeshConfig, not in Sidecar resource");
    return;
  }
  if (!mode.empty() && mode != "REGISTRY_ONLY" && mode != "ALLOW_ANY")
    errs.push_back(p + ".mode: unknown mode '" + mode + "' (REGISTRY_ONLY, ALLOW_ANY)");
  YAML::Node proxy = mapField(tp, "egressProxy", p, errs);
  if (!proxy) return;
  if (mode != "ALLOW_ANY") {
    errs.push_back(p + ": sidecar: egress_proxy must be set only with ALLOW_ANY outbound_traffic_policy mode");
    return;
  }
  std::string host = str(proxy, "host", p + ".egressProxy", errs);
  if (auto e = fqdnError(host)) errs.push_back(p + ".egressProxy.host: " + *e);
  YAML::Node port = mapField(proxy, "port", p + ".egressProxy", errs);
  if (!port) {
    errs.push_back(p + ".egressProxy: sidecar: egress_proxy port must be non-nil");
    return;
  }
  if (auto e = portNumberError(integer(port, "number", p + ".egressProxy.port", errs).value_or(0)))
    errs.push_back(p + ".egressProxy.port.number: " + *e);
}

}  // namespace

Sidecar decodeSidecar(const YAML::Node& doc, Errors& errs) {
  Sidecar sc;
  sc.meta = meta(doc, errs);
  YAML::Node spec;
  if (!decode::spec(doc, spec, errs)) return sc;
  checkKeys(spec, "spec", {"workloadSelector", "egress", "ingress", "outboundTrafficPolicy", "inboundConnectionPool"},
            errs);
  if (YAML::Node ws = mapField(spec, "workloadSelector", "spec", errs)) {
    sc.workload_selector = labels(ws, "labels", "spec.workloadSelector", errs);
    selectorLabelsValid(
        sc.workload_selector, [](const std::string&) { return std::string("spec.workloadSelector: "); }, errs);
    if (sc.workload_selector.empty())
      sc.warnings.push_back(
          "spec.workloadSelector: sidecar: workload selector specified without labels, will be applied to all services "
          "in namespace");
  }
  YAML::Node ingress = seq(spec, "ingress", "spec", errs), egress = seq(spec, "egress", "spec", errs);
  YAML::Node otp = mapField(spec, "outboundTrafficPolicy", "spec", errs);
  YAML::Node pool = mapField(spec, "inboundConnectionPool", "spec", errs);
  if ((!ingress || ingress.size() == 0) && (!egress || egress.size() == 0) && !otp && !pool) {
    errs.push_back("spec: sidecar: empty configuration provided");
    return sc;
  }
  std::set<int64_t> ports;
  for (size_t i = 0; ingress && i < ingress.size(); ++i) {
    std::string p = idx("spec.ingress", i);
    if (!ingress[i] || ingress[i].IsNull()) {
      errs.push_back(p + ": sidecar: ingress may not be null");
      continue;
    }
    if (!expectMap(ingress[i], p, errs)) continue;
    checkKeys(ingress[i], p, {"port", "bind", "captureMode", "defaultEndpoint", "tls", "connectionPool"}, errs);
    if (!mapField(ingress[i], "port", p, errs)) {
      errs.push_back(p + ": sidecar: port is required for ingress listeners");
      continue;
    }
    int64_t number = sidecarPort(ingress[i], p, false, errs);
    if (!ports.insert(number).second) errs.push_back(p + ": sidecar: ports on IP bound listeners must be unique");
    const std::string proto = str(ingress[i]["port"], "protocol", p + ".port", errs);
    ingressEndpointAndTls(ingress[i], p, proto, errs);
    connectionPool(ingress[i]["connectionPool"], p + ".connectionPool", errs);
    YAML::Node pool_http = ingress[i]["connectionPool"] ? ingress[i]["connectionPool"]["http"] : YAML::Node();
    if (pool_http && !pool_http.IsNull() && !isHttpProtocol(proto))
      sc.warnings.push_back(p + ": sidecar: HTTP connection pool settings are configured for port " +
                            std::to_string(number) + " (\"" + str(ingress[i]["port"], "name", p + ".port", errs) +
                            "\") but its protocol is not HTTP (" + proto + "); only TCP settings will apply");
  }
  if (pool) connectionPool(pool, "spec.inboundConnectionPool", errs);
  ports.clear();
  std::set<std::string> sockets;
  bool catch_all = false;
  size_t with_port = 0;
  for (size_t i = 0; egress && i < egress.size(); ++i) {
    std::string p = idx("spec.egress", i);
    if (!egress[i] || egress[i].IsNull()) {
      errs.push_back(p + ": egress listener may not be null");
      continue;
    }
    if (!expectMap(egress[i], p, errs)) continue;
    checkKeys(egress[i], p, {"hosts", "port", "bind", "captureMode"}, errs);
    // Only one catch-all listener (without a port), and it must be the last.
    if (!mapField(egress[i], "port", p, errs)) {
      if (catch_all) {
        errs.push_back(p + ": sidecar: egress can have only one listener with empty port");
        continue;
      }
      if (i + 1 == egress.size()) {
        catch_all = true;
      } else {
        errs.push_back(p + ": sidecar: the egress listener with empty port should be the last listener in the list");
      }
    } else {
      ++with_port;
      int64_t number = sidecarPort(egress[i], p, true, errs);
      if (number == 0 && !sockets.insert(str(egress[i], "bind", p, errs)).second)
        errs.push_back(p + ": sidecar: unix domain socket values for listeners must be unique");
      if (number != 0 && !ports.insert(number).second)
        errs.push_back(p + ": sidecar: ports on IP bound listeners must be unique");
    }
    auto hosts = strings(egress[i], "hosts", p, errs);
    if (hosts.empty()) errs.push_back(p + ": sidecar: egress listener must contain at least one host");
    duplicateHostWarnings(hosts, sc.meta.ns, p, sc.warnings);
    for (size_t j = 0; j < hosts.size(); ++j) checkEgressHost(hosts[j], idx(p + ".hosts", j), errs);
    if (catch_all && i + 1 == egress.size()) sc.egress_hosts = hosts;
  }
  if (otp) outboundTrafficPolicy(otp, errs);
  // What weftd serves of a Sidecar: the hosts of its catch-all egress listener.
  if (ingress && ingress.size() > 0) errs.push_back("spec.ingress: not supported by weftd");
  if (with_port > 0) errs.push_back("spec.egress: listeners with a port or a bind address are not supported by weftd");
  if (otp) errs.push_back("spec.outboundTrafficPolicy: not supported by weftd");
  if (pool) errs.push_back("spec.inboundConnectionPool: not supported by weftd");
  return sc;
}

}  // namespace weft::control::decode
