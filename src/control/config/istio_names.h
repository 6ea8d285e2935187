#pragma once
// Istio's checks of names and addresses (pkg/config/validation/agent and labels, Istio master
// 86c9f01), with Istio's messages: each returns nullopt when the value is fine, else the
// message istiod would give, to be prefixed with the field's path.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "control/config/kinds.h"

namespace weft::control::decode {

// ValidateWildcardDomain: "*", "*.foo.com", "*foo", "foo.com", short names.
std::optional<std::string> wildcardDomainError(std::string_view d);
// ValidateFQDN: no wildcard; short names and a trailing dot allowed; no all-numeric TLD.
std::optional<std::string> fqdnError(std::string_view d);
// ValidatePartialWildCard (a warning in ServiceEntry hosts): "*x", "foo.*.com".
std::optional<std::string> partialWildcardError(std::string_view h);
// ValidateIPSubnet: an IP or a CIDR block.
std::optional<std::string> ipSubnetError(std::string_view s);
// netip.ParseAddr: IPv4 (no leading zeros) or IPv6 (with an optional zone).
bool isIpAddress(std::string_view s);
// ValidateUnixAddress, of the path after "unix://".
std::optional<std::string> unixAddressError(std::string_view path);
// labels.IsDNS1123Label (Istio allows upper case): port names.
bool isIstioDnsLabel(std::string_view s);
std::optional<std::string> portNameError(std::string_view name);
std::optional<std::string> portNumberError(int64_t n);
// ValidateProtocol: empty, or one of Istio's protocols, any case.
std::optional<std::string> protocolError(std::string_view p);
// Istio's protocol classes (protocol.Parse, case-insensitive).
bool isHttpProtocol(std::string_view p);
bool isTlsProtocol(std::string_view p);
bool isTcpProtocol(std::string_view p);
// labels.Instance.Validate: one message per bad key or value.
std::vector<std::string> labelErrors(const Labels& labels);
// validateExportTo (ServiceEntry's variant allows "~" alone).
std::vector<std::string> exportToErrors(const std::string& ns, const std::vector<std::string>& export_to,
                                        bool service_entry);

}  // namespace weft::control::decode
