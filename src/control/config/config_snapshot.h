#pragma once
// Everything read from the config sources at one moment: the accepted resources by kind,
// and the rejected ones with file, document index, name and the reasons.
#include <string>
#include <unordered_set>
#include <vector>

#include "control/config/decode.h"

namespace weft::control {

struct SourceRef {
  std::string file;
  size_t document = 0;  // 0-based index within the file
  std::string kind;
  std::string ns;
  std::string name;
};

struct Rejected {
  SourceRef source;
  std::vector<std::string> errors;
};

struct ConfigSnapshot {
  std::vector<Service> services;
  std::vector<Endpoints> endpoints;
  std::vector<EndpointSlice> endpoint_slices;
  std::vector<Pod> pods;
  std::vector<Namespace> namespaces;
  std::vector<Node> nodes;
  std::vector<ConfigMap> config_maps;
  std::vector<VirtualService> virtual_services;
  std::vector<DestinationRule> destination_rules;
  std::vector<ServiceEntry> service_entries;
  std::vector<WorkloadEntry> workload_entries;
  std::vector<Sidecar> sidecars;
  std::vector<PeerAuthentication> peer_authentications;
  std::vector<AuthorizationPolicy> authorization_policies;
  std::vector<RequestAuthentication> request_authentications;
  std::vector<Telemetry> telemetries;
  std::vector<SourceRef> accepted;
  std::vector<Rejected> rejected;
  std::unordered_set<std::string> accepted_keys;
  // Kubernetes is a source: its endpoints controller publishes every Service's EndpointSlices,
  // so weftd never derives a Service's endpoints from its Pods (a Service with no slices has
  // no endpoints).
  bool endpoints_controller = false;  // "kind/ns/name", to refuse a second definition
};

// Reads every *.yaml, *.yml and *.json file of `dir` (sorted by name; multi-document files).
// Never throws for bad content: problems land in `rejected`.
ConfigSnapshot loadConfigDir(const std::string& dir);

// Adds the documents of one YAML text (used by loadConfigDir and tests).
void addDocuments(const std::string& text, const std::string& source, ConfigSnapshot& out);

// Adds one decoded resource: accepted (a copy of its resource) or rejected with its errors,
// or rejected when a resource of the same kind, namespace and name came before.
void addDecoded(const DecodeResult& r, SourceRef ref, ConfigSnapshot& out);

}  // namespace weft::control
