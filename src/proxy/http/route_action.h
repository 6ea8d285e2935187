#pragma once
// What a matched route asks of a request: the path rewrite, a redirect's Location, the
// timeout, the Host to route on, and Envoy's details for an upstream failure.
#include <chrono>
#include <string>
#include <string_view>

#include "proxy/http/hcm_config.h"
#include "proxy/http/route_table.h"
#include "proxy/stream_info.h"

namespace weft::proxy::http {

// The upstream path after the route's prefix_rewrite; empty when the route does not rewrite.
std::string rewrittenPath(const Route& route, const RequestHead& req);

// The Location of a redirect route's answer.
std::string redirectLocation(const Route& route, const RequestHead& req, std::string_view scheme);

// The route timeout for this request: `timeout`, or for gRPC with max_grpc_timeout the
// client's grpc-timeout (capped, minus the offset). 0: none.
std::chrono::milliseconds requestTimeout(const Route& route, const RequestHead& req, bool is_grpc);

// The Host/:authority to route on: strip_matching_host_port / strip_any_host_port applied.
std::string_view hostForRouting(const HcmConfig& hcm, std::string_view host, uint16_t local_port);

// Envoy's response code details for a request that failed before the upstream answered.
inline std::string_view upstreamFailureDetails(uint32_t flag) {
  switch (flag) {
    case kUpstreamConnectionFailure:
      return "upstream_reset_before_response_started{connection_failure}";
    case kUpstreamOverflow:
      return "upstream_reset_before_response_started{overflow}";
    case kUpstreamProtocolError:
      return "upstream_reset_before_response_started{protocol_error}";
    default:
      return "upstream_reset_before_response_started{connection_termination}";
  }
}

}  // namespace weft::proxy::http
