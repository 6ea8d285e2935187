// security.istio.io PeerAuthentication, validated as Istio's ValidatePeerAuthentication.
#include "control/config/decode_util.h"
#include "control/config/decoders.h"

namespace weft::control::decode {

namespace {

MtlsMode mtlsMode(const YAML::Node& n, const std::string& path, Errors& errs) {
  if (!n || n.IsNull()) return MtlsMode::Unset;
  if (!expectMap(n, path, errs)) return MtlsMode::Unset;
  checkKeys(n, path, {"mode"}, errs);
  std::string mode = str(n, "mode", path, errs);
  if (mode.empty() || mode == "UNSET") return MtlsMode::Unset;
  if (mode == "DISABLE") return MtlsMode::Disable;
  if (mode == "PERMISSIVE") return MtlsMode::Permissive;
  if (mode == "STRICT") return MtlsMode::Strict;
  errs.push_back(path + ".mode: '" + mode + "' is not one of UNSET, DISABLE, PERMISSIVE, STRICT");
  return MtlsMode::Unset;
}

}  // namespace

PeerAuthentication decodePeerAuthentication(const YAML::Node& doc, Errors& errs) {
  PeerAuthentication pa;
  pa.meta = meta(doc, errs);
  YAML::Node spec = doc["spec"];
  if (!spec || spec.IsNull()) return pa;  // an empty spec: PERMISSIVE inherited, as Istio
  if (!expectMap(spec, "spec", errs)) return pa;
  checkKeys(spec, "spec", {"selector", "mtls", "portLevelMtls"}, errs);
  pa.selector = workloadSelector(spec, errs, pa.warnings);
  pa.mode = mtlsMode(spec["mtls"], "spec.mtls", errs);
  YAML::Node ports = spec["portLevelMtls"];
  if (ports && !ports.IsNull()) {
    if (!ports.IsMap()) {
      errs.push_back("spec.portLevelMtls: must be a map of port number to {mode}");
    } else {
      if (ports.size() == 0)
        errs.push_back("spec.portLevelMtls: port level mTLS, if defined, must have at least one element");
      if (pa.selector.empty())
        errs.push_back("spec.portLevelMtls: mesh/namespace peer authentication cannot have port level mTLS");
      for (const auto& kv : ports) {
        std::string key = kv.first.as<std::string>();
        std::string p = "spec.portLevelMtls[" + key + "]";
        long port = 0;
        try {
          size_t used = 0;
          port = std::stol(key, &used);
          if (used != key.size()) port = 0;
        } catch (...) {
          port = 0;
        }
        if (port <= 0 || port > 65535) {
          errs.push_back(p + ": port must be in range 1..65535");
          continue;
        }
        pa.port_modes[static_cast<uint32_t>(port)] = mtlsMode(kv.second, p, errs);
      }
    }
  }
  return pa;
}

}  // namespace weft::control::decode
