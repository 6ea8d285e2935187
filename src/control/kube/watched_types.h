#pragma once
// The Kubernetes resources weftd lists and watches, and where. Secrets are not among them:
// nothing weftd serves reads one yet (no gateway credentialName, no remote clusters), so its
// ClusterRole does not grant them.
#include <string_view>

namespace weft::control::kube {

struct WatchedType {
  std::string_view kind;
  std::string_view api_version;
  std::string_view path;  // the collection, for LIST and WATCH
};

inline constexpr WatchedType kWatchedTypes[] = {
    {"Namespace", "v1", "/api/v1/namespaces"},
    {"Node", "v1", "/api/v1/nodes"},
    {"Service", "v1", "/api/v1/services"},
    {"EndpointSlice", "discovery.k8s.io/v1", "/apis/discovery.k8s.io/v1/endpointslices"},
    {"Pod", "v1", "/api/v1/pods"},
    // The mesh config: istiod's `istio` ConfigMap in its system namespace.
    {"ConfigMap", "v1", "/api/v1/namespaces/istio-system/configmaps"},
    {"VirtualService", "networking.istio.io/v1", "/apis/networking.istio.io/v1/virtualservices"},
    {"DestinationRule", "networking.istio.io/v1", "/apis/networking.istio.io/v1/destinationrules"},
    {"ServiceEntry", "networking.istio.io/v1", "/apis/networking.istio.io/v1/serviceentries"},
    {"WorkloadEntry", "networking.istio.io/v1", "/apis/networking.istio.io/v1/workloadentries"},
    {"Sidecar", "networking.istio.io/v1", "/apis/networking.istio.io/v1/sidecars"},
    {"PeerAuthentication", "security.istio.io/v1", "/apis/security.istio.io/v1/peerauthentications"},
    {"AuthorizationPolicy", "security.istio.io/v1", "/apis/security.istio.io/v1/authorizationpolicies"},
    {"RequestAuthentication", "security.istio.io/v1", "/apis/security.istio.io/v1/requestauthentications"},
    {"Telemetry", "telemetry.istio.io/v1", "/apis/telemetry.istio.io/v1/telemetries"},
};
inline constexpr size_t kWatchedTypeCount = std::size(kWatchedTypes);

}  // namespace weft::control::kube
