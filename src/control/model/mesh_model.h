#pragma once
// The mesh as weftd sees it after reading config: services by host name with their ports,
// protocols and endpoints (labels included, for subsets), and the routing rules that apply to
// each host. Built from a ConfigSnapshot in one pass; immutable afterwards.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "control/config/config_snapshot.h"
#include "control/model/mesh_config.h"

namespace weft::control {

enum class Protocol { Http, Http2, Grpc, Tcp };
Protocol protocolFor(const std::string& port_name, const std::string& app_protocol);
bool isHttp(Protocol p);

struct MeshEndpoint {
  std::string ip;
  uint32_t port = 0;
  Labels labels;
  uint32_t weight = 1;
  std::string locality;         // "region/zone/subzone", or ""
  std::string service_account;  // its identity's SA (Pod spec.serviceAccountName, WorkloadEntry serviceAccount)
  // Istio's injector labels sidecar'd workloads security.istio.io/tlsMode=istio: auto mTLS
  // sends them mutual TLS and everyone else plaintext.
  bool istioMutual() const {
    auto it = labels.find("security.istio.io/tlsMode");
    return it != labels.end() && it->second == "istio";
  }
};

// Istio's locality label of a workload: topology.istio.io/locality, else istio-locality, with
// '.' read as '/' (Kubernetes labels cannot hold '/').
std::string localityFromLabels(const Labels& labels);
// A Node's topology labels as "region/zone/subzone" (trailing empty parts left out).
std::string localityFromNodeLabels(const Labels& labels);

struct MeshPort {
  std::string name;
  uint32_t port = 0;
  uint32_t target_port = 0;
  Protocol protocol = Protocol::Tcp;
  std::vector<MeshEndpoint> endpoints;
};

struct MeshService {
  std::string hostname;  // name.ns.svc.cluster.local, or a ServiceEntry host
  std::string name;      // Kubernetes name (empty for ServiceEntry hosts)
  std::string ns;
  std::string vip;
  enum class Resolution { Endpoints, Dns, Passthrough } resolution = Resolution::Endpoints;
  bool external = false;
  std::vector<std::string> export_to;          // ServiceEntry exportTo; empty: everywhere
  std::vector<std::string> subject_alt_names;  // ServiceEntry subjectAltNames
  std::vector<MeshPort> ports;
  const MeshPort* port(uint32_t number) const;
};

struct MeshModel {
  std::map<std::string, MeshService> services;                          // by host name
  std::map<std::string, std::vector<VirtualService>> virtual_services;  // by host name they name
  std::map<std::string, DestinationRule> destination_rules;             // by host name
  std::vector<Pod> pods;
  std::vector<Sidecar> sidecars;
  std::shared_ptr<const ConfigSnapshot> config;
  // meshConfig.outboundTrafficPolicy.mode REGISTRY_ONLY: captured traffic to destinations
  // outside the mesh is dropped (BlackHoleCluster) instead of passed through.
  bool registry_only = false;
  std::string trust_domain = "cluster.local";   // of the workloads' SPIFFE identities
  std::string root_namespace = "istio-system";  // meshConfig.rootNamespace: mesh-wide policies
  std::shared_ptr<const MeshConfig> mesh = std::make_shared<const MeshConfig>();

  // Fully qualifies a host as Istio does: "reviews" in namespace "default" is
  // "reviews.default.svc.cluster.local"; FQDNs stay as they are.
  static std::string qualify(const std::string& host, const std::string& ns);
  const MeshService* service(const std::string& host) const;
  const DestinationRule* destinationRule(const std::string& host) const;
  // Istio's lookups for a proxy in `ns`: exact host first, then the longest wildcard
  // ("*.example.com", "*"), among the resources exported to `ns`.
  const DestinationRule* destinationRuleFor(const std::string& host, const std::string& ns) const;
  const VirtualService* virtualServiceFor(const std::string& host, const std::string& ns) const;
  // exportTo semantics: empty or "*" everywhere, "." the owner's namespace, else the names.
  static bool exported(const std::vector<std::string>& export_to, const std::string& owner_ns, const std::string& ns);
  const Pod* podByIp(const std::string& ip) const;
};

std::shared_ptr<const MeshModel> buildModel(std::shared_ptr<const ConfigSnapshot> config,
                                            std::shared_ptr<const MeshConfig> mesh);
std::shared_ptr<const MeshModel> buildModel(std::shared_ptr<const ConfigSnapshot> config, bool registry_only = false,
                                            const std::string& trust_domain = "cluster.local");

}  // namespace weft::control
