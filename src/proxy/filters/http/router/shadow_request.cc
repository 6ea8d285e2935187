#include "proxy/filters/http/router/shadow_request.h"

#include "proxy/upstream/worker_cluster.h"

namespace weft::proxy::http {

std::string shadowHost(std::string_view host) {
  auto colon = host.rfind(':');
  // A colon inside an IPv6 literal is no port separator.
  if (colon == std::string_view::npos || host.find(']', colon) != std::string_view::npos) {
    return std::string(host) + "-shadow";
  }
  return std::string(host.substr(0, colon)) + "-shadow" + std::string(host.substr(colon));
}

namespace {
UpstreamHead withHost(const UpstreamHead& head, const std::string& host) {
  UpstreamHead h = head;
  h.host = host;
  return h;
}
}  // namespace

ShadowRequest::ShadowRequest(event::Reactor& reactor, const UpstreamHead& head, bool host_suffix)
    : reactor_(reactor),
      host_(host_suffix ? shadowHost(head.host) : std::string(head.host)),
      head_(withHost(head, host_)),
      timer_(reactor, [this] { finish(); }) {}

ShadowRequest::~ShadowRequest() {
  reactor_.cancelFlush(this);
  if (upstream_) upstream_->abort();
}

ShadowRequest* ShadowRequest::start(std::shared_ptr<upstream::WorkerCluster> cluster, event::Reactor& reactor,
                                    const UpstreamHead& head, bool end_stream, bool downstream_http2,
                                    std::chrono::milliseconds timeout, bool host_suffix) {
  std::shared_ptr<const upstream::Host> host = cluster->chooseHost(nullptr, {});
  if (!host) return nullptr;
  auto* s = new ShadowRequest(reactor, head, host_suffix);
  s->cluster_ = std::move(cluster);
  s->upstream_ = newUpstreamStream(*s, *s->cluster_, std::move(host), reactor, head.req->method == "HEAD", s->response_,
                                   downstream_http2, false);
  s->upstream_->start();
  if (!s->upstream_ || s->done_) {
    // Failed at once (circuit breaker overflow): nothing was sent. Deleted after the failed
    // stream, which is queued for deletion too and refers to the cluster this one holds.
    s->abort();
    return nullptr;
  }
  s->upstream_->sendHeaders(s->head_.head(), end_stream);
  s->request_end_ = end_stream;
  s->timer_.arm(timeout);
  reactor.scheduleFlush(s);
  return s;
}

void ShadowRequest::sendData(std::string_view data, bool end_stream) {
  if (done_ || !upstream_) return;
  // A mirror slower than the client would hold the request's bytes: it is dropped instead.
  if (upstream_->aboveWriteLimit()) {
    finish();
    return;
  }
  upstream_->sendData(data, end_stream);
  request_end_ = end_stream;
  reactor_.scheduleFlush(this);
}

void ShadowRequest::sendTrailers(const std::vector<Header>& trailers) {
  if (done_ || !upstream_) return;
  upstream_->sendTrailers(trailers);
  request_end_ = true;
  reactor_.scheduleFlush(this);
}

void ShadowRequest::onFlush() {
  if (upstream_) upstream_->flush();
}

void ShadowRequest::onUpstreamComplete() {
  if (upstream_) {
    upstream_->release(request_end_);
    reactor_.deferDelete(std::move(upstream_));
  }
  finish();
}

void ShadowRequest::dropUpstream() {
  if (upstream_) reactor_.deferDelete(std::move(upstream_));
  finish();
}

void ShadowRequest::abort() {
  released_ = true;
  if (done_) {
    reactor_.deferDelete(std::unique_ptr<event::Deferrable>(this));  // it ended already
  } else {
    finish();
  }
}

void ShadowRequest::release() {
  released_ = true;
  if (done_) reactor_.deferDelete(std::unique_ptr<event::Deferrable>(this));
}

void ShadowRequest::finish() {
  if (done_) return;
  done_ = true;
  timer_.disarm();
  reactor_.cancelFlush(this);
  if (upstream_) {
    upstream_->abort();
    reactor_.deferDelete(std::move(upstream_));
  }
  if (released_) reactor_.deferDelete(std::unique_ptr<event::Deferrable>(this));
}

}  // namespace weft::proxy::http
