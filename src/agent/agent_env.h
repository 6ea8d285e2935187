#pragma once
// What the sidecar injector tells the agent through the environment (Istio's names):
// POD_NAME, POD_NAMESPACE, INSTANCE_IP, SERVICE_ACCOUNT, ISTIO_META_*, ISTIO_METAJSON_LABELS,
// ISTIO_KUBE_APP_PROBERS, and where the discovery server is.
#include <map>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "common/net/address.h"

namespace weft::agent {

struct AgentEnv {
  std::string pod_name;
  std::string pod_namespace = "default";
  std::string instance_ip = "127.0.0.1";
  std::string service_account = "default";
  std::string dns_domain = "svc.cluster.local";
  std::string discovery_address;            // host:port of weftd's xDS (plaintext gRPC)
  std::map<std::string, std::string> meta;  // ISTIO_META_FOO=bar -> FOO: bar
  nlohmann::json labels = nlohmann::json::object();
  nlohmann::json app_probers = nlohmann::json::object();  // ISTIO_KUBE_APP_PROBERS

  // sidecar~IP~POD.NS~NS.svc.cluster.local
  std::string nodeId() const;
  // Istio's node cluster: <workload>.<namespace> (workload: ISTIO_META_WORKLOAD_NAME, the app
  // label, or the pod name).
  std::string nodeCluster() const;
};

// "IP:PORT" or "NAME:PORT" (CA_ADDR in a cluster is weftd's Service name): a name is resolved
// once, IPv4 first (what the Service's ClusterIP gives). nullopt with `error` saying why.
std::optional<net::Address> resolveHostPort(const std::string& host_port, std::string& error);

// Reads `environ`-style entries. Error text names the variable and what is wrong with it.
std::optional<AgentEnv> readAgentEnv(const std::map<std::string, std::string>& env, std::string& error);

struct BootstrapOptions {
  int admin_port = 15000;
  int stats_port = 15090;      // Prometheus scrape listener (proxies admin /stats/prometheus)
  int readiness_port = 15021;  // /healthz/ready, answered by the agent's status port
  int status_port = 15020;     // the agent's own server
  // The agent's SDS socket: when set, the bootstrap has Istio's `sds-grpc` cluster to it, for
  // the `default` and `ROOTCA` secrets that weftd's ISTIO_MUTUAL config names.
  std::string sds_socket;
};

// The Envoy v3 Bootstrap (JSON) weft-proxy starts with: node, admin, ADS to the discovery
// address, and the static stats and readiness listeners.
nlohmann::json proxyBootstrap(const AgentEnv& env, const BootstrapOptions& options);

}  // namespace weft::agent
