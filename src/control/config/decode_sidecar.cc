// networking.istio.io Sidecar: the egress hosts a workload sees.
#include "control/config/decoders.h"

#include "control/config/decode_util.h"

namespace weft::control::decode {

Sidecar decodeSidecar(const YAML::Node& doc, Errors& errs) {
  Sidecar sc;
  sc.meta = meta(doc, errs);
  YAML::Node spec = doc["spec"];
  if (!expectMap(spec, "spec", errs)) return sc;
  checkKeys(spec, "spec", {"workloadSelector", "egress"}, errs);
  if (YAML::Node ws = spec["workloadSelector"])
    sc.workload_selector = labels(ws, "labels", "spec.workloadSelector", errs);
  YAML::Node egress = spec["egress"];
  for (size_t i = 0; egress && egress.IsSequence() && i < egress.size(); ++i) {
    std::string p = idx("spec.egress", i);
    checkKeys(egress[i], p, {"hosts"}, errs);
    for (auto& h : strings(egress[i], "hosts", p, errs)) {
      if (h.find('/') == std::string::npos)
        errs.push_back(p + ".hosts: '" + h + "' must be of the form namespace/host");
      sc.egress_hosts.push_back(h);
    }
  }
  return sc;
}

}  // namespace weft::control::decode
