#pragma once
// What happened to one request or TCP session: the facts access logs and stats read.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/event/reactor.h"
#include "common/net/address.h"
#include "proxy/dynamic_metadata.h"

namespace weft::net {
class Connection;
}

namespace weft::proxy {

namespace telemetry {
struct PeerMetadata;
struct TlsPrincipals;
}  // namespace telemetry

// Envoy's response flags, in the order Envoy prints them.
enum ResponseFlag : uint32_t {
  kFailedLocalHealthCheck = 1u << 0,            // LH
  kNoHealthyUpstream = 1u << 1,                 // UH
  kUpstreamRequestTimeout = 1u << 2,            // UT
  kLocalReset = 1u << 3,                        // LR
  kUpstreamRemoteReset = 1u << 4,               // UR
  kUpstreamConnectionFailure = 1u << 5,         // UF
  kUpstreamConnectionTermination = 1u << 6,     // UC
  kUpstreamOverflow = 1u << 7,                  // UO
  kNoRouteFound = 1u << 8,                      // NR
  kDelayInjected = 1u << 9,                     // DI
  kFaultInjected = 1u << 10,                    // FI
  kRateLimited = 1u << 11,                      // RL
  kStreamIdleTimeout = 1u << 12,                // SI
  kDownstreamConnectionTermination = 1u << 13,  // DC
  kUpstreamRetryLimitExceeded = 1u << 14,       // URX
  kNoClusterFound = 1u << 15,                   // NC
  kDownstreamProtocolError = 1u << 16,          // DPE
  kUpstreamProtocolError = 1u << 17,            // UPE
  kDurationTimeout = 1u << 18,                  // DT
};
std::string responseFlagsString(uint32_t flags);
// "UH" -> kNoHealthyUpstream; 0 for a name weft-proxy does not set.
uint32_t responseFlagFromName(std::string_view name);

struct StreamInfo {
  std::chrono::system_clock::time_point start_time;
  event::TimePoint start;
  event::TimePoint upstream_start{};
  event::TimePoint first_upstream_byte{};
  event::TimePoint end{};
  std::string_view protocol = "HTTP/1.1";
  int response_code = 0;
  uint32_t response_flags = 0;
  std::string_view response_code_details;
  uint64_t bytes_received = 0;
  uint64_t bytes_sent = 0;
  std::string upstream_host;    // "ip:port" or empty
  net::Address upstream_local;  // the upstream connection's own address (length 0: none yet)
  std::string_view upstream_cluster;
  const net::Address* downstream_remote = nullptr;
  const net::Address* downstream_local = nullptr;
  const net::Connection* downstream = nullptr;  // %REQUESTED_SERVER_NAME%
  std::string_view route_name;
  std::string_view transport_failure;
  std::string local_reply_body;  // %LOCAL_REPLY_BODY%: the body of a local reply
  // Request/response header values the access log formats ask for, captured while the
  // headers were still in the input buffer; `present` false prints "-".
  struct Captured {
    bool present = false;
    std::string value;
  };
  std::vector<Captured> request_headers;
  std::vector<Captured> response_headers;
  DynamicMetadata metadata;
  // Istio's peers, as the metadata exchange found them (null: unknown).
  std::shared_ptr<const telemetry::PeerMetadata> downstream_peer, upstream_peer;
  // The upstream mutual TLS identities (Istio's source reporter principals); null: plaintext.
  std::shared_ptr<const telemetry::TlsPrincipals> upstream_principals;

  void reset() {
    response_code = 0;
    response_flags = 0;
    response_code_details = {};
    bytes_received = bytes_sent = 0;
    upstream_host.clear();
    upstream_local.length = 0;
    upstream_cluster = {};
    route_name = {};
    transport_failure = {};
    local_reply_body.clear();
    upstream_start = first_upstream_byte = end = {};
    for (auto& c : request_headers) c.present = false;
    for (auto& c : response_headers) c.present = false;
    metadata.clear();
    downstream_peer.reset();
    upstream_peer.reset();
    upstream_principals.reset();
  }
};

}  // namespace weft::proxy
