#pragma once
// The one table of the kinds weftd understands: apiVersion group, kind, decoder, and the
// ConfigSnapshot field that keeps it. Adding a kind is its struct in kinds.h, its decoder in
// decode_<kind>.cc, and one row here; the static_assert below fails the build when a kind of
// Resource has no row (or two).
#include <string_view>
#include <tuple>
#include <variant>

#include "control/config/config_snapshot.h"
#include "control/config/decoders.h"

namespace weft::control {

enum class ApiGroup { CoreV1, DiscoveryV1, IstioNetworking, IstioSecurity, IstioTelemetry };

template <typename T>
struct KindRow {
  using Type = T;
  ApiGroup group;
  std::string_view kind;
  T (*decode)(const YAML::Node&, decode::Errors&);
  std::vector<T> ConfigSnapshot::*field;
};

inline constexpr auto kKinds = std::make_tuple(
    KindRow<Service>{ApiGroup::CoreV1, "Service", decode::decodeService, &ConfigSnapshot::services},
    KindRow<Endpoints>{ApiGroup::CoreV1, "Endpoints", decode::decodeEndpoints, &ConfigSnapshot::endpoints},
    KindRow<Pod>{ApiGroup::CoreV1, "Pod", decode::decodePod, &ConfigSnapshot::pods},
    KindRow<Namespace>{ApiGroup::CoreV1, "Namespace", decode::decodeNamespace, &ConfigSnapshot::namespaces},
    KindRow<Node>{ApiGroup::CoreV1, "Node", decode::decodeNode, &ConfigSnapshot::nodes},
    KindRow<ConfigMap>{ApiGroup::CoreV1, "ConfigMap", decode::decodeConfigMap, &ConfigSnapshot::config_maps},
    KindRow<EndpointSlice>{ApiGroup::DiscoveryV1, "EndpointSlice", decode::decodeEndpointSlice,
                           &ConfigSnapshot::endpoint_slices},
    KindRow<VirtualService>{ApiGroup::IstioNetworking, "VirtualService", decode::decodeVirtualService,
                            &ConfigSnapshot::virtual_services},
    KindRow<DestinationRule>{ApiGroup::IstioNetworking, "DestinationRule", decode::decodeDestinationRule,
                             &ConfigSnapshot::destination_rules},
    KindRow<ServiceEntry>{ApiGroup::IstioNetworking, "ServiceEntry", decode::decodeServiceEntry,
                          &ConfigSnapshot::service_entries},
    KindRow<WorkloadEntry>{ApiGroup::IstioNetworking, "WorkloadEntry", decode::decodeWorkloadEntry,
                           &ConfigSnapshot::workload_entries},
    KindRow<Sidecar>{ApiGroup::IstioNetworking, "Sidecar", decode::decodeSidecar, &ConfigSnapshot::sidecars},
    KindRow<PeerAuthentication>{ApiGroup::IstioSecurity, "PeerAuthentication", decode::decodePeerAuthentication,
                                &ConfigSnapshot::peer_authentications},
    KindRow<AuthorizationPolicy>{ApiGroup::IstioSecurity, "AuthorizationPolicy", decode::decodeAuthorizationPolicy,
                                 &ConfigSnapshot::authorization_policies},
    KindRow<RequestAuthentication>{ApiGroup::IstioSecurity, "RequestAuthentication",
                                   decode::decodeRequestAuthentication, &ConfigSnapshot::request_authentications},
    KindRow<Telemetry>{ApiGroup::IstioTelemetry, "Telemetry", decode::decodeTelemetry, &ConfigSnapshot::telemetries});

namespace detail {
template <typename T, typename Tuple>
struct RowsFor;
template <typename T, typename... Rows>
struct RowsFor<T, std::tuple<Rows...>> {
  static constexpr size_t value = (0 + ... + (std::is_same_v<typename Rows::Type, T> ? 1 : 0));
};
template <typename Variant>
struct EveryKindHasOneRow;
template <typename... Ts>
struct EveryKindHasOneRow<std::variant<Ts...>> {
  static constexpr bool value = ((RowsFor<Ts, std::decay_t<decltype(kKinds)>>::value == 1) && ...) &&
                                sizeof...(Ts) == std::tuple_size_v<std::decay_t<decltype(kKinds)>>;
};
}  // namespace detail

static_assert(detail::EveryKindHasOneRow<Resource>::value,
              "every kind of Resource needs exactly one row in kKinds (and every row a kind of Resource)");

}  // namespace weft::control
