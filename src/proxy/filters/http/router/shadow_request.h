#pragma once
// One mirrored copy of a request (Envoy's request_mirror_policies): sent to the mirror cluster
// with the host suffixed "-shadow", fire and forget. Its response is read and dropped; its
// failure, slowness or a full upstream buffer end the shadow and never touch the real request.
// The router feeds it the request as it arrives, then lets it go: it deletes itself once its
// response is complete, it fails, or its timeout passes.
#include <memory>
#include <string>

#include "common/event/reactor.h"
#include "proxy/http/request_encoder.h"
#include "proxy/http/upstream_stream.h"

namespace weft::proxy::http {

class ShadowRequest final : public UpstreamCallbacks, public event::Deferrable, public event::Flushable {
 public:
  // Starts the shadow with `head` (whose host becomes "<host>-shadow"); null when the mirror
  // cluster has no host or its circuit breaker is full.
  static ShadowRequest* start(std::shared_ptr<upstream::WorkerCluster> cluster, event::Reactor& reactor,
                              const UpstreamHead& head, bool end_stream, bool downstream_http2,
                              std::chrono::milliseconds timeout, bool host_suffix);
  ~ShadowRequest() override;

  // The request's body and trailers as they arrive; ignored once the shadow has ended.
  void sendData(std::string_view data, bool end_stream);
  void sendTrailers(const std::vector<Header>& trailers);
  // The real request is gone before it ended: the shadow goes too.
  void abort();
  // The router no longer feeds it: it ends on its own.
  void release();

  // UpstreamCallbacks: the mirror's answer is not wanted.
  void onUpstreamFailure(uint32_t, std::string_view) override { dropUpstream(); }
  void onUpstreamHeaders(const ResponseHead&, bool) override {}
  void onUpstreamBody(std::string_view) override {}
  void onUpstreamTrailers(const std::vector<Header>&) override {}
  void onUpstreamComplete() override;
  void onUpstreamResetAfterHeaders() override { dropUpstream(); }
  void onUpstreamUpgraded(const ResponseHead&) override { finish(); }
  void onUpstreamWriteDrained() override {}
  void onUpstreamDataDone() override {}
  void onFlush() override;

 private:
  ShadowRequest(event::Reactor& reactor, const UpstreamHead& head, bool host_suffix);
  // The upstream ended the stream itself: it is deleted as the router deletes a failed one.
  void dropUpstream();
  // The shadow is over: drop the upstream, and delete itself once the router let go.
  void finish();

  event::Reactor& reactor_;
  std::shared_ptr<upstream::WorkerCluster> cluster_;  // outlives the upstream stream, which refers to it
  std::string host_;
  OwnedUpstreamHead head_;
  ResponseHead response_;
  std::unique_ptr<UpstreamStream> upstream_;
  event::Timer timer_;
  bool request_end_ = false;
  bool released_ = false;
  bool done_ = false;
};

// Envoy's shadow host: "-shadow" before the port, if any ("a:80" -> "a-shadow:80").
std::string shadowHost(std::string_view host);

}  // namespace weft::proxy::http
