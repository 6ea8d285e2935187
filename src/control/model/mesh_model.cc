#include "control/model/mesh_model.h"

#include <algorithm>
#include <unordered_map>

#include "common/labels.h"

namespace weft::control {

std::string localityFromLabels(const Labels& labels) {
  std::string l;
  if (auto it = labels.find("topology.istio.io/locality"); it != labels.end()) {
    l = it->second;
  } else if (auto it2 = labels.find("istio-locality"); it2 != labels.end()) {
    l = it2->second;
  }
  if (l.find('/') == std::string::npos) std::replace(l.begin(), l.end(), '.', '/');
  return l;
}

std::string localityFromNodeLabels(const Labels& labels) {
  auto get = [&](const char* key) {
    auto it = labels.find(key);
    return it == labels.end() ? std::string() : it->second;
  };
  std::string region = get("topology.kubernetes.io/region"), zone = get("topology.kubernetes.io/zone"),
              subzone = get("topology.istio.io/subzone");
  if (region.empty() && zone.empty() && subzone.empty()) return {};
  std::string l = region + "/" + zone + "/" + subzone;
  while (!l.empty() && l.back() == '/') l.pop_back();
  return l;
}

namespace {
bool selects(const Labels& selector, const Labels& labels) { return selectorMatches(selector, labels); }
}  // namespace

Protocol protocolFor(const std::string& name, const std::string& app_protocol) {
  // Istio: appProtocol first, else the port name's prefix up to '-'.
  std::string p = app_protocol.empty() ? name.substr(0, name.find('-')) : app_protocol;
  for (char& c : p) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (p == "http" || p == "http-web" || p == "kubernetes.io/h2c")
    return p == "kubernetes.io/h2c" ? Protocol::Http2 : Protocol::Http;
  if (p == "http2") return Protocol::Http2;
  if (p == "grpc" || p == "grpc-web") return Protocol::Grpc;
  return Protocol::Tcp;
}

bool isHttp(Protocol p) { return p != Protocol::Tcp; }

const MeshPort* MeshService::port(uint32_t number) const {
  for (const auto& p : ports) {
    if (p.port == number) return &p;
  }
  return nullptr;
}

std::string MeshModel::qualify(const std::string& host, const std::string& ns) {
  if (host.find('.') != std::string::npos || host == "*") return host;
  return host + "." + ns + ".svc.cluster.local";
}

const MeshService* MeshModel::service(const std::string& host) const {
  auto it = services.find(host);
  return it == services.end() ? nullptr : &it->second;
}

const DestinationRule* MeshModel::destinationRule(const std::string& host) const {
  auto it = destination_rules.find(host);
  return it == destination_rules.end() ? nullptr : &it->second;
}

bool MeshModel::exported(const std::vector<std::string>& export_to, const std::string& owner_ns,
                         const std::string& ns) {
  if (export_to.empty()) return true;
  for (const auto& e : export_to) {
    if (e == "*" || e == ns || (e == "." && owner_ns == ns)) return true;
  }
  return false;
}

namespace {
// Exact key first, then the longest "*.suffix" (or "*") key matching the host.
template <typename Map, typename Pick>
auto lookupHost(const Map& map, const std::string& host, Pick pick) -> decltype(pick(map.begin()->second)) {
  auto it = map.find(host);
  if (it != map.end()) {
    if (auto* found = pick(it->second)) return found;
  }
  decltype(pick(map.begin()->second)) best = nullptr;
  size_t best_len = 0;
  for (const auto& [key, value] : map) {
    if (key.empty() || key[0] != '*') continue;
    std::string suffix = key.substr(1);
    bool match = key == "*" ||
                 (host.size() > suffix.size() && host.compare(host.size() - suffix.size(), suffix.size(), suffix) == 0);
    if (!match || (best && key.size() <= best_len)) continue;
    if (auto* found = pick(value)) {
      best = found;
      best_len = key.size();
    }
  }
  return best;
}
}  // namespace

const DestinationRule* MeshModel::destinationRuleFor(const std::string& host, const std::string& ns) const {
  return lookupHost(destination_rules, host, [&](const DestinationRule& dr) -> const DestinationRule* {
    return exported(dr.export_to, dr.meta.ns, ns) ? &dr : nullptr;
  });
}

const VirtualService* MeshModel::virtualServiceFor(const std::string& host, const std::string& ns) const {
  return lookupHost(virtual_services, host, [&](const std::vector<VirtualService>& list) -> const VirtualService* {
    for (const auto& vs : list) {
      if (exported(vs.export_to, vs.meta.ns, ns)) return &vs;
    }
    return nullptr;
  });
}

const Pod* MeshModel::podByIp(const std::string& ip) const {
  for (const auto& p : pods) {
    if (p.ip == ip) return &p;
  }
  return nullptr;
}

std::shared_ptr<const MeshModel> buildModel(std::shared_ptr<const ConfigSnapshot> config, bool registry_only,
                                            const std::string& trust_domain) {
  auto mesh = std::make_shared<MeshConfig>();
  mesh->registry_only = registry_only;
  mesh->trust_domain = trust_domain;
  return buildModel(std::move(config), std::move(mesh));
}

std::shared_ptr<const MeshModel> buildModel(std::shared_ptr<const ConfigSnapshot> config,
                                            std::shared_ptr<const MeshConfig> mesh) {
  auto m = std::make_shared<MeshModel>();
  m->registry_only = mesh->registry_only;
  m->trust_domain = mesh->trust_domain;
  m->root_namespace = mesh->root_namespace;
  m->mesh = std::move(mesh);
  m->config = config;
  m->pods = config->pods;
  m->sidecars = config->sidecars;
  std::unordered_map<std::string, const Pod*> pod_by_name, pod_by_ip;  // "ns/name", "ns/ip"
  for (const auto& p : config->pods) {
    pod_by_name.emplace(p.meta.ns + "/" + p.meta.name, &p);
    if (!p.ip.empty()) pod_by_ip.emplace(p.meta.ns + "/" + p.ip, &p);
  }
  auto podOf = [&](const std::string& ns, const std::string& pod_name, const std::string& ip) -> const Pod* {
    const auto& index = pod_name.empty() ? pod_by_ip : pod_by_name;
    auto it = index.find(ns + "/" + (pod_name.empty() ? ip : pod_name));
    return it == index.end() ? nullptr : it->second;
  };
  std::unordered_map<std::string, std::string> node_locality;
  for (const auto& n : config->nodes) node_locality.emplace(n.meta.name, localityFromNodeLabels(n.meta.labels));
  // As istiod: the pod's istio-locality label, else its Node's topology labels.
  auto podLocality = [&](const Pod& p) -> std::string {
    std::string l = localityFromLabels(p.meta.labels);
    if (!l.empty() || p.node_name.empty()) return l;
    auto it = node_locality.find(p.node_name);
    return it == node_locality.end() ? std::string() : it->second;
  };
  auto podLabels = [&](const std::string& ns, const std::string& pod_name, const std::string& ip) -> Labels {
    const Pod* p = podOf(ns, pod_name, ip);
    return p ? p->meta.labels : Labels{};
  };
  auto endpointLocality = [&](const std::string& ns, const std::string& pod_name, const std::string& ip) {
    const Pod* p = podOf(ns, pod_name, ip);
    return p ? podLocality(*p) : std::string();
  };
  auto podAccount = [&](const std::string& ns, const std::string& pod_name, const std::string& ip) -> std::string {
    const Pod* p = podOf(ns, pod_name, ip);
    return p ? p->service_account : "";
  };

  // A Service's Endpoints and EndpointSlices, by "ns/name" (not a scan per Service: a mesh has
  // thousands of slices).
  std::unordered_map<std::string, std::vector<const Endpoints*>> endpoints_of;
  std::unordered_map<std::string, std::vector<const EndpointSlice*>> slices_of;
  for (const auto& e : config->endpoints) endpoints_of[e.meta.ns + "/" + e.meta.name].push_back(&e);
  for (const auto& es : config->endpoint_slices) slices_of[es.meta.ns + "/" + es.service].push_back(&es);
  static const std::vector<const Endpoints*> kNoEndpoints;
  static const std::vector<const EndpointSlice*> kNoSlices;

  for (const auto& s : config->services) {
    // Kubernetes' endpoints controller derives a selector Service's endpoints from its Pods;
    // a directory has no controller, so weftd does the same when the Service has no
    // Endpoints or EndpointSlice of its own.
    auto e_it = endpoints_of.find(s.meta.ns + "/" + s.meta.name);
    auto s_it = slices_of.find(s.meta.ns + "/" + s.meta.name);
    const auto& own_eps = e_it == endpoints_of.end() ? kNoEndpoints : e_it->second;
    const auto& own_slices = s_it == slices_of.end() ? kNoSlices : s_it->second;
    bool own_endpoints = !own_eps.empty() || !own_slices.empty();
    MeshService ms;
    ms.name = s.meta.name;
    ms.ns = s.meta.ns;
    ms.hostname = s.meta.name + "." + s.meta.ns + ".svc.cluster.local";
    ms.vip = s.cluster_ip;
    // Istio reads a Service's visibility from this annotation.
    if (auto ex = s.meta.annotations.find("networking.istio.io/exportTo"); ex != s.meta.annotations.end()) {
      std::string v = ex->second;
      for (size_t start = 0; start <= v.size();) {
        size_t comma = std::min(v.find(',', start), v.size());
        std::string item = v.substr(start, comma - start);
        item.erase(0, item.find_first_not_of(' '));
        item.erase(item.find_last_not_of(' ') + 1);
        if (!item.empty()) ms.export_to.push_back(item);
        start = comma + 1;
      }
    }
    for (const auto& sp : s.ports) {
      MeshPort mp{
          sp.name, sp.port, sp.target_port ? sp.target_port : sp.port, protocolFor(sp.name, sp.app_protocol), {}};
      for (const Endpoints* e : own_eps) {
        for (const auto& sub : e->subsets) {
          uint32_t ep_port = 0;
          for (const auto& p : sub.ports) {
            if (p.name == sp.name || sub.ports.size() == 1) ep_port = p.port;
          }
          if (ep_port == 0) continue;
          for (const auto& a : sub.addresses) {
            Labels labels = podLabels(s.meta.ns, a.pod, a.ip);
            std::string locality = endpointLocality(s.meta.ns, a.pod, a.ip);
            mp.endpoints.push_back(
                {a.ip, ep_port, std::move(labels), 1, std::move(locality), podAccount(s.meta.ns, a.pod, a.ip)});
          }
        }
      }
      for (const EndpointSlice* es : own_slices) {
        uint32_t ep_port = 0;
        for (const auto& p : es->ports) {
          if (p.name == sp.name || es->ports.size() == 1) ep_port = p.port;
        }
        if (ep_port == 0) continue;
        for (const auto& a : es->endpoints) {
          Labels labels = podLabels(s.meta.ns, a.pod, a.ip);
          std::string locality = endpointLocality(s.meta.ns, a.pod, a.ip);
          mp.endpoints.push_back(
              {a.ip, ep_port, std::move(labels), 1, std::move(locality), podAccount(s.meta.ns, a.pod, a.ip)});
        }
      }
      if (!own_endpoints && !config->endpoints_controller && !s.selector.empty()) {
        for (const auto& pod : config->pods) {
          if (pod.meta.ns != s.meta.ns || pod.ip.empty() || !pod.ready || !selects(s.selector, pod.meta.labels))
            continue;
          uint32_t p = mp.target_port;
          if (!sp.target_port_name.empty()) {
            auto named = pod.container_ports.find(sp.target_port_name);
            if (named == pod.container_ports.end()) continue;  // as Kubernetes: no such port, no endpoint
            p = named->second;
          }
          mp.endpoints.push_back({pod.ip, p, pod.meta.labels, 1, podLocality(pod), pod.service_account});
        }
      }
      // WorkloadEntries the Service selects join its endpoints (VMs in the mesh).
      for (const auto& we : config->workload_entries) {
        if (we.meta.ns != s.meta.ns || !selects(s.selector, we.spec.labels)) continue;
        auto named = we.spec.ports.find(sp.name);
        uint32_t p = named != we.spec.ports.end() ? named->second : mp.target_port;
        mp.endpoints.push_back({we.spec.address, p, we.spec.labels, we.spec.weight ? we.spec.weight : 1,
                                we.spec.locality.empty() ? localityFromLabels(we.spec.labels) : we.spec.locality,
                                we.spec.service_account});
      }
      ms.ports.push_back(std::move(mp));
    }
    m->services[ms.hostname] = std::move(ms);
  }

  for (const auto& se : config->service_entries) {
    for (const auto& host : se.hosts) {
      MeshService ms;
      ms.hostname = host;
      ms.ns = se.meta.ns;
      ms.vip = se.addresses.empty() ? "" : se.addresses.front();
      ms.external = se.location == "MESH_EXTERNAL";
      ms.export_to = se.export_to;
      ms.subject_alt_names = se.subject_alt_names;
      ms.resolution = se.resolution == "DNS"    ? MeshService::Resolution::Dns
                      : se.resolution == "NONE" ? MeshService::Resolution::Passthrough
                                                : MeshService::Resolution::Endpoints;
      for (const auto& sp : se.ports) {
        MeshPort mp{
            sp.name, sp.number, sp.target_port ? sp.target_port : sp.number, protocolFor(sp.name, sp.protocol), {}};
        auto add = [&](const WorkloadEntrySpec& w) {
          auto named = w.ports.find(sp.name);
          uint32_t p = named != w.ports.end() ? named->second : mp.target_port;
          mp.endpoints.push_back({w.address, p, w.labels, w.weight ? w.weight : 1,
                                  w.locality.empty() ? localityFromLabels(w.labels) : w.locality, w.service_account});
        };
        for (const auto& w : se.endpoints) add(w);
        if (!se.workload_selector.empty()) {
          for (const auto& we : config->workload_entries) {
            if (we.meta.ns == se.meta.ns && selects(se.workload_selector, we.spec.labels)) add(we.spec);
          }
        }
        if (ms.resolution == MeshService::Resolution::Dns && mp.endpoints.empty()) {
          mp.endpoints.push_back({host, mp.target_port, {}, 1, "", ""});  // resolve the host itself
        }
        ms.ports.push_back(std::move(mp));
      }
      m->services[host] = std::move(ms);
    }
  }

  // Objects that say nothing about their visibility get the mesh's default (Istio's
  // default*ExportTo).
  const MeshConfig& mc = *m->mesh;
  for (auto& [host, ms] : m->services)
    if (ms.export_to.empty()) ms.export_to = mc.default_service_export_to;
  for (const auto& vs : config->virtual_services) {
    for (const auto& h : vs.hosts) {
      auto& list = m->virtual_services[MeshModel::qualify(h, vs.meta.ns)];
      list.push_back(vs);
      if (list.back().export_to.empty()) list.back().export_to = mc.default_virtual_service_export_to;
    }
  }
  for (const auto& dr : config->destination_rules) {
    auto& d = m->destination_rules[MeshModel::qualify(dr.host, dr.meta.ns)] = dr;
    if (d.export_to.empty()) d.export_to = mc.default_destination_rule_export_to;
  }
  return m;
}

}  // namespace weft::control
