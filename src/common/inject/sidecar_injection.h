#pragma once
// Sidecar injection as Istio's injector does it (pkg/kube/inject and its sidecar template), for
// weftd's /inject webhook and `weftctl kube-inject` alike: whether a pod is injected, and the
// injected pod: the `istio-proxy` container running weft-agent (weft-proxy under it) with
// Istio's environment, the `istio-init` container running weft-iptables (none with the CNI
// plugin), Istio's volumes, uid 1337, app probes rewritten to the agent's /app-health/...,
// and the sidecar.istio.io/status, prometheus.io/* and canonical service labels.
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace weft::inject {

struct InjectionConfig {
  std::string image = "weft/proxy:latest";                        // weft-agent, weft-proxy, weft-iptables
  std::string ca_address = "weftd.weft-system.svc:15012";         // Istio's CA_ADDR
  std::string discovery_address = "weftd.weft-system.svc:15010";  // PILOT_ADDRESS (plaintext xDS)
  std::string trust_domain = "cluster.local";
  std::string cluster_id = "Kubernetes";
  std::string mesh_id = "cluster.local";
  std::string revision = "default";
  bool cni = false;  // the CNI plugin sets up capture: no init container
  // Kubernetes native sidecars (1.33+): istio-proxy as an init container with restartPolicy
  // Always. A pod's sidecar.istio.io/nativeSidecar annotation overrides it either way.
  bool native_sidecar = false;
  // meshConfig.defaultConfig (Istio's ProxyConfig JSON): the base proxy.istio.io/config is
  // merged over (proxyMetadata key by key, other fields replaced), as Istio's injector merges.
  nlohmann::json mesh_proxy_config = nlohmann::json::object();
};

// The first field the injector reads that has the wrong type ("metadata.labels[app]: must be a
// string"), or nullopt. kube-apiserver sends only well-formed pods; a file or a hostile client
// may not. Null fields are removed (they read as absent).
std::optional<std::string> podShapeError(nlohmann::json& pod_metadata, nlohmann::json& pod_spec);

// Istio's injectRequired for one pod: nullopt when it is injected, else why not. The
// namespace's choice (istio-injection=enabled, istio.io/rev) is the webhook's namespaceSelector;
// `kube-inject` injects unless the pod says otherwise.
std::optional<std::string> skipReason(const nlohmann::json& pod_metadata, const nlohmann::json& pod_spec);

// The pod (metadata + spec of a Pod or a pod template) with its sidecar; `workload` names the
// owner for ISTIO_META_WORKLOAD_NAME and ISTIO_META_OWNER ("apps/v1", "Deployment", "reviews-v1").
struct Workload {
  std::string api_version = "v1";
  std::string kind = "Pod";
  std::string name;
  std::string ns = "default";
};
// Throws std::invalid_argument naming the field when the pod cannot be injected as written
// (an annotation with a bad value, a container without a name).
void injectPod(nlohmann::json& pod_metadata, nlohmann::json& pod_spec, const Workload& workload,
               const InjectionConfig& config);

}  // namespace weft::inject
