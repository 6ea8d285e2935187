#pragma once
// What traffic to capture into the sidecar, with istio-iptables' flags and defaults. One
// definition for weft-iptables (command line) and weft-cni (CNI config and pod annotations).
#include <optional>
#include <string>
#include <vector>

namespace weft::capture {

struct CaptureConfig {
  int proxy_port = 15001;                                  // -p: outbound traffic goes here
  int inbound_port = 15006;                                // -z: inbound traffic goes here
  int inbound_tunnel_port = 15008;                         // never captured (HBONE)
  std::vector<std::string> uids = {"1337"};                // -u: the proxy's own traffic is not captured again
  std::vector<std::string> gids = {"1337"};                // -g (defaults to -u)
  std::string mode = "REDIRECT";                           // -m: only REDIRECT is supported
  std::vector<std::string> include_ips = {"*"};            // -i ("*": everything)
  std::vector<std::string> exclude_ips;                    // -x
  std::vector<std::string> include_inbound_ports = {"*"};  // -b ("*": every port)
  std::vector<std::string> exclude_inbound_ports;          // -d (only with -b '*')
  std::vector<std::string> exclude_outbound_ports;         // -o
  std::vector<std::string> include_outbound_ports;         // -q
};

// A comma-separated flag value as a list (empty string: empty list; spaces trimmed).
std::vector<std::string> splitList(const std::string& value);

// Checks every field; the error names the flag and the bad value ("-x: '10.0.0.0/33' is not
// an IPv4 CIDR"). IPv6 ranges are refused: only IPv4 rules are generated.
std::optional<std::string> validate(const CaptureConfig& c);

}  // namespace weft::capture
