#pragma once
// YAML document -> typed resource, with validation. This is the one validation path for
// every kind: the config directory, the Kubernetes watch and the /validate admission
// webhook all call decodeResource(). Errors name the field path (e.g.
// "spec.http[0].route[1].weight: must be >= 0"); a resource with any error is not accepted.
#include <yaml-cpp/yaml.h>

#include <string>
#include <variant>
#include <vector>

#include "control/config/kinds.h"

namespace weft::control {

using Resource = std::variant<Service, Endpoints, EndpointSlice, Pod, Namespace, Node, ConfigMap, VirtualService,
                              DestinationRule, ServiceEntry, WorkloadEntry, Sidecar, PeerAuthentication,
                              AuthorizationPolicy, RequestAuthentication, Telemetry>;

struct DecodeResult {
  std::string kind;  // as written in the document
  std::string name;
  std::string ns;
  std::optional<Resource> resource;  // set only when there are no errors
  std::vector<std::string> errors;
  std::vector<std::string> warnings;  // Istio's validation warnings (the resource is still accepted)
};

DecodeResult decodeResource(const YAML::Node& doc);

// An error that is weftd's limit ("... is not supported by weftd"), not Istio's verdict on the
// object: Istio would accept it; weftd cannot serve it.
bool isWeftdLimitation(const std::string& error);

// Kinds weftd knows (networking.istio.io v1/v1beta1/v1alpha3 for the Istio ones).
bool isKnownKind(const std::string& api_version, const std::string& kind);

}  // namespace weft::control
