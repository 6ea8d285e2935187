#pragma once
// One request to an upstream host, whatever the upstream protocol: HTTP/1.1 (a pooled
// keep-alive connection, UpstreamRequest) or HTTP/2 (a stream on a shared connection,
// Http2UpstreamStream). The downstream stream drives it and hears back through Callbacks.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/event/reactor.h"
#include "common/net/connection.h"
#include "proxy/http/headers.h"
#include "proxy/http/request_encoder.h"
#include "proxy/upstream/worker_cluster.h"

namespace weft::proxy::http {

class UpstreamCallbacks {
 public:
  virtual ~UpstreamCallbacks() = default;
  // The request failed before any response header; `flag` is a ResponseFlag.
  virtual void onUpstreamFailure(uint32_t flag, std::string_view reason) = 0;
  // `end_stream`: the response has no body (and no trailers) beyond these headers.
  virtual void onUpstreamHeaders(const ResponseHead& head, bool end_stream) = 0;
  virtual void onUpstreamBody(std::string_view data) = 0;
  virtual void onUpstreamTrailers(const std::vector<Header>& trailers) = 0;
  virtual void onUpstreamComplete() = 0;
  // The upstream went away in the middle of the response.
  virtual void onUpstreamResetAfterHeaders() = 0;
  // A 101 answer to an Upgrade request (HTTP/1.1 only); bytes after it stay in the
  // tunnel connection's input().
  virtual void onUpstreamUpgraded(const ResponseHead& head) = 0;
  // The upstream's output drained below its limit: request body reading may resume.
  virtual void onUpstreamWriteDrained() = 0;
  // A batch of upstream bytes was handled: time to flush what it produced downstream.
  virtual void onUpstreamDataDone() = 0;
};

class UpstreamStream : public event::Deferrable {
 public:
  ~UpstreamStream() override = default;
  // Obtains a connection (pooled or new) or a stream on one.
  virtual void start() = 0;
  virtual void sendHeaders(const UpstreamHead& head, bool end_stream) = 0;
  virtual void sendData(std::string_view data, bool end_stream) = 0;
  virtual void sendTrailers(const std::vector<Header>& trailers) = 0;
  virtual void flush() = 0;
  // True while the upstream takes request bytes slower than they come.
  virtual bool aboveWriteLimit() = 0;
  // Stops (true) or resumes taking response bytes: downstream backpressure.
  virtual void readDisable(bool disable) = 0;
  // After onUpstreamComplete: the connection goes back to the pool when `reusable`.
  virtual void release(bool reusable) = 0;
  virtual void abort() = 0;
  virtual const upstream::Host& host() const = 0;
  // The local address of the connection the stream runs on (null before there is one).
  virtual const net::Address* localAddress() const = 0;
  // The connection it runs on (null before there is one).
  virtual net::Connection* connection() const = 0;
  // HTTP/1.1 only: the connection an Upgrade tunnel relays over.
  virtual net::Connection* tunnelConnection() { return nullptr; }
};

// A stream to `host` in the protocol the cluster asks for (`downstream_http2`: for
// use_downstream_protocol_config; auto_config: the one TLS ALPN picked for the host). Upgrade
// tunnels always use HTTP/1.1. `server_name`: auto_sni's SNI (empty: the cluster's own).
std::unique_ptr<UpstreamStream> newUpstreamStream(UpstreamCallbacks& cb, upstream::WorkerCluster& cluster,
                                                  std::shared_ptr<const upstream::Host> host, event::Reactor& reactor,
                                                  bool head_request, ResponseHead& head, bool downstream_http2,
                                                  bool upgrade, std::string server_name = {});

}  // namespace weft::proxy::http
