#include "proxy/http/upstream_stream.h"

#include "proxy/http/http2_upstream.h"
#include "proxy/http/upstream_request.h"

namespace weft::proxy::http {

std::unique_ptr<UpstreamStream> newUpstreamStream(UpstreamCallbacks& cb, upstream::WorkerCluster& cluster,
                                                  std::shared_ptr<const upstream::Host> host, event::Reactor& reactor,
                                                  bool head_request, ResponseHead& head, bool downstream_http2,
                                                  bool upgrade) {
  using Protocol = upstream::ClusterConfig::Protocol;
  Protocol p = cluster.config().protocol;
  bool http2 = !upgrade && (p == Protocol::Http2 || (p == Protocol::UseDownstream && downstream_http2));
  if (!http2) return std::make_unique<UpstreamRequest>(cb, cluster, std::move(host), reactor, head_request, head);
  auto& slot = cluster.multiplexedPool();
  if (!slot) slot = std::make_unique<Http2ClientPool>(cluster, reactor);
  return std::make_unique<Http2UpstreamStream>(cb, cluster, std::move(host), static_cast<Http2ClientPool&>(*slot),
                                               head);
}

}  // namespace weft::proxy::http
