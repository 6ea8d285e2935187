#pragma once
// The router's decision for one request, shared by the HTTP/1 and HTTP/2 streams: route
// lookup, direct responses and redirects, the weighted cluster draw, the host pick, and the
// request head the upstream gets (rewrites, mutations). The stream then acts on it.
#include <memory>
#include <string>
#include <string_view>

#include "common/net/address.h"
#include "proxy/http/codec_util.h"
#include "proxy/http/hcm_config.h"
#include "proxy/http/route_table.h"
#include "proxy/stream_info.h"
#include "proxy/upstream/worker_cluster.h"

namespace weft::proxy::server {
class Worker;
}

namespace weft::proxy::http {

struct RouteDecision {
  enum class Kind { Forward, NoRoute, DirectResponse, Redirect, NoCluster, NoHealthyUpstream };
  Kind kind = Kind::NoRoute;
  std::shared_ptr<const RouteTable> table;  // held for the stream: an RDS update must not free the route
  const Route* route = nullptr;
  const VirtualHost* vhost = nullptr;
  const WeightedTarget* target = nullptr;
  std::shared_ptr<upstream::WorkerCluster> cluster;
  std::shared_ptr<const upstream::Host> host;
  MutationChain request_mutations;
  MutationChain response_mutations;
};

// `host` is the Host/:authority used for virtual-host lookup (port already stripped).
RouteDecision decideRoute(server::Worker& worker, const HcmConfig& hcm, const RequestHead& req, std::string_view host,
                          const net::Address& local_address);

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

// Answers the decisions that need no upstream (404 NR, direct response, redirect, 503 NC and
// UH) through reply(status, body, flag, details, mutations, location), counting them; false
// when the request goes upstream.
template <typename Reply>
bool replyWithoutUpstream(const RouteDecision& d, const RequestHead& req, std::string_view scheme,
                          stats::Scope& hcm_stats, Reply&& reply) {
  switch (d.kind) {
    case RouteDecision::Kind::NoRoute:
      hcm_stats.inc(HcmStats::no_route);
      reply(404, "", kNoRouteFound, "route_not_found", nullptr, "");
      return true;
    case RouteDecision::Kind::DirectResponse:
      hcm_stats.inc(HcmStats::rq_direct_response);
      reply(d.route->direct_status, d.route->direct_body, 0, "direct_response", &d.response_mutations, "");
      return true;
    case RouteDecision::Kind::Redirect:
      hcm_stats.inc(HcmStats::rq_redirect);
      reply(d.route->redirect.status, "", 0, "redirect", &d.response_mutations, redirectLocation(*d.route, req, scheme));
      return true;
    case RouteDecision::Kind::NoCluster:
      hcm_stats.inc(HcmStats::no_cluster);
      reply(503, "", kNoClusterFound, "cluster_not_found", nullptr, "");
      return true;
    case RouteDecision::Kind::NoHealthyUpstream:
      reply(503, "no healthy upstream", kNoHealthyUpstream, "no_healthy_upstream", nullptr, "");
      return true;
    case RouteDecision::Kind::Forward:
      break;
  }
  return false;
}

}  // namespace weft::proxy::http
