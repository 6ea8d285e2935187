// networking.istio.io Sidecar: the egress hosts a workload sees, validated as Istio's
// ValidateSidecar validates them.
#include "control/config/decoders.h"

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

}  // namespace

Sidecar decodeSidecar(const YAML::Node& doc, Errors& errs) {
  Sidecar sc;
  sc.meta = meta(doc, errs);
  YAML::Node spec = doc["spec"];
  if (!expectMap(spec, "spec", errs)) return sc;
  checkKeys(spec, "spec", {"workloadSelector", "egress"}, errs);
  if (YAML::Node ws = spec["workloadSelector"]) {
    sc.workload_selector = labels(ws, "labels", "spec.workloadSelector", errs);
    for (const auto& [k, v] : sc.workload_selector) {
      if (k.empty())
        errs.push_back("spec.workloadSelector: empty key is not supported in selector: \"" + k + "=" + v + "\"");
      if (k.find('*') != std::string::npos || v.find('*') != std::string::npos)
        errs.push_back("spec.workloadSelector: wildcard is not supported in selector: \"" + k + "=" + v + "\"");
    }
  }
  YAML::Node egress = spec["egress"];
  if (!egress || (egress.IsSequence() && egress.size() == 0)) {
    errs.push_back("spec: sidecar: empty configuration provided");
    return sc;
  }
  if (!egress.IsSequence()) {
    errs.push_back("spec.egress: must be a list");
    return sc;
  }
  // Every egress listener here has no port: only one may, and it must be the last.
  for (size_t i = 0; i < egress.size(); ++i) {
    std::string p = idx("spec.egress", i);
    if (!egress[i] || egress[i].IsNull()) {
      errs.push_back(p + ": egress listener may not be null");
      continue;
    }
    if (!expectMap(egress[i], p, errs)) continue;
    checkKeys(egress[i], p, {"hosts"}, errs);
    if (i >= 1) errs.push_back(p + ": sidecar: egress can have only one listener with empty port");
    if (i == 0 && egress.size() > 1)
      errs.push_back(p + ": sidecar: the egress listener with empty port should be the last listener in the list");
    auto hosts = strings(egress[i], "hosts", p, errs);
    if (hosts.empty()) errs.push_back(p + ": sidecar: egress listener must contain at least one host");
    for (size_t j = 0; j < hosts.size(); ++j) {
      checkEgressHost(hosts[j], idx(p + ".hosts", j), errs);
      sc.egress_hosts.push_back(hosts[j]);
    }
  }
  return sc;
}

}  // namespace weft::control::decode
