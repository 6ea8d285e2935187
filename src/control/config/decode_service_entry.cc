// networking.istio.io ServiceEntry and WorkloadEntry, validated as Istio's ValidateServiceEntry
// and ValidateWorkloadEntry (pkg/config/validation, Istio master 86c9f01): the same rules in the
// same order, Istio's messages after the field path, and Istio's warnings kept on the object.
// What weftd itself cannot serve (DNS_ROUND_ROBIN, DYNAMIC_DNS) is refused after Istio's checks.
#include <algorithm>
#include <cctype>
#include <set>

#include "control/config/decode_util.h"
#include "control/config/decoders.h"
#include "control/config/istio_names.h"

namespace weft::control::decode {

namespace {

using Warnings = std::vector<std::string>;

WorkloadEntrySpec workloadEntrySpec(const YAML::Node& n, const std::string& path, Errors& errs) {
  WorkloadEntrySpec w;
  if (!expectMap(n, path, errs)) return w;
  checkKeys(n, path, {"address", "ports", "labels", "weight", "serviceAccount", "network", "locality"}, errs);
  w.address = str(n, "address", path, errs);
  w.network = str(n, "network", path, errs);
  w.labels = labels(n, "labels", path, errs);
  w.service_account = str(n, "serviceAccount", path, errs);
  w.locality = str(n, "locality", path, errs);
  if (auto wt = integer(n, "weight", path, errs)) {
    if (*wt < 0 || *wt > 4294967295LL) errs.push_back(join(path, "weight") + ": must be a uint32");
    w.weight = static_cast<uint32_t>(*wt);
  }
  if (YAML::Node ports = n["ports"]; ports && !ports.IsNull()) {
    if (!ports.IsMap()) {
      errs.push_back(join(path, "ports") + ": must be a map of port name to number");
    } else {
      for (const auto& kv : ports) {
        std::string name = kv.first.as<std::string>();
        auto v = integer(ports, name, join(path, "ports"), errs);
        w.port_numbers[name] = v.value_or(0);
        if (v && *v >= 1 && *v <= 65535) w.ports[name] = static_cast<uint32_t>(*v);
      }
    }
  }
  return w;
}

// validateWorkloadEntry: a WorkloadEntry (FQDN addresses allowed), or a STATIC ServiceEntry's
// endpoint (`service_ports`: the entry's port names; IP or unix:// addresses only).
void validateWorkloadEntry(const WorkloadEntrySpec& w, const std::string& path,
                           const std::set<std::string>* service_ports, Errors& errs, Warnings& warns) {
  const std::string ap = join(path, "address");
  if (w.address.empty()) {
    if (w.network.empty()) {
      errs.push_back(ap + ": address is required");
      return;
    }
    warns.push_back(ap + ": address is unset with network \"" + w.network + "\"");
  }
  const bool unix_socket = w.address.rfind("unix://", 0) == 0;
  if (unix_socket) {
    if (auto e = unixAddressError(w.address.substr(7))) errs.push_back(ap + ": " + *e);
    if (!w.port_numbers.empty())
      errs.push_back(join(path, "ports") + ": unix endpoint " + w.address + " must not include ports");
  } else if (!w.address.empty() && !isIpAddress(w.address)) {
    if (service_ports != nullptr) {
      errs.push_back(ap + ": endpoint address \"" + w.address + "\" is not a valid IP address");
    } else if (fqdnError(w.address)) {
      errs.push_back(ap + ": endpoint address \"" + w.address + "\" is not a valid FQDN or an IP address");
    }
  }
  for (const auto& [name, number] : w.port_numbers) {
    const std::string pp = join(path, "ports") + "[" + name + "]";
    if (service_ports != nullptr && !service_ports->count(name))
      errs.push_back(pp + ": endpoint port " + std::to_string(number) + " is not defined by the service entry");
    if (auto e = portNameError(name)) errs.push_back(pp + ": " + *e);
    if (auto e = portNumberError(number)) errs.push_back(pp + ": " + *e);
  }
  for (const auto& e : labelErrors(w.labels)) errs.push_back(join(path, "labels") + ": " + e);
  if (unix_socket && service_ports != nullptr && service_ports->size() != 1)
    errs.push_back(path + ": exactly 1 service port required for unix endpoints");
}

// A DNS entry's endpoints: an FQDN or an IP, ports named by the entry.
void validateDnsEndpoint(const WorkloadEntrySpec& w, const std::string& path,
                         const std::set<std::string>& service_ports, Errors& errs) {
  if (!isIpAddress(w.address) && fqdnError(w.address))
    errs.push_back(join(path, "address") + ": endpoint address \"" + w.address +
                   "\" is not a valid FQDN or an IP address");
  for (const auto& e : labelErrors(w.labels)) errs.push_back(join(path, "labels") + ": " + e);
  for (const auto& [name, number] : w.port_numbers) {
    const std::string pp = join(path, "ports") + "[" + name + "]";
    if (!service_ports.count(name))
      errs.push_back(pp + ": endpoint port " + std::to_string(number) + " is not defined by the service entry");
    if (auto e = portNameError(name)) errs.push_back(pp + ": " + *e);
    if (auto e = portNumberError(number)) errs.push_back(pp + ": " + *e);
  }
}

}  // namespace

ServiceEntry decodeServiceEntry(const YAML::Node& doc, Errors& errs) {
  ServiceEntry se;
  se.meta = meta(doc, errs);
  YAML::Node spec;
  if (!decode::spec(doc, spec, errs)) return se;
  checkKeys(spec, "spec",
            {"hosts", "addresses", "ports", "location", "resolution", "endpoints", "workloadSelector", "exportTo",
             "subjectAltNames"},
            errs);
  Warnings& warns = se.warnings;

  // 1. The workload selector; a bad one is the only thing Istio reports.
  if (YAML::Node ws = spec["workloadSelector"]; ws && !ws.IsNull()) {
    se.has_workload_selector = true;
    if (expectMap(ws, "spec.workloadSelector", errs)) {
      checkKeys(ws, "spec.workloadSelector", {"labels"}, errs);
      se.workload_selector = labels(ws, "labels", "spec.workloadSelector", errs);
    }
    if (!selectorLabelsValid(
            se.workload_selector, [](const std::string& k) { return "spec.workloadSelector.labels[" + k + "]: "; },
            errs))
      return se;
    if (se.workload_selector.empty())
      warns.push_back(
          "spec.workloadSelector: service entry: workload selector specified without labels, will be applied to all "
          "services in namespace");
  }
  YAML::Node eps = spec["endpoints"];
  for (size_t i = 0; eps && eps.IsSequence() && i < eps.size(); ++i)
    se.endpoints.push_back(workloadEntrySpec(eps[i], idx("spec.endpoints", i), errs));
  if (eps && !eps.IsNull() && !eps.IsSequence()) errs.push_back("spec.endpoints: must be a list");
  // 2.
  if (se.has_workload_selector && !se.endpoints.empty())
    errs.push_back("spec: only one of WorkloadSelector or Endpoints is allowed in Service Entry");

  std::string res = str(spec, "resolution", "spec", errs);
  if (!res.empty()) se.resolution = res;
  static const std::set<std::string> kResolutions = {"NONE", "STATIC", "DNS", "DNS_ROUND_ROBIN", "DYNAMIC_DNS"};
  if (!kResolutions.count(se.resolution))
    errs.push_back("spec.resolution: '" + se.resolution +
                   "' is not one of NONE, STATIC, DNS, DNS_ROUND_ROBIN, DYNAMIC_DNS");
  std::string loc = str(spec, "location", "spec", errs);
  if (!loc.empty()) se.location = loc;
  if (se.location != "MESH_EXTERNAL" && se.location != "MESH_INTERNAL")
    errs.push_back("spec.location: '" + se.location + "' is not one of MESH_EXTERNAL, MESH_INTERNAL");
  const bool dynamic_dns = se.resolution == "DYNAMIC_DNS";

  // 3. Hosts.
  se.hosts = strings(spec, "hosts", "spec", errs);
  if (se.hosts.empty()) errs.push_back("spec.hosts: service entry must have at least one host");
  for (size_t i = 0; i < se.hosts.size(); ++i) {
    const std::string& h = se.hosts[i];
    if (h == "*") {
      errs.push_back(idx("spec.hosts", i) + ": invalid host *");
      continue;
    }
    if (auto e = wildcardDomainError(h)) errs.push_back(idx("spec.hosts", i) + ": " + *e);
    if (!dynamic_dns)
      if (auto w = partialWildcardError(h)) warns.push_back(idx("spec.hosts", i) + ": " + *w);
  }
  // 4. Addresses.
  se.addresses = strings(spec, "addresses", "spec", errs);
  bool cidr = false;
  for (size_t i = 0; i < se.addresses.size(); ++i) {
    if (auto e = ipSubnetError(se.addresses[i])) errs.push_back(idx("spec.addresses", i) + ": " + *e);
    cidr |= se.addresses[i].find('/') != std::string::npos;
  }
  if (cidr && se.resolution != "NONE" && se.resolution != "STATIC")
    errs.push_back("spec.addresses: CIDR addresses are allowed only for NONE/STATIC resolution types");

  // 5. Ports (none is fine). Istio allocates addresses itself unless resolution is NONE, the
  // entry opts out, or it has addresses.
  auto opt_out = se.meta.labels.find("networking.istio.io/enable-autoallocate-ip");
  const bool auto_allocate =
      se.resolution != "NONE" && se.addresses.empty() &&
      !(opt_out != se.meta.labels.end() &&
        (opt_out->second == "false" || opt_out->second == "False" || opt_out->second == "FALSE"));
  std::set<std::string> port_names;
  std::set<int64_t> port_numbers;
  YAML::Node ports = spec["ports"];
  if (ports && !ports.IsNull() && !ports.IsSequence()) errs.push_back("spec.ports: must be a list");
  for (size_t i = 0; ports && ports.IsSequence() && i < ports.size(); ++i) {
    const std::string p = idx("spec.ports", i);
    ServiceEntryPort sp;
    int64_t number = 0;
    if (!ports[i].IsNull() && expectMap(ports[i], p, errs)) {
      checkKeys(ports[i], p, {"number", "protocol", "name", "targetPort"}, errs);
      number = integer(ports[i], "number", p, errs).value_or(0);
      sp.protocol = str(ports[i], "protocol", p, errs);
      sp.name = str(ports[i], "name", p, errs);
      if (auto t = integer(ports[i], "targetPort", p, errs); t && *t != 0) {
        if (auto e = portNumberError(*t)) errs.push_back(join(p, "targetPort") + ": " + *e);
        sp.target_port = static_cast<uint32_t>(std::max<int64_t>(0, std::min<int64_t>(*t, 65535)));
      }
    }
    if (!port_names.insert(sp.name).second)
      errs.push_back(join(p, "name") + ": service entry port name \"" + sp.name + "\" already defined");
    if (!port_numbers.insert(number).second)
      errs.push_back(join(p, "number") + ": service entry port " + std::to_string(number) + " already defined");
    if (se.addresses.empty() && !auto_allocate && (sp.protocol.empty() || sp.protocol == "TCP"))
      warns.push_back(p +
                      ": addresses are required for ports serving TCP (or unset) protocol when IP Autoallocation is "
                      "not enabled");
    if (auto e = portNameError(sp.name)) errs.push_back(join(p, "name") + ": " + *e);
    if (auto e = protocolError(sp.protocol)) errs.push_back(join(p, "protocol") + ": " + *e);
    if (auto e = portNumberError(number)) errs.push_back(join(p, "number") + ": " + *e);
    sp.number = static_cast<uint32_t>(std::max<int64_t>(0, std::min<int64_t>(number, 65535)));
    se.ports.push_back(std::move(sp));
  }

  // 6. Resolution.
  if (se.resolution == "NONE") {
    if (!se.endpoints.empty())
      errs.push_back("spec.endpoints: no endpoints should be provided for resolution type none");
    if (se.has_workload_selector)
      warns.push_back("spec.workloadSelector: workloadSelector should not be set when resolution mode is NONE");
  } else if (se.resolution == "STATIC") {
    for (size_t i = 0; i < se.endpoints.size(); ++i)
      validateWorkloadEntry(se.endpoints[i], idx("spec.endpoints", i), &port_names, errs, warns);
  } else if (se.resolution == "DNS" || se.resolution == "DNS_ROUND_ROBIN") {
    if (se.endpoints.empty()) {
      for (size_t i = 0; i < se.hosts.size(); ++i) {
        if (auto e = fqdnError(se.hosts[i])) {
          errs.push_back(idx("spec.hosts", i) +
                         ": hosts must be FQDN or contain only prefix wildcards if no endpoints are provided for "
                         "resolution mode " +
                         se.resolution + ", " + *e);
          break;
        }
      }
    }
    if (se.resolution == "DNS_ROUND_ROBIN" && se.endpoints.size() > 1)
      errs.push_back("spec.endpoints: there must only be 0 or 1 endpoint for resolution mode DNS_ROUND_ROBIN");
    for (size_t i = 0; i < se.endpoints.size(); ++i)
      validateDnsEndpoint(se.endpoints[i], idx("spec.endpoints", i), port_names, errs);
    if (!se.addresses.empty() && se.hosts.size() > 1) {
      for (const auto& p : se.ports) {
        if (!isTcpProtocol(p.protocol)) continue;
        warns.push_back(
            "spec.hosts: service entry can not have more than one host specified simultaneously with address and tcp "
            "port");
        break;
      }
    }
  } else if (dynamic_dns) {
    if (se.hosts.empty())
      errs.push_back("spec.hosts: at least one wildcard host must be provided for resolution type DYNAMIC_DNS");
    for (size_t i = 0; i < se.hosts.size(); ++i)
      if (se.hosts[i].empty() || se.hosts[i][0] != '*')
        errs.push_back(idx("spec.hosts", i) + ": host must be wildcarded for resolution mode DYNAMIC_DNS");
    if (!se.addresses.empty())
      errs.push_back(
          "spec.addresses: addresses cannot be set for resolution type DYNAMIC_DNS. HTTP route domains will only be "
          "generatedfrom the hosts field values");  // sic, Istio's text
    if (!se.endpoints.empty())
      errs.push_back(
          "spec.endpoints: endpoints cannot be set for resolution type DYNAMIC_DNS. Destination IP address determined "
          "from hostsfield values");  // sic
    for (size_t i = 0; i < se.ports.size(); ++i) {
      std::string l = se.ports[i].protocol;
      for (auto& c : l) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (l != "http" && l != "tls" && l != "grpc" && l != "http2")
        errs.push_back(idx("spec.ports", i) +
                       ": only HTTP, TLS, GRPC, and HTTP2 protocols are supported for resolution type DYNAMIC_DNS");
    }
    auto waypoint = se.meta.labels.find("istio.io/use-waypoint");
    if (se.location == "MESH_INTERNAL" && waypoint != se.meta.labels.end() && !waypoint->second.empty() &&
        waypoint->second != "none" && waypoint->second != "None" && waypoint->second != "NONE")
      errs.push_back(
          "spec.location: location MESH_INTERNAL with resolution type DYNAMIC_DNS is not supported when using "
          "waypoints");
  }
  // 7. Several hosts share the ports: only HTTP and TLS can tell them apart.
  if (se.resolution != "NONE" && se.hosts.size() > 1) {
    for (size_t i = 0; i < se.ports.size(); ++i) {
      if (isHttpProtocol(se.ports[i].protocol) || isTlsProtocol(se.ports[i].protocol)) continue;
      errs.push_back(idx("spec.ports", i) + ": multiple hosts provided with non-HTTP, non-TLS ports");
      break;
    }
  }
  // 8. exportTo.
  se.export_to = strings(spec, "exportTo", "spec", errs);
  for (const auto& e : exportToErrors(se.meta.ns, se.export_to, true)) errs.push_back("spec.exportTo: " + e);
  // Not checked by Istio either: subjectAltNames, endpoint network, locality and weight.
  se.subject_alt_names = strings(spec, "subjectAltNames", "spec", errs);

  // What weftd does not serve, once Istio's rules pass.
  if (se.resolution == "DNS_ROUND_ROBIN" || se.resolution == "DYNAMIC_DNS")
    errs.push_back("spec.resolution: " + se.resolution + " is not supported by weftd (NONE, STATIC, DNS are)");
  return se;
}

WorkloadEntry decodeWorkloadEntry(const YAML::Node& doc, Errors& errs) {
  WorkloadEntry we;
  we.meta = meta(doc, errs);
  YAML::Node s;
  if (!spec(doc, s, errs)) return we;
  we.spec = workloadEntrySpec(s, "spec", errs);
  validateWorkloadEntry(we.spec, "spec", nullptr, errs, we.warnings);
  return we;
}

}  // namespace weft::control::decode
