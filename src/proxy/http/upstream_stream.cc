#include "proxy/http/upstream_stream.h"

#include "proxy/http/auto_upstream_stream.h"
#include "proxy/http/http2_upstream.h"
#include "proxy/http/upstream_request.h"

namespace weft::proxy::http {

std::unique_ptr<UpstreamStream> newUpstreamStream(UpstreamCallbacks& cb, upstream::WorkerCluster& cluster,
                                                  std::shared_ptr<const upstream::Host> host, event::Reactor& reactor,
                                                  bool head_request, ResponseHead& head, bool downstream_http2,
                                                  bool upgrade, std::string server_name) {
  using Protocol = upstream::ClusterConfig::Protocol;
  Protocol p = cluster.config().protocol;
  bool http2 = p == Protocol::Http2 || (p == Protocol::UseDownstream && downstream_http2);
  if (p == Protocol::Auto && !upgrade) {
    std::optional<bool> known = cluster.knownHttp2(*host);
    if (!known) {
      return std::make_unique<AutoUpstreamStream>(cb, cluster, std::move(host), reactor, head_request, head,
                                                  std::move(server_name));
    }
    http2 = *known;
  }
  if (!http2 || upgrade) {
    return std::make_unique<UpstreamRequest>(cb, cluster, std::move(host), reactor, head_request, head,
                                             std::move(server_name));
  }
  auto& slot = cluster.multiplexedPool();
  if (!slot) slot = std::make_unique<Http2ClientPool>(cluster, reactor);
  return std::make_unique<Http2UpstreamStream>(cb, cluster, std::move(host), static_cast<Http2ClientPool&>(*slot), head,
                                               std::move(server_name));
}

}  // namespace weft::proxy::http
