// Kubernetes Service, Endpoints, EndpointSlice, Pod, Namespace and ConfigMap.
#include "control/config/decode_util.h"
#include "control/config/decoders.h"
#include "control/model/mesh_config.h"

namespace weft::control::decode {

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
      // A named targetPort resolves through each Pod's container ports (or the Endpoints
      // carry the number).
      const YAML::Node& tpn = ports[i]["targetPort"];
      if (tpn.IsScalar() && !tpn.Scalar().empty() &&
          tpn.Scalar().find_first_not_of("0123456789") == std::string::npos) {
        sp.target_port = port(ports[i], "targetPort", p, errs, true);
      } else if (tpn.IsScalar() && !tpn.Scalar().empty()) {
        sp.target_port_name = tpn.Scalar();
      } else {
        errs.push_back(p + ".targetPort: must be a port number or a port name");
      }
    }
    std::string proto = str(ports[i], "protocol", p, errs);
    if (!proto.empty()) sp.protocol = proto;
    sp.app_protocol = str(ports[i], "appProtocol", p, errs);
    if (!sp.name.empty() && !names.insert(sp.name).second)
      errs.push_back(p + ".name: duplicate port name '" + sp.name + "'");
    if (ports.size() > 1 && sp.name.empty()) errs.push_back(p + ".name: is required when a Service has several ports");
    s.ports.push_back(std::move(sp));
  }
  if (s.ports.empty()) errs.push_back("spec.ports: at least one port is required");
  return s;
}

Endpoints decodeEndpoints(const YAML::Node& doc, Errors& errs) {
  Endpoints e;
  e.meta = meta(doc, errs);
  YAML::Node subsets = seq(doc, "subsets", "", errs);
  for (size_t i = 0; subsets && i < subsets.size(); ++i) {
    std::string p = idx("subsets", i);
    if (!expectMap(subsets[i], p, errs)) continue;
    EndpointSubset sub;
    YAML::Node addrs = seq(subsets[i], "addresses", p, errs);
    for (size_t j = 0; addrs && j < addrs.size(); ++j) {
      std::string ap = idx(p + ".addresses", j);
      if (!expectMap(addrs[j], ap, errs)) continue;
      EndpointAddress a;
      a.ip = str(addrs[j], "ip", ap, errs);
      if (a.ip.empty()) errs.push_back(ap + ".ip: is required");
      if (YAML::Node ref = mapField(addrs[j], "targetRef", ap, errs)) {
        if (str(ref, "kind", ap + ".targetRef", errs) == "Pod") a.pod = str(ref, "name", ap + ".targetRef", errs);
      }
      sub.addresses.push_back(std::move(a));
    }
    YAML::Node ports = seq(subsets[i], "ports", p, errs);
    for (size_t j = 0; ports && j < ports.size(); ++j) {
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
  if (svc == es.meta.labels.end())
    errs.push_back("metadata.labels: kubernetes.io/service-name is required");
  else
    es.service = svc->second;
  std::string type = str(doc, "addressType", "", errs);
  if (type != "IPv4" && type != "IPv6")
    errs.push_back("addressType: '" + type + "' is not supported by weftd (IPv4, IPv6 are)");
  YAML::Node eps = seq(doc, "endpoints", "", errs);
  for (size_t i = 0; eps && i < eps.size(); ++i) {
    std::string p = idx("endpoints", i);
    if (!expectMap(eps[i], p, errs)) continue;
    // Kubernetes: a missing `ready` condition means ready.
    if (YAML::Node c = mapField(eps[i], "conditions", p, errs);
        c && boolean(c, "ready", p + ".conditions", errs) == false)
      continue;
    std::string pod;
    if (YAML::Node ref = mapField(eps[i], "targetRef", p, errs);
        ref && str(ref, "kind", p + ".targetRef", errs) == "Pod") {
      pod = str(ref, "name", p + ".targetRef", errs);
    }
    for (const auto& ip : strings(eps[i], "addresses", p, errs)) es.endpoints.push_back({ip, pod});
  }
  YAML::Node ports = seq(doc, "ports", "", errs);
  for (size_t i = 0; ports && i < ports.size(); ++i) {
    std::string pp = idx("ports", i);
    es.ports.push_back({str(ports[i], "name", pp, errs), port(ports[i], "port", pp, errs, true)});
  }
  return es;
}

Pod decodePod(const YAML::Node& doc, Errors& errs) {
  Pod p;
  p.meta = meta(doc, errs);
  if (YAML::Node status = mapField(doc, "status", "", errs)) {
    p.ip = str(status, "podIP", "status", errs);
    std::string phase = str(status, "phase", "status", errs);
    if (phase == "Succeeded" || phase == "Failed") p.ready = false;
    YAML::Node conds = seq(status, "conditions", "status", errs);
    for (size_t i = 0; conds && i < conds.size(); ++i) {
      std::string cp = idx("status.conditions", i);
      if (str(conds[i], "type", cp, errs) == "Ready" && str(conds[i], "status", cp, errs) == "False") p.ready = false;
    }
  }
  if (YAML::Node spec = mapField(doc, "spec", "", errs)) {
    std::string sa = str(spec, "serviceAccountName", "spec", errs);
    if (!sa.empty()) p.service_account = sa;
    p.node_name = str(spec, "nodeName", "spec", errs);
    YAML::Node containers = seq(spec, "containers", "spec", errs);
    for (size_t i = 0; containers && i < containers.size(); ++i) {
      YAML::Node ports = seq(containers[i], "ports", idx("spec.containers", i), errs);
      for (size_t j = 0; ports && j < ports.size(); ++j) {
        std::string pp = idx(idx("spec.containers", i) + ".ports", j);
        std::string name = str(ports[j], "name", pp, errs);
        uint32_t number = port(ports[j], "containerPort", pp, errs, true);
        if (!name.empty() && number) p.container_ports.emplace(name, number);
      }
    }
  }
  return p;
}

Namespace decodeNamespace(const YAML::Node& doc, Errors& errs) { return Namespace{meta(doc, errs)}; }

Node decodeNode(const YAML::Node& doc, Errors& errs) {
  Node n{meta(doc, errs), ""};
  YAML::Node info = mapField(mapField(doc, "status", "", errs), "nodeInfo", "status", errs);
  if (info) n.kubelet_version = str(info, "kubeletVersion", "status.nodeInfo", errs);
  return n;
}

ConfigMap decodeConfigMap(const YAML::Node& doc, Errors& errs) {
  ConfigMap cm;
  cm.meta = meta(doc, errs);
  cm.data = labels(doc, "data", "", errs);
  if (cm.isMeshConfig()) {
    // The mesh config is checked here, so a bad one is rejected like any bad resource and the
    // last good one stays in force.
    std::vector<std::string> mesh_errors;
    auto text = cm.data.find("mesh");
    parseMeshConfig(text == cm.data.end() ? "" : text->second, mesh_errors);
    for (const auto& e : mesh_errors) errs.push_back("data.mesh: " + e);
  }
  return cm;
}

}  // namespace weft::control::decode
