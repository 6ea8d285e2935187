#pragma once
// The plan of a local mesh from a directory of YAML: which Pods to run (their container
// command), the address each gets on the weft0 bridge, the Services' VIPs for /etc/hosts, and
// the configuration weftd is given (the user's files plus the Pods' IPs and Endpoints).
#include <map>
#include <string>
#include <vector>

namespace weft::ctl {

struct LocalPod {
  // A Pod (spec.containers[0].command), or a WorkloadEntry whose weft.io/command annotation
  // names the command (a VM-style workload: weftd gets it with spec.address set to its IP).
  bool workload_entry = false;
  std::string name;
  std::string ns = "default";
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  // Its identity: spec.serviceAccountName (a WorkloadEntry's spec.serviceAccount), as Kubernetes.
  std::string service_account = "default";
  std::vector<std::string> command;  // containers[0].command + args
  std::map<std::string, std::string> env;
  std::vector<int> ports;  // containerPort: the workload is up once these accept
  std::string ip;
};

struct LocalService {
  std::string name;
  std::string ns = "default";
  std::string vip;
  std::map<std::string, std::string> selector;
  struct Port {
    std::string name;
    int port = 0;
    int target_port = 0;
  };
  std::vector<Port> ports;
};

struct MeshPlan {
  std::string source_dir;
  std::vector<LocalPod> pods;
  std::vector<LocalService> services;
  std::vector<std::string> files;  // the YAML files, copied for weftd
};

// Reads every *.yaml / *.yml in `dir`. Throws std::runtime_error naming the file and document
// for anything it cannot use (a Pod without a command, a bad port ...).
MeshPlan planFromDirectory(const std::string& dir, const std::string& subnet_prefix);

// Whether weftctl gives the workload a sidecar (Istio's sidecar.istio.io/inject and capture
// annotations decide, as the injector's).
bool hasSidecar(const LocalPod& pod);

// weftd's extra configuration: the Pods with status.podIP and Endpoints for every Service;
// sidecar'd Pods get the injector's label security.istio.io/tlsMode=istio (auto mTLS).
std::string generatedConfig(const MeshPlan& plan);

// /etc/hosts lines for Service names (name, name.ns, name.ns.svc, FQDN) -> VIP.
std::string hostsFile(const MeshPlan& plan);

}  // namespace weft::ctl
