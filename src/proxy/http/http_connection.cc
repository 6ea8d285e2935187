#include "proxy/http/http_connection.h"

#include <boost/beast/http/error.hpp>

#include "proxy/http/http2_connection.h"
#include "proxy/http/stream_stats.h"
#include "proxy/network/listener_config.h"

namespace weft::proxy::http {

HttpConnection::HttpConnection(WorkerContext& worker, std::unique_ptr<net::Connection> conn,
                               std::shared_ptr<const HcmConfig> hcm, std::shared_ptr<stats::Scope> listener_stats)
    : worker_(worker),
      conn_(std::move(conn)),
      hcm_(std::move(hcm)),
      listener_stats_(std::move(listener_stats)),
      stats_(*hcm_->stats),
      stream_(worker, *hcm_, *this, *conn_, false),
      head_timer_(worker.reactor(), [this] { onHeadTimer(); }),
      idle_timer_(worker.reactor(), [this] {
        stats_.inc(HcmStats::downstream_cx_idle_timeout);
        closeConnection();
      }) {}

HttpConnection::~HttpConnection() = default;

void HttpConnection::start() {
  stats_.inc(HcmStats::downstream_cx_total);
  stats_.inc(HcmStats::downstream_cx_active);
  conn_->setCallbacks(this);
  last_activity_ = worker_.reactor().now();
  if (hcm_->idle_timeout.count() > 0) idle_timer_.arm(hcm_->idle_timeout);
}

void HttpConnection::handOverToHttp2() {
  destroyed_ = true;
  idle_timer_.disarm();
  head_timer_.disarm();
  auto* h2 = new Http2ServerConnection(worker_, std::move(conn_), hcm_, listener_stats_);
  h2->listener = listener;
  worker_.addSession(h2);
  h2->start(true);
  worker_.removeSession(this);
}

// ---- downstream input -----------------------------------------------------------------

void HttpConnection::onData(net::Connection&) {
  if (!codec_decided_) {
    if (hcm_->codec != HcmConfig::Codec::Http1) {
      // AUTO: TLS negotiated h2, or the client opened with the HTTP/2 connection preface.
      static constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
      std::string_view in = conn_->input().view();
      size_t n = std::min(in.size(), kPreface.size());
      bool preface = in.substr(0, n) == kPreface.substr(0, n);
      if (conn_->alpn() == "h2" || (preface && n == kPreface.size())) {
        handOverToHttp2();
        return;
      }
      if (preface) return;  // not enough bytes to tell yet
    }
    codec_decided_ = true;
    stats_.inc(HcmStats::downstream_cx_http1_total);
  }
  last_activity_ = worker_.reactor().now();
  process();
  flush();
}

void HttpConnection::process() {
  if (in_process_) {
    process_again_ = true;
    return;
  }
  in_process_ = true;
  do {
    process_again_ = false;
    while (!destroyed_ && processOnce()) {
    }
  } while (process_again_ && !destroyed_);
  in_process_ = false;
}

// One step of the request state machine; false when it must wait for more input or for
// the current response.
bool HttpConnection::processOnce() {
  if (relay_ || !conn_ || conn_->closed()) return false;
  Buffer& in = conn_->input();
  switch (req_state_) {
    case RequestState::Headers: {
      if (stream_.active() || in.empty()) return false;
      beginHead();
      HeadScan scan = scanHead(in.view(), head_scanned_);
      if (scan == HeadScan::Malformed) {
        protocolError(400, "http1.invalid_header_line");
        return false;
      }
      if (scan == HeadScan::Incomplete) {
        // Too big, or big enough to fill the buffer we read into: it will never complete.
        if (in.size() > hcm_->max_request_headers_bytes || in.size() >= conn_->readLimit()) {
          protocolError(431, "request_headers_too_large");
        }
        return false;
      }
      if (!parser_) {
        req_.clear();
        parser_.emplace(req_, *this, hcm_->max_request_headers_bytes, hcm_->max_headers_count);
      }
      ParseError ec;
      size_t n = parser_->feed(in.data(), in.size(), ec);
      if (ec == beast_http::error::need_more) {
        protocolError(400, "incomplete_request_head");
        return false;
      }
      if (ec) {
        bool too_large = ec == beast_http::error::header_limit;
        std::string_view details = parser_->tooManyHeaders() ? "http1.too_many_headers" : "request_headers_too_large";
        if (!too_large && parser_->duplicateHost()) details = "duplicate_host_header";
        protocolError(too_large ? 431 : 400, too_large || parser_->duplicateHost() ? details : ec.message());
        return false;
      }
      if (!parser_->is_header_done()) {
        in.drain(n);
        return n > 0;
      }
      onRequestHeaders(n);  // reads views into `in`
      if (destroyed_ || !conn_) return false;
      in.drain(n);
      if (req_state_ == RequestState::Done) parser_.reset();
      return true;
    }
    case RequestState::Body: {
      if (in.empty()) {
        conn_->resumeReading();
        return false;
      }
      // A filter holds the request, or the upstream is backed up: the body waits, unread.
      if (stream_.active() && !stream_.wantsRequestBody()) return false;
      ParseError ec;
      feeding_ = true;
      size_t n = parser_->feed(in.data(), in.size(), ec);
      feeding_ = false;
      if (destroyed_) return false;
      if (req_state_ == RequestState::Done) {  // answered while feeding: the rest is not read
        parser_.reset();
        return false;
      }
      if (ec == beast_http::error::need_more) {
        in.drain(n);
        return false;
      }
      if (ec) {
        protocolError(400, ec.message());
        return false;
      }
      in.drain(n);
      if (parser_->is_done()) {
        endRequestBody();
        return true;
      }
      return n > 0;
    }
    case RequestState::Done:
      if (stream_.active()) return false;
      req_state_ = RequestState::Headers;
      return !in.empty();
  }
  return false;
}

void HttpConnection::onRequestHeaders(size_t head_bytes) {
  head_started_ = false;
  headers_deadline_ = request_deadline_ = {};
  head_timer_.disarm();
  idle_timer_.disarm();
  stream_.begin(head_start_);
  response_chunked_ = response_close_delimited_ = false;
  keep_alive_ = req_.keep_alive;
  request_version_ = req_.version;
  is_head_ = req_.method == "HEAD";
  parser_->eager(true);
  req_state_ = parser_->is_done() ? RequestState::Done : RequestState::Body;

  if (req_.version == 10 && !hcm_->accept_http_10) {
    close_after_response_ = true;
    stream_.rejectRequest(426, "", "low_version", 0, &req_);
    return;
  }
  if (parser_->unsupportedTransferEncoding()) {
    stats_.inc(HcmStats::downstream_cx_protocol_error);
    close_after_response_ = true;
    stream_.rejectRequest(501, "", "unsupported_transfer_encoding", kDownstreamProtocolError, &req_);
    return;
  }
  if (req_.host.empty() && req_.version == 11) {
    stats_.inc(HcmStats::downstream_cx_protocol_error);
    close_after_response_ = true;
    stream_.rejectRequest(400, "Bad Request", "missing_host_header", kDownstreamProtocolError, &req_);
    return;
  }
  if (req_.expect_continue && req_state_ == RequestState::Body) {
    conn_->output().append("HTTP/1.1 100 Continue\r\n\r\n");
  }
  stream_.decodeHeaders(req_, req_state_ == RequestState::Done);
  // A filter holds the headers: they must outlive the input buffer they point into.
  if (stream_.active() && !stream_.responseStarted() && !stream_.wantsRequestBody()) keepRequestHead(head_bytes);
}

// Moves the request head's bytes to storage of its own and points req_'s views there.
void HttpConnection::keepRequestHead(size_t head_bytes) {
  const char* from = conn_->input().data();
  head_copy_.clear();
  head_copy_.append(std::string_view(from, head_bytes));
  const char* to = head_copy_.data();
  auto rebase = [&](std::string_view& v) {
    if (!v.empty() && v.data() >= from && v.data() < from + head_bytes)
      v = std::string_view(to + (v.data() - from), v.size());
  };
  rebase(req_.method);
  rebase(req_.target);
  rebase(req_.path);
  rebase(req_.query);
  rebase(req_.host);
  for (Header& h : req_.headers) {
    rebase(h.name);
    rebase(h.value);
  }
}

// The first byte of a request head: from here on the request's own timers run (as Envoy's
// stream starts with its first byte), not the connection's idle timeout, so a head that
// never completes is answered 408 and closed.
void HttpConnection::beginHead() {
  if (head_started_) return;
  head_started_ = true;
  auto now = worker_.reactor().now();
  head_start_ = now;
  idle_timer_.disarm();
  headers_deadline_ =
      hcm_->request_headers_timeout.count() > 0 ? now + hcm_->request_headers_timeout : event::TimePoint{};
  request_deadline_ = hcm_->request_timeout.count() > 0 ? now + hcm_->request_timeout : event::TimePoint{};
  armHeadTimer();
}

void HttpConnection::onBodyData(std::string_view data) { stream_.decodeData(data, false); }

void HttpConnection::endRequestBody() {
  req_state_ = RequestState::Done;
  parser_.reset();
  stream_.decodeData({}, true);
}

void HttpConnection::resumeRequestBody() {
  process();
  flush();
}

// ---- local replies before a stream ----------------------------------------------------

void HttpConnection::protocolError(int status, std::string_view details) {
  stats_.inc(HcmStats::downstream_cx_protocol_error);
  replyBeforeHead(status, details, kDownstreamProtocolError);
}

// An answer to a request that cannot be read on: the connection closes after it.
void HttpConnection::replyBeforeHead(int status, std::string_view details, uint32_t flag) {
  close_after_response_ = true;
  head_started_ = false;
  headers_deadline_ = request_deadline_ = {};
  head_timer_.disarm();
  if (!stream_.active()) stream_.begin(head_start_ == event::TimePoint{} ? worker_.reactor().now() : head_start_);
  if (req_state_ != RequestState::Done) {
    req_state_ = RequestState::Done;
    if (!feeding_) parser_.reset();
  }
  std::string_view body = status == 400 ? "Bad Request" : status == 408 ? "request timeout" : "";
  stream_.rejectRequest(status, body, details, flag);
}

// ---- the response ---------------------------------------------------------------------

bool HttpConnection::closingAfterResponse() const {
  return close_after_response_ || !keep_alive_ || draining_ || worker_.drainClose();
}

void HttpConnection::encodeHeaders(const ResponseHead& head, bool end_stream) {
  Buffer& out = conn_->output();
  bool no_body = is_head_ || head.status == 204 || head.status == 304 || head.status < 200;
  if (!no_body && !head.content_length && !end_stream) {
    if (request_version_ == 11) {
      response_chunked_ = true;
    } else {
      response_close_delimited_ = true;
      close_after_response_ = true;
    }
  }
  // The request body has not been read when we answer early: closing is the only safe way
  // to find the next request's start.
  if (req_state_ != RequestState::Done) close_after_response_ = true;
  out.reserve(512 + head.headers.size() * 48);
  out.append(request_version_ == 10 ? "HTTP/1.0 " : "HTTP/1.1 ");
  out.appendDecimal(static_cast<unsigned>(head.status));
  out.append(' ');
  out.append(reasonPhrase(head.status));
  out.append("\r\n");
  for (const Header& h : head.headers) appendHeader(out, h.name, h.value);
  if (closingAfterResponse()) {
    out.append("connection: close\r\n");
  } else if (request_version_ == 10) {
    out.append("connection: keep-alive\r\n");
  }
  if (head.status == 204 || head.status == 304) {
    // no framing headers
  } else if (head.content_length) {
    out.append("content-length: ");
    out.appendDecimal(*head.content_length);
    out.append("\r\n");
  } else if (response_chunked_) {
    out.append("transfer-encoding: chunked\r\n");
  } else if (end_stream && head.status >= 200) {
    out.append("content-length: 0\r\n");
  }
  out.append("\r\n");
  if (end_stream) onResponseComplete();
}

void HttpConnection::encodeData(std::string_view data, bool end_stream) {
  last_activity_ = worker_.reactor().now();
  if (!is_head_) appendBody(conn_->output(), data, response_chunked_);
  if (end_stream) {
    if (response_chunked_) conn_->output().append("0\r\n\r\n");
    onResponseComplete();
    return;
  }
  if (conn_->aboveWriteLimit() || conn_->output().size() >= 64 * 1024) conn_->flush();
}

void HttpConnection::encodeTrailers(const std::vector<Header>& trailers) {
  // Forwarded in a chunked response only; otherwise HTTP/1.1 has no place for them.
  if (response_chunked_) {
    Buffer& out = conn_->output();
    out.append("0\r\n");
    for (const auto& t : trailers) appendHeader(out, t.name, t.value);
    out.append("\r\n");
  }
  onResponseComplete();
}

void HttpConnection::onResponseComplete() {
  response_chunked_ = false;
  if (req_state_ != RequestState::Done) {
    // Answered before the whole request arrived: the rest of the body cannot be skipped
    // reliably, so the connection closes after this response.
    close_after_response_ = true;
    req_state_ = RequestState::Done;
    if (!feeding_) parser_.reset();
  }
  finishStream();
  if (!destroyed_) process();  // a pipelined request may be waiting
}

void HttpConnection::resetStream() {
  if (!stream_.active()) return;
  close_after_response_ = true;
  finishStream();
  closeConnection();
}

void HttpConnection::onWriteDrained(net::Connection&) { stream_.onDownstreamWriteDrained(); }

void HttpConnection::upgradeTunnel(const ResponseHead& head, net::Connection& upstream) {
  Buffer& out = conn_->output();
  out.append("HTTP/1.1 101 Switching Protocols\r\n");
  for (const Header& h : head.headers) {
    if (equalsIgnoreCase(h.name, "connection") || equalsIgnoreCase(h.name, "upgrade") || !isHopByHop(h.name)) {
      appendHeader(out, h.name, h.value);
    }
  }
  out.append("\r\n");
  stats_.inc(HcmStats::downstream_cx_upgrades_total);
  stats_.inc(HcmStats::downstream_cx_upgrades_active);
  conn_->flush();
  relay_ = std::make_unique<network::Relay>(*conn_, upstream, *this);
  relay_->start();
}

void HttpConnection::onRelayActivity() { last_activity_ = worker_.reactor().now(); }

void HttpConnection::onRelayDone() {
  stats_.dec(HcmStats::downstream_cx_upgrades_active);
  stream_.info().bytes_received += relay_->bytesFromDownstream();
  stream_.info().bytes_sent += relay_->bytesFromUpstream();
  close_after_response_ = true;
  finishStream();
}

void HttpConnection::flush() {
  if (conn_) conn_->flush();
}

// ---- stream end -----------------------------------------------------------------------

void HttpConnection::finishStream() {
  if (!stream_.active()) return;
  stream_.finish();
  head_copy_.clear();
  if (closingAfterResponse()) {
    if (draining_ || worker_.drainClose()) stats_.inc(HcmStats::downstream_cx_drain_close);
    closeConnection();
    return;
  }
  if (hcm_->idle_timeout.count() > 0) idle_timer_.arm(hcm_->idle_timeout);
}

// ---- timers of an incomplete request head ------------------------------------------------

void HttpConnection::armHeadTimer() {
  event::TimePoint next{};
  auto consider = [&](event::TimePoint t) {
    if (t != event::TimePoint{} && (next == event::TimePoint{} || t < next)) next = t;
  };
  consider(request_deadline_);
  consider(headers_deadline_);
  if (hcm_->stream_idle_timeout.count() > 0) consider(last_activity_ + hcm_->stream_idle_timeout);
  if (next == event::TimePoint{}) {
    head_timer_.disarm();
  } else if (!head_timer_.armed() || head_timer_.deadline() != next) {
    head_timer_.armAt(next);
  }
}

void HttpConnection::onHeadTimer() {
  if (!head_started_ || stream_.active()) return;
  auto now = worker_.reactor().now();
  if (headers_deadline_ != event::TimePoint{} && now >= headers_deadline_) {
    stats_.inc(HcmStats::downstream_rq_header_timeout);
    replyBeforeHead(408, "request_header_timeout", 0);
  } else if (request_deadline_ != event::TimePoint{} && now >= request_deadline_) {
    stats_.inc(HcmStats::downstream_rq_timeout);
    replyBeforeHead(408, "request_overall_timeout", 0);
  } else if (hcm_->stream_idle_timeout.count() > 0 && now >= last_activity_ + hcm_->stream_idle_timeout) {
    stats_.inc(HcmStats::downstream_rq_idle_timeout);
    replyBeforeHead(408, "stream_idle_timeout", kStreamIdleTimeout);
  } else {
    armHeadTimer();
    return;
  }
  flush();
}

// ---- connection lifecycle ---------------------------------------------------------------

void HttpConnection::onEvent(net::Connection&, net::ConnectionEvent event) {
  if (event == net::ConnectionEvent::RemoteHalfClosed && stream_.active() && req_state_ == RequestState::Done &&
      !stream_.responseComplete()) {
    close_after_response_ = true;  // the client half-closed after its request: answer, then close
    return;
  }
  if (stream_.active() && !stream_.responseComplete()) {
    stream_.onDownstreamReset(kDownstreamConnectionTermination);
    close_after_response_ = true;
    finishStream();
  }
  closeConnection();
}

void HttpConnection::drain() {
  draining_ = true;
  if (!stream_.active()) closeConnection();
}

void HttpConnection::closeNow() {
  if (stream_.active() && !stream_.responseComplete()) stream_.onDownstreamReset(kLocalReset);
  if (conn_) conn_->output().clear();
  close_after_response_ = true;
  finishStream();
  closeConnection();
}

void HttpConnection::closeConnection() {
  if (destroyed_) return;
  destroyed_ = true;
  idle_timer_.disarm();
  head_timer_.disarm();
  if (stream_.active()) {
    stream_.onDownstreamReset(kDownstreamConnectionTermination);
    stream_.finish();  // its filters let go of the upstream before the relay goes
  }
  countConnectionClosed(stats_, *listener_stats_, *conn_);
  conn_->setCallbacks(nullptr);
  worker_.lingerClose(std::move(conn_));
  if (relay_) worker_.reactor().deferDelete(std::move(relay_));
  worker_.removeSession(this);
}

}  // namespace weft::proxy::http
