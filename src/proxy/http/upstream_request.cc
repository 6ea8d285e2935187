#include "proxy/http/upstream_request.h"

#include <boost/beast/http/error.hpp>

#include "proxy/http/codec_util.h"

namespace weft::proxy::http {

namespace {
constexpr size_t kMaxResponseHead = 96 * 1024;
}

using upstream::ClusterStats;
using upstream::HostStats;

UpstreamRequest::UpstreamRequest(Callbacks& cb, upstream::WorkerCluster& cluster,
                                 std::shared_ptr<const upstream::Host> host, event::Reactor& reactor, bool head_request,
                                 ResponseHead& head, std::string server_name)
    : cb_(cb),
      cluster_(cluster),
      host_(std::move(host)),
      server_name_(std::move(server_name)),
      reactor_(reactor),
      head_request_(head_request),
      head_(head),
      connect_timer_(reactor, [this] {
        cluster_.stats().inc(ClusterStats::upstream_cx_connect_timeout);
        cluster_.stats().inc(ClusterStats::upstream_cx_connect_fail);
        host_->stats->inc(HostStats::cx_connect_fail);
        closeConnection();
        failBeforeHeaders(kUpstreamConnectionFailure, "connection timeout");
      }) {}

UpstreamRequest::~UpstreamRequest() { abort(); }

void UpstreamRequest::start() {
  if (!cluster_.limits().requests.tryAcquire()) {
    cluster_.stats().inc(ClusterStats::upstream_rq_pending_overflow);
    failBeforeHeaders(kUpstreamOverflow, "overflow");
    return;
  }
  holds_request_ = true;
  active_ = true;
  cluster_.stats().inc(ClusterStats::upstream_rq_total);
  cluster_.stats().inc(ClusterStats::upstream_rq_active);
  host_->stats->inc(HostStats::rq_total);
  host_->stats->inc(HostStats::rq_active);
  acquireConnection();
}

void UpstreamRequest::acquireConnection() {
  conn_ = cluster_.takeIdle(*host_, server_name_);
  if (conn_) {
    reused_ = true;
    conn_->setCallbacks(this);
    conn_->readDisable(false);
  } else if (cluster_.canConnect(*host_, server_name_)) {
    connectFresh();
  } else if (cluster_.limits().pending_requests.tryAcquire()) {
    waiting_ = true;
    cluster_.stats().inc(ClusterStats::upstream_cx_overflow);
    cluster_.stats().inc(ClusterStats::upstream_rq_pending_total);
    cluster_.stats().inc(ClusterStats::upstream_rq_pending_active);
    cluster_.addWaiter(this);
    return;
  } else {
    cluster_.stats().inc(ClusterStats::upstream_cx_overflow);
    cluster_.stats().inc(ClusterStats::upstream_rq_pending_overflow);
    failBeforeHeaders(kUpstreamOverflow, "overflow");
    return;
  }
  if (!waiting_out_.empty()) {
    conn_->output().append(waiting_out_.view());
    waiting_out_.clear();
  }
}

void UpstreamRequest::stopWaiting() {
  if (!waiting_) return;
  waiting_ = false;
  cluster_.limits().pending_requests.release();
  cluster_.stats().dec(ClusterStats::upstream_rq_pending_active);
}

void UpstreamRequest::onConnectionAvailable() {
  stopWaiting();  // the cluster already took it off its queue
  acquireConnection();
  if (conn_) conn_->flush();
}

void UpstreamRequest::connectFresh() {
  conn_ = cluster_.connect(*host_, server_name_);
  conn_->setCallbacks(this);
  connect_timer_.arm(cluster_.config().connect_timeout);
}

void UpstreamRequest::sendHeaders(const UpstreamHead& head, bool end_stream) {
  chunked_out_ = head.chunked_body;
  encodeRequestHead(out(), head);
  // A head-only request on a reused connection can be re-sent if the peer had closed it.
  if (reused_ && end_stream) resend_.assign(conn_->output().data(), conn_->output().size());
}

void UpstreamRequest::sendData(std::string_view data, bool end_stream) {
  appendBody(out(), data, chunked_out_);
  if (end_stream && chunked_out_) out().append("0\r\n\r\n");
}

void UpstreamRequest::sendTrailers(const std::vector<Header>& trailers) {
  if (!chunked_out_) return;  // only chunked HTTP/1.1 can carry trailers
  Buffer& out = this->out();
  out.append("0\r\n");
  for (const auto& t : trailers) appendHeader(out, t.name, t.value);
  out.append("\r\n");
}

void UpstreamRequest::onEvent(net::Connection&, net::ConnectionEvent event) {
  switch (event) {
    case net::ConnectionEvent::Connected:
      connect_timer_.disarm();
      return;
    case net::ConnectionEvent::ConnectFailed:
      connect_timer_.disarm();
      cluster_.stats().inc(ClusterStats::upstream_cx_connect_fail);
      host_->stats->inc(HostStats::cx_connect_fail);
      if (conn_ && !conn_->tlsError().empty()) {
        std::string reason = "connection failure, transport failure reason: TLS error: " + conn_->tlsError();
        closeConnection();
        failBeforeHeaders(kUpstreamConnectionFailure, reason);
        return;
      }
      closeConnection();
      failBeforeHeaders(kUpstreamConnectionFailure, "connection failure");
      return;
    case net::ConnectionEvent::RemoteHalfClosed:
    case net::ConnectionEvent::Closed:
      break;
  }
  if (complete_) return;
  if (headers_delivered_ && parser_ && parser_->need_eof()) {
    // A response delimited by the end of the connection is complete now.
    ParseError ec;
    parser_->put_eof(ec);
    complete_ = true;
    closeConnection();
    cb_.onUpstreamComplete();
    return;
  }
  bool nothing_received = !headers_delivered_ && (!conn_ || conn_->bytesRead() == 0);
  if (reused_ && !retried_ && nothing_received && !resend_.empty()) {
    // The pooled connection had been closed by the peer: send again on a fresh one.
    retried_ = true;
    reused_ = false;
    closeConnection();
    cluster_.stats().inc(ClusterStats::upstream_rq_retry);
    connectFresh();
    conn_->output().append(resend_);
    return;
  }
  closeConnection();
  if (headers_delivered_) {
    cluster_.stats().inc(ClusterStats::upstream_rq_rx_reset);
    cb_.onUpstreamResetAfterHeaders();
  } else {
    failBeforeHeaders(kUpstreamConnectionTermination, "connection termination");
  }
}

void UpstreamRequest::failBeforeHeaders(uint32_t flag, std::string_view reason) {
  host_->stats->inc(HostStats::rq_error);
  cb_.onUpstreamFailure(flag, reason);
}

void UpstreamRequest::onWriteDrained(net::Connection&) { cb_.onUpstreamWriteDrained(); }

void UpstreamRequest::onBodyData(std::string_view data) { cb_.onUpstreamBody(data); }

void UpstreamRequest::onData(net::Connection& conn) {
  Buffer& in = conn.input();
  while (!in.empty() && !complete_) {
    if (!headers_delivered_) {
      HeadScan scan = scanHead(in.view(), head_scanned_);
      if (scan == HeadScan::Malformed ||
          (scan == HeadScan::Incomplete && (in.size() > kMaxResponseHead || in.size() >= conn.readLimit()))) {
        closeConnection();
        failBeforeHeaders(kUpstreamProtocolError, "protocol error");
        return;
      }
      if (scan == HeadScan::Incomplete) break;
    }
    if (!parser_) {
      head_.clear();
      parser_.emplace(head_, *this, head_request_, cluster_.config().max_response_headers_count);
    }
    ParseError ec;
    size_t n = parser_->feed(in.data(), in.size(), ec);
    if (ec == beast_http::error::need_more) {
      // Beast reports what it consumed (e.g. a whole chunk) along with need_more.
      if (headers_delivered_) in.drain(n);
      break;
    }
    if (ec) {
      closeConnection();
      if (headers_delivered_) {
        cb_.onUpstreamResetAfterHeaders();
      } else {
        failBeforeHeaders(kUpstreamProtocolError, "protocol error");
      }
      return;
    }
    if (!headers_delivered_ && parser_->is_header_done()) {
      if (head_.status >= 100 && head_.status < 200 && head_.status != 101) {
        // Interim responses: this proxy answers 100-continue itself, so they are dropped.
        in.drain(n);
        parser_.reset();
        continue;
      }
      headers_delivered_ = true;
      resend_.clear();
      if (head_.status == 101) {
        in.drain(n);
        cb_.onUpstreamUpgraded(head_);
        return;
      }
      parser_->eager(true);
      cb_.onUpstreamHeaders(head_, parser_->is_done());  // views into `in`: drained only afterwards
      if (!conn_) return;
      in.drain(n);
      if (parser_->is_done()) {
        complete_ = true;
        cb_.onUpstreamComplete();
        return;
      }
      continue;
    }
    in.drain(n);
    if (parser_->is_done()) {
      complete_ = true;
      cb_.onUpstreamComplete();
      return;
    }
    if (n == 0) break;
  }
  cb_.onUpstreamDataDone();
}

void UpstreamRequest::release(bool reusable) {
  if (holds_request_) {
    holds_request_ = false;
    cluster_.limits().requests.release();
  }
  if (!active_) return;
  active_ = false;
  cluster_.stats().dec(ClusterStats::upstream_rq_active);
  cluster_.stats().inc(ClusterStats::upstream_rq_completed);
  host_->stats->dec(HostStats::rq_active);
  host_->stats->inc(HostStats::rq_success);
  connect_timer_.disarm();
  if (conn_ && reusable && parser_ && parser_->keep_alive() && !conn_->closed() && conn_->input().empty() &&
      conn_->output().empty() && !conn_->remoteHalfClosed()) {
    cluster_.releaseIdle(host_, std::move(conn_));
    return;
  }
  closeConnection();
}

void UpstreamRequest::abort() {
  if (waiting_) {
    cluster_.removeWaiter(this);
    stopWaiting();
  }
  if (holds_request_) {
    holds_request_ = false;
    cluster_.limits().requests.release();
  }
  if (active_) {
    active_ = false;
    cluster_.stats().dec(ClusterStats::upstream_rq_active);
    host_->stats->dec(HostStats::rq_active);
  }
  connect_timer_.disarm();
  closeConnection();
}

void UpstreamRequest::closeConnection() {
  if (conn_) cluster_.destroy(*host_, std::move(conn_));
}

}  // namespace weft::proxy::http
