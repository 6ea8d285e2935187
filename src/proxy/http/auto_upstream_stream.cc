#include "proxy/http/auto_upstream_stream.h"

#include "proxy/http/http2_upstream.h"
#include "proxy/http/upstream_request.h"
#include "proxy/stream_info.h"

namespace weft::proxy::http {

using upstream::ClusterStats;
using upstream::HostStats;

// What the router sent before the protocol was known.
struct AutoUpstreamStream::Pending {
  std::unique_ptr<OwnedUpstreamHead> head;
  bool headers_end = false;
  Buffer body;
  bool data_end = false;
  bool have_trailers = false;
  std::vector<std::pair<std::string, std::string>> trailer_strings;
  std::vector<Header> trailers;
};

AutoUpstreamStream::AutoUpstreamStream(UpstreamCallbacks& cb, upstream::WorkerCluster& cluster,
                                       std::shared_ptr<const upstream::Host> host, event::Reactor& reactor,
                                       bool head_request, ResponseHead& head, std::string server_name)
    : cb_(cb),
      cluster_(cluster),
      host_(std::move(host)),
      reactor_(reactor),
      head_request_(head_request),
      head_(head),
      server_name_(std::move(server_name)),
      connect_timer_(reactor,
                     [this] {
                       cluster_.stats().inc(ClusterStats::upstream_cx_connect_timeout);
                       fail("connection timeout");
                     }),
      pending_(std::make_unique<Pending>()) {}

AutoUpstreamStream::~AutoUpstreamStream() { abort(); }

void AutoUpstreamStream::start() {
  conn_ = cluster_.connect(*host_, server_name_);
  conn_->setCallbacks(this);
  connect_timer_.arm(cluster_.config().connect_timeout);
}

void AutoUpstreamStream::fail(std::string_view reason) {
  connect_timer_.disarm();
  cluster_.stats().inc(ClusterStats::upstream_cx_connect_fail);
  host_->stats->inc(HostStats::cx_connect_fail);
  std::string why(reason);
  if (conn_ && !conn_->tlsError().empty()) why += ", transport failure reason: TLS error: " + conn_->tlsError();
  if (conn_) cluster_.destroy(*host_, std::move(conn_));
  pending_.reset();
  cb_.onUpstreamFailure(kUpstreamConnectionFailure, why);
}

void AutoUpstreamStream::onEvent(net::Connection& conn, net::ConnectionEvent event) {
  if (event == net::ConnectionEvent::Connected) {
    connect_timer_.disarm();
    bool http2 = conn.alpn() == "h2";
    cluster_.learnHttp2(*host_, http2);
    onProtocolKnown(http2);
    return;
  }
  fail("connection failure");
}

void AutoUpstreamStream::onProtocolKnown(bool http2) {
  if (http2) {
    auto& slot = cluster_.multiplexedPool();
    if (!slot) slot = std::make_unique<Http2ClientPool>(cluster_, reactor_);
    auto& pool = static_cast<Http2ClientPool&>(*slot);
    pool.adopt(host_, server_name_, std::move(conn_));
    inner_ = std::make_unique<Http2UpstreamStream>(cb_, cluster_, host_, pool, head_, server_name_);
  } else {
    cluster_.releaseIdle(host_, std::move(conn_));
    inner_ = std::make_unique<UpstreamRequest>(cb_, cluster_, host_, reactor_, head_request_, head_, server_name_);
  }
  // The inner stream may fail at once (and the router then drop this object): keep the
  // pending data on the stack.
  std::unique_ptr<Pending> p = std::move(pending_);
  UpstreamStream* inner = inner_.get();
  inner->start();
  if (p->head) {
    inner->sendHeaders(p->head->head(), p->headers_end);
    if (p->body.size() > 0 || p->data_end) inner->sendData(p->body.view(), p->data_end);
    if (p->have_trailers) inner->sendTrailers(p->trailers);
  }
  if (read_disabled_) inner->readDisable(true);
  inner->flush();
  // The router stopped reading the request body when told this stream was full: tell it the
  // body moved on, unless the inner stream is full in its turn (it then says so itself).
  if (told_full_ && !inner->aboveWriteLimit()) cb_.onUpstreamWriteDrained();
}

void AutoUpstreamStream::sendHeaders(const UpstreamHead& h, bool end_stream) {
  if (inner_) return inner_->sendHeaders(h, end_stream);
  if (!pending_) return;
  pending_->head = std::make_unique<OwnedUpstreamHead>(h);
  pending_->headers_end = end_stream;
}

void AutoUpstreamStream::sendData(std::string_view data, bool end_stream) {
  if (inner_) return inner_->sendData(data, end_stream);
  if (!pending_) return;
  pending_->body.append(data);
  pending_->data_end = pending_->data_end || end_stream;
}

void AutoUpstreamStream::sendTrailers(const std::vector<Header>& trailers) {
  if (inner_) return inner_->sendTrailers(trailers);
  if (!pending_) return;
  Pending& p = *pending_;
  p.have_trailers = true;
  for (const Header& t : trailers) p.trailer_strings.emplace_back(std::string(t.name), std::string(t.value));
  for (const auto& [n, v] : p.trailer_strings) p.trailers.push_back({n, v});
}

void AutoUpstreamStream::flush() {
  if (inner_) inner_->flush();
}

bool AutoUpstreamStream::aboveWriteLimit() {
  if (inner_) return inner_->aboveWriteLimit();
  told_full_ = told_full_ || (pending_ && pending_->body.size() > cluster_.config().buffer_limit);
  return pending_ && pending_->body.size() > cluster_.config().buffer_limit;
}

void AutoUpstreamStream::readDisable(bool disable) {
  read_disabled_ = disable;
  if (inner_) inner_->readDisable(disable);
}

void AutoUpstreamStream::release(bool reusable) {
  if (inner_) inner_->release(reusable);
}

void AutoUpstreamStream::abort() {
  connect_timer_.disarm();
  if (inner_) inner_->abort();
  if (conn_) cluster_.destroy(*host_, std::move(conn_));
  pending_.reset();
}

}  // namespace weft::proxy::http
