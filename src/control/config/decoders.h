#pragma once
// One decoder per kind (decode_<kind>.cc); kind_table.h says which handles which kind.
#include <yaml-cpp/yaml.h>

#include <optional>
#include <string>
#include <vector>

#include "control/config/kinds.h"

namespace weft::control::decode {

using Errors = std::vector<std::string>;

Service decodeService(const YAML::Node& doc, Errors& errs);
Endpoints decodeEndpoints(const YAML::Node& doc, Errors& errs);
EndpointSlice decodeEndpointSlice(const YAML::Node& doc, Errors& errs);
Pod decodePod(const YAML::Node& doc, Errors& errs);
Namespace decodeNamespace(const YAML::Node& doc, Errors& errs);
Node decodeNode(const YAML::Node& doc, Errors& errs);
ConfigMap decodeConfigMap(const YAML::Node& doc, Errors& errs);
VirtualService decodeVirtualService(const YAML::Node& doc, Errors& errs);
DestinationRule decodeDestinationRule(const YAML::Node& doc, Errors& errs);
ServiceEntry decodeServiceEntry(const YAML::Node& doc, Errors& errs);
WorkloadEntry decodeWorkloadEntry(const YAML::Node& doc, Errors& errs);
Sidecar decodeSidecar(const YAML::Node& doc, Errors& errs);
PeerAuthentication decodePeerAuthentication(const YAML::Node& doc, Errors& errs);
AuthorizationPolicy decodeAuthorizationPolicy(const YAML::Node& doc, Errors& errs);
RequestAuthentication decodeRequestAuthentication(const YAML::Node& doc, Errors& errs);
Telemetry decodeTelemetry(const YAML::Node& doc, Errors& errs);

// Istio's ConnectionPoolSettings (validateConnectionPool): a DestinationRule's, and a Sidecar's
// inbound pools. Absent: nullopt, no error.
std::optional<ConnectionPool> connectionPool(const YAML::Node& n, const std::string& path, Errors& errs);

}  // namespace weft::control::decode
