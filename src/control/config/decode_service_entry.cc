// networking.istio.io ServiceEntry and WorkloadEntry.
#include "control/config/decoders.h"

#include "control/config/decode_util.h"

namespace weft::control::decode {

namespace {

WorkloadEntrySpec workloadEntrySpec(const YAML::Node& n, const std::string& path, Errors& errs) {
  WorkloadEntrySpec w;
  checkKeys(n, path, {"address", "ports", "labels", "weight", "serviceAccount", "network", "locality"}, errs);
  w.address = str(n, "address", path, errs);
  if (w.address.empty()) errs.push_back(path + ".address: is required");
  w.labels = labels(n, "labels", path, errs);
  w.service_account = str(n, "serviceAccount", path, errs);
  w.locality = str(n, "locality", path, errs);
  if (auto wt = integer(n, "weight", path, errs)) w.weight = static_cast<uint32_t>(*wt);
  if (YAML::Node ports = n["ports"]) {
    for (const auto& kv : ports)
      w.ports[kv.first.as<std::string>()] = port(ports, kv.first.as<std::string>(), path + ".ports", errs, true);
  }
  return w;
}

}  // namespace

ServiceEntry decodeServiceEntry(const YAML::Node& doc, Errors& errs) {
  ServiceEntry se;
  se.meta = meta(doc, errs);
  YAML::Node spec = doc["spec"];
  if (!expectMap(spec, "spec", errs)) return se;
  checkKeys(spec, "spec",
            {"hosts", "addresses", "ports", "location", "resolution", "endpoints", "workloadSelector", "exportTo",
             "subjectAltNames"},
            errs);
  se.hosts = strings(spec, "hosts", "spec", errs);
  if (se.hosts.empty()) errs.push_back("spec.hosts: at least one host is required");
  for (size_t i = 0; i < se.hosts.size(); ++i) {
    if (!isValidHost(se.hosts[i]) || se.hosts[i] == "*")
      errs.push_back(idx("spec.hosts", i) + ": '" + se.hosts[i] + "' is not a valid host");
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
    if (sp.name.empty())
      errs.push_back(p + ".name: is required");
    else if (!names.insert(sp.name).second)
      errs.push_back(p + ".name: duplicate port name '" + sp.name + "'");
    se.ports.push_back(std::move(sp));
  }
  if (se.ports.empty()) errs.push_back("spec.ports: at least one port is required");
  std::string loc = str(spec, "location", "spec", errs);
  if (!loc.empty()) se.location = loc;
  if (se.location != "MESH_EXTERNAL" && se.location != "MESH_INTERNAL")
    errs.push_back("spec.location: must be MESH_EXTERNAL or MESH_INTERNAL");
  std::string res = str(spec, "resolution", "spec", errs);
  if (!res.empty()) se.resolution = res;
  if (se.resolution != "NONE" && se.resolution != "STATIC" && se.resolution != "DNS") {
    errs.push_back("spec.resolution: '" + se.resolution + "' is not supported by weftd (NONE, STATIC, DNS are)");
  }
  YAML::Node eps = spec["endpoints"];
  for (size_t i = 0; eps && eps.IsSequence() && i < eps.size(); ++i)
    se.endpoints.push_back(workloadEntrySpec(eps[i], idx("spec.endpoints", i), errs));
  if (se.resolution == "STATIC" && se.endpoints.empty() && !spec["workloadSelector"]) {
    errs.push_back("spec.endpoints: STATIC resolution needs endpoints or a workloadSelector");
  }
  if (YAML::Node ws = spec["workloadSelector"])
    se.workload_selector = labels(ws, "labels", "spec.workloadSelector", errs);
  se.export_to = strings(spec, "exportTo", "spec", errs);
  se.subject_alt_names = strings(spec, "subjectAltNames", "spec", errs);
  return se;
}

WorkloadEntry decodeWorkloadEntry(const YAML::Node& doc, Errors& errs) {
  WorkloadEntry we;
  we.meta = meta(doc, errs);
  YAML::Node s;
  if (spec(doc, s, errs)) we.spec = workloadEntrySpec(s, "spec", errs);
  return we;
}

}  // namespace weft::control::decode
