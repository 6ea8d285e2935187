#include "proxy/http/http_connection.h"

#include <boost/beast/http/error.hpp>

#include "common/uuid.h"
#include "proxy/http/grpc.h"
#include "proxy/http/http2_connection.h"
#include "proxy/http/request_encoder.h"
#include "proxy/http/response_encoder.h"
#include "proxy/http/router.h"
#include "proxy/http/stream_stats.h"
#include "proxy/network/listener_config.h"
#include "proxy/server/worker.h"

namespace weft::proxy::http {

using std::chrono::milliseconds;

namespace {
constexpr std::string_view kUpstreamFailurePrefix = "upstream connect error or disconnect/reset before headers. reset reason: ";
}

HttpConnection::HttpConnection(server::Worker& worker, std::unique_ptr<net::Connection> conn,
                               std::shared_ptr<const HcmConfig> hcm, std::shared_ptr<stats::Scope> listener_stats)
    : worker_(worker),
      conn_(std::move(conn)),
      hcm_(std::move(hcm)),
      listener_stats_(std::move(listener_stats)),
      stats_(*hcm_->stats),
      stream_timer_(worker.reactor(), [this] { onStreamTimer(); }),
      idle_timer_(worker.reactor(), [this] {
        stats_.inc(HcmStats::downstream_cx_idle_timeout);
        closeConnection();
      }) {
  info_.request_headers.resize(hcm_->capture.request.size());
  info_.response_headers.resize(hcm_->capture.response.size());
  info_.downstream_remote = &conn_->remoteAddress();
  info_.downstream_local = &conn_->localAddress();
}

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
  stream_timer_.disarm();
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
  flushBoth();
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
      if (stream_active_ || in.empty()) return false;
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
        protocolError(too_large ? 431 : 400, too_large ? details : ec.message());
        return false;
      }
      if (!parser_->is_header_done()) {
        in.drain(n);
        return n > 0;
      }
      onRequestHeaders();  // reads views into `in`
      if (destroyed_ || !conn_) return false;
      in.drain(n);
      if (req_state_ == RequestState::Done) onRequestComplete();
      return true;
    }
    case RequestState::Body: {
      if (in.empty()) {
        conn_->resumeReading();
        return false;
      }
      if (upstream_ && upstream_->aboveWriteLimit()) return false;  // resumes in onUpstreamWriteDrained
      ParseError ec;
      size_t n = parser_->feed(in.data(), in.size(), ec);
      if (ec == beast_http::error::need_more) {
        in.drain(n);
        return false;
      }
      if (ec) {
        protocolError(400, ec.message());
        return false;
      }
      in.drain(n);
      if (destroyed_) return false;
      if (parser_->is_done()) {
        onRequestComplete();
        return true;
      }
      return n > 0;
    }
    case RequestState::Done:
      if (stream_active_) return false;
      req_state_ = RequestState::Headers;
      return !in.empty();
  }
  return false;
}

void HttpConnection::onRequestHeaders() {
  auto now = worker_.reactor().now();
  stream_active_ = true;
  response_started_ = response_done_ = false;
  response_chunked_ = response_close_delimited_ = false;
  route_ = nullptr;
  vhost_ = nullptr;
  target_ = nullptr;
  cluster_ = nullptr;
  response_mutations_ = MutationChain{};
  info_.reset();
  info_.start = now;
  info_.start_time = std::chrono::system_clock::now();
  idle_timer_.disarm();
  stats_.inc(HcmStats::downstream_rq_total);
  stats_.inc(HcmStats::downstream_rq_http1_total);
  stats_.inc(HcmStats::downstream_rq_active);
  keep_alive_ = req_.keep_alive;
  request_version_ = req_.version;
  info_.protocol = req_.version == 10 ? "HTTP/1.0" : "HTTP/1.1";
  is_head_ = req_.method == "HEAD";
  parser_->eager(true);
  req_state_ = parser_->is_done() ? RequestState::Done : RequestState::Body;
  if (!info_.request_headers.empty()) captureRequestHeaders();

  head_started_ = false;
  headers_deadline_ = {};
  route_deadline_ = {};
  armStreamTimer();

  if (req_.version == 10 && !hcm_->accept_http_10) {
    close_after_response_ = true;
    localReply(426, "", 0, "low_version");
    return;
  }
  if (parser_->unsupportedTransferEncoding()) {
    protocolError(501, "unsupported_transfer_encoding");
    return;
  }
  if (req_.host.empty() && req_.version == 11) {
    protocolError(400, "missing_host_header");
    return;
  }
  if (req_.expect_continue && req_state_ == RequestState::Body) {
    conn_->output().append("HTTP/1.1 100 Continue\r\n\r\n");
  }
  generateRequestId();
  routeRequest(hostForRouting(*hcm_, req_.host, conn_->localAddress().port()));
}

void HttpConnection::routeRequest(std::string_view host) {
  RouteDecision d = decideRoute(worker_, *hcm_, req_, host, conn_->localAddress());
  rds_table_ = std::move(d.table);
  route_ = d.route;
  vhost_ = d.vhost;
  target_ = d.target;
  cluster_ = std::move(d.cluster);
  response_mutations_ = d.response_mutations;
  if (route_) info_.route_name = route_->name;
  if (target_) info_.upstream_cluster = target_->cluster;
  auto reply = [this](int status, std::string_view body, uint32_t flag, std::string_view details,
                      const MutationChain* mutations, std::string_view location) {
    localReply(status, body, flag, details, mutations, location);
  };
  if (replyWithoutUpstream(d, req_, conn_->tls() ? "https" : "http", stats_, reply)) return;
  std::string_view upgrade;
  if (req_.upgrade) {
    const std::string_view* u = req_.find("upgrade");
    if (u == nullptr || !hcm_->upgradeAllowed(*u)) {
      localReply(403, "", 0, "upgrade_failed");
      return;
    }
    upgrade = *u;
  }
  info_.upstream_host = d.host->address_string;
  info_.upstream_start = worker_.reactor().now();

  UpstreamHead head;
  head.req = &req_;
  head.hcm = hcm_.get();
  head.remote = &conn_->remoteAddress();
  head.scheme = conn_->tls() ? "https" : "http";
  head.mutations = d.request_mutations;
  head.upgrade = upgrade;
  route_timeout_ = requestTimeout(*route_, req_, grpc::isGrpc(req_));
  head.timeout = route_timeout_;
  head.chunked_body = req_.chunked;
  std::string rewritten = rewrittenPath(*route_, req_);
  head.path = rewritten.empty() ? req_.target : std::string_view(rewritten);
  head.path_rewritten = !rewritten.empty();
  head.host = route_->host_rewrite.empty() ? std::string_view(req_.host) : std::string_view(route_->host_rewrite);
  head.generated_request_id = generated_request_id_;

  upstream_ = newUpstreamStream(*this, *cluster_, std::move(d.host), worker_.reactor(), is_head_, response_head_,
                                false, req_.upgrade);
  upstream_->start();
  if (!upstream_) return;  // failed at once (circuit breaker overflow)
  request_body_open_ = req_.hasBody();
  upstream_->sendHeaders(head, !request_body_open_);
}

// The first byte of a request head: from here on the request's own timers run (as Envoy's
// stream starts with its first byte), not the connection's idle timeout, so a head that
// never completes is answered 408 and closed.
void HttpConnection::beginHead() {
  if (head_started_) return;
  head_started_ = true;
  auto now = worker_.reactor().now();
  idle_timer_.disarm();
  headers_deadline_ = hcm_->request_headers_timeout.count() > 0 ? now + hcm_->request_headers_timeout : event::TimePoint{};
  request_deadline_ = hcm_->request_timeout.count() > 0 ? now + hcm_->request_timeout : event::TimePoint{};
  armStreamTimer();
}

// Envoy's x-request-id rules: keep the client's id unless there is none, or this is the edge
// (use_remote_address) and external ids are not preserved.
void HttpConnection::generateRequestId() {
  generated_request_id_ = {};
  if (!hcm_->generate_request_id) return;
  const std::string_view* client_id = req_.find("x-request-id");
  bool regenerate = hcm_->use_remote_address && !hcm_->preserve_external_request_id;
  if (client_id != nullptr && !client_id->empty() && !regenerate) return;
  generated_request_id_ = uuid4(worker_.random(), request_id_buf_);
  for (size_t i = 0; i < hcm_->capture.request.size(); ++i) {
    if (hcm_->capture.request[i] == "x-request-id") {
      info_.request_headers[i].present = true;
      info_.request_headers[i].value.assign(generated_request_id_);
    }
  }
}

void HttpConnection::onBodyData(std::string_view data) {
  info_.bytes_received += data.size();
  if (upstream_) upstream_->sendData(data, false);
}

void HttpConnection::onRequestComplete() {
  req_state_ = RequestState::Done;
  parser_.reset();
  if (!stream_active_) return;  // answered locally already
  request_deadline_ = {};
  if (upstream_) {
    if (request_body_open_) upstream_->sendData({}, true);
    request_body_open_ = false;
    if (route_ && route_timeout_.count() > 0 && !response_done_) {
      route_deadline_ = worker_.reactor().now() + route_timeout_;
    }
  }
  armStreamTimer();
  if (response_done_) finishStream();
}

// ---- local replies --------------------------------------------------------------------

void HttpConnection::protocolError(int status, std::string_view details) {
  stats_.inc(HcmStats::downstream_cx_protocol_error);
  replyBeforeHead(status, details, kDownstreamProtocolError);
}

// An answer to a request whose head is not (fully) in: the connection closes after it.
void HttpConnection::replyBeforeHead(int status, std::string_view details, uint32_t flag) {
  close_after_response_ = true;
  head_started_ = false;
  headers_deadline_ = {};
  if (!stream_active_) {
    stream_active_ = true;
    info_.reset();
    info_.start = worker_.reactor().now();
    info_.start_time = std::chrono::system_clock::now();
    stats_.inc(HcmStats::downstream_rq_total);
    stats_.inc(HcmStats::downstream_rq_active);
  }
  req_state_ = RequestState::Done;
  parser_.reset();
  if (upstream_) {
    upstream_->abort();
    worker_.reactor().deferDelete(std::move(upstream_));
  }
  if (response_started_) {
    abortStream(flag);
    return;
  }
  std::string_view body = status == 400 ? "Bad Request" : status == 408 ? "request timeout" : "";
  localReply(status, body, flag, details);
}

void HttpConnection::localReply(int status, std::string_view body, uint32_t flag, std::string_view details,
                                const MutationChain* mutations, std::string_view location) {
  if (response_started_) {
    abortStream(flag);
    return;
  }
  info_.response_flags |= flag;
  info_.response_code = status;
  info_.response_code_details = details;
  response_started_ = true;
  Buffer& out = conn_->output();
  out.append("HTTP/1.1 ");
  out.appendDecimal(static_cast<unsigned>(status));
  out.append(' ');
  out.append(reasonPhrase(status));
  out.append("\r\n");
  if (!location.empty()) appendHeader(out, "location", location);
  out.append("content-length: ");
  out.appendDecimal(body.size());
  out.append("\r\n");
  if (!body.empty()) out.append("content-type: text/plain\r\n");
  appendHeader(out, "date", worker_.httpDate());
  appendHeader(out, "server", hcm_->server_name);
  if (mutations) mutations->appendAdditions(out, [](std::string_view) { return false; });
  // The request body has not been read when we answer early: closing is the only safe way
  // to find the next request's start.
  if (req_state_ != RequestState::Done) close_after_response_ = true;
  if (closingAfterResponse()) out.append("connection: close\r\n");
  out.append("\r\n");
  if (!is_head_) out.append(body);
  info_.bytes_sent += body.size();
  countDownstreamResponse(stats_, status);
  response_done_ = true;
  if (upstream_) {
    upstream_->abort();
    worker_.reactor().deferDelete(std::move(upstream_));
  }
  if (req_state_ != RequestState::Done) {
    req_state_ = RequestState::Done;
    parser_.reset();
  }
  finishStream();
}

// ---- upstream response ----------------------------------------------------------------

void HttpConnection::onUpstreamFailure(uint32_t flag, std::string_view reason) {
  if (upstream_) worker_.reactor().deferDelete(std::move(upstream_));
  std::string body(kUpstreamFailurePrefix);
  body += reason;
  info_.transport_failure = reason;
  localReply(503, body, flag, upstreamFailureDetails(flag));
  flushBoth();
}

void HttpConnection::onUpstreamHeaders(const ResponseHead& head, bool) {
  info_.first_upstream_byte = worker_.reactor().now();
  response_started_ = true;
  info_.response_code = head.status;
  info_.response_code_details = "via_upstream";
  encodeResponseHead(head);
  countDownstreamResponse(stats_, head.status);
  countUpstreamResponse(cluster_.get(), head.status);
}

bool HttpConnection::closingAfterResponse() const {
  return close_after_response_ || !keep_alive_ || draining_ || worker_.drainClose();
}

void HttpConnection::encodeResponseHead(const ResponseHead& head) {
  Buffer& out = conn_->output();
  bool no_body = is_head_ || head.status == 204 || head.status == 304 || head.status < 200;
  if (!no_body && !head.content_length) {
    if (request_version_ == 11) {
      response_chunked_ = true;
    } else {
      response_close_delimited_ = true;
      close_after_response_ = true;
    }
  }
  out.reserve(512 + head.headers.size() * 48);
  out.append(request_version_ == 10 ? "HTTP/1.0 " : "HTTP/1.1 ");
  out.appendDecimal(static_cast<unsigned>(head.status));
  out.append(' ');
  out.append(reasonPhrase(head.status));
  out.append("\r\n");
  char service_time[24];
  ResponseExtras extras{hcm_->server_name, worker_.httpDate(), {}};
  if (!hcm_->suppress_envoy_headers) {
    auto ms = std::chrono::duration_cast<milliseconds>(worker_.reactor().now() - info_.upstream_start).count();
    extras.service_time = std::string_view(service_time, static_cast<size_t>(std::snprintf(service_time, sizeof(service_time), "%lld", static_cast<long long>(ms))));
  }
  forEachResponseHeader(head, response_mutations_, extras, [&](std::string_view n, std::string_view v) { appendHeader(out, n, v); });
  if (closingAfterResponse()) {
    out.append("connection: close\r\n");
  } else if (request_version_ == 10) {
    out.append("connection: keep-alive\r\n");
  }
  if (head.content_length && !(head.status == 204 || head.status == 304)) {
    out.append("content-length: ");
    out.appendDecimal(*head.content_length);
    out.append("\r\n");
  } else if (response_chunked_) {
    out.append("transfer-encoding: chunked\r\n");
  }
  out.append("\r\n");
  if (!info_.response_headers.empty()) {
    for (size_t i = 0; i < hcm_->capture.response.size(); ++i) {
      const std::string_view* v = head.find(hcm_->capture.response[i]);
      if (v) {
        info_.response_headers[i].present = true;
        info_.response_headers[i].value.assign(*v);
      }
    }
  }
}

void HttpConnection::onUpstreamBody(std::string_view data) {
  last_activity_ = worker_.reactor().now();
  info_.bytes_sent += data.size();
  appendBody(conn_->output(), data, response_chunked_);
  if (conn_->aboveWriteLimit() || conn_->output().size() >= 64 * 1024) {
    conn_->flush();
    if (conn_->aboveWriteLimit() && upstream_) upstream_->readDisable(true);
  }
}

void HttpConnection::onUpstreamComplete() {
  if (response_chunked_) conn_->output().append("0\r\n\r\n");
  response_done_ = true;
  route_deadline_ = {};
  releaseUpstream(req_state_ == RequestState::Done);
  if (req_state_ != RequestState::Done) {
    // The upstream answered before the whole request arrived: the rest of the body
    // cannot be skipped reliably, so the connection closes after this response.
    close_after_response_ = true;
    req_state_ = RequestState::Done;
    parser_.reset();
  }
  finishStream();
  process();  // a pipelined request may be waiting
  flushBoth();
}

void HttpConnection::releaseUpstream(bool reusable) {
  if (!upstream_) return;
  upstream_->release(reusable);
  worker_.reactor().deferDelete(std::move(upstream_));
}

void HttpConnection::onUpstreamTrailers(const std::vector<Header>& trailers) {
  // Forwarded in a chunked response only; otherwise HTTP/1.1 has no place for them.
  if (!response_chunked_) return;
  Buffer& out = conn_->output();
  out.append("0\r\n");
  for (const auto& t : trailers) appendHeader(out, t.name, t.value);
  out.append("\r\n");
  response_chunked_ = false;  // the terminating chunk is written
}

void HttpConnection::onUpstreamResetAfterHeaders() {
  if (upstream_) worker_.reactor().deferDelete(std::move(upstream_));
  abortStream(kUpstreamConnectionTermination);
}

void HttpConnection::onUpstreamDataDone() { flushBoth(); }

void HttpConnection::onUpstreamWriteDrained() {
  process();
  flushBoth();
}

void HttpConnection::onWriteDrained(net::Connection&) {
  if (upstream_) upstream_->readDisable(false);
}

void HttpConnection::onUpstreamUpgraded(const ResponseHead& head) {
  response_started_ = true;
  info_.response_code = head.status;
  info_.first_upstream_byte = worker_.reactor().now();
  Buffer& out = conn_->output();
  out.append("HTTP/1.1 101 Switching Protocols\r\n");
  for (const Header& h : head.headers) {
    if (equalsIgnoreCase(h.name, "connection") || equalsIgnoreCase(h.name, "upgrade") ||
        !isHopByHop(h.name)) {
      appendHeader(out, h.name, h.value);
    }
  }
  out.append("\r\n");
  countDownstreamResponse(stats_, 101);
  stats_.inc(HcmStats::downstream_cx_upgrades_total);
  stats_.inc(HcmStats::downstream_cx_upgrades_active);
  stream_timer_.disarm();
  route_deadline_ = request_deadline_ = {};
  conn_->flush();
  relay_ = std::make_unique<network::Relay>(*conn_, *upstream_->tunnelConnection(), *this);
  relay_->start();
}

void HttpConnection::onRelayActivity() { last_activity_ = worker_.reactor().now(); }

void HttpConnection::onRelayDone() {
  stats_.dec(HcmStats::downstream_cx_upgrades_active);
  info_.bytes_received += relay_->bytesFromDownstream();
  info_.bytes_sent += relay_->bytesFromUpstream();
  response_done_ = true;
  close_after_response_ = true;
  finishStream();
}

// ---- stream end -----------------------------------------------------------------------


void HttpConnection::captureRequestHeaders() {
  const auto& names = hcm_->capture.request;
  for (size_t i = 0; i < names.size(); ++i) {
    const std::string_view* v = requestHeader(req_, names[i], "http");
    auto& slot = info_.request_headers[i];
    slot.present = v != nullptr;
    if (v) slot.value.assign(*v);
  }
}

void HttpConnection::finishStream() {
  if (!stream_active_) return;
  stream_active_ = false;
  info_.end = worker_.reactor().now();
  stats_.dec(HcmStats::downstream_rq_active);
  stats_.inc(HcmStats::downstream_rq_completed);
  for (const auto& logger : hcm_->access_logs) worker_.writeAccessLog(*logger, info_);
  stream_timer_.disarm();
  route_deadline_ = request_deadline_ = {};
  if (closingAfterResponse()) {
    if (draining_ || worker_.drainClose()) stats_.inc(HcmStats::downstream_cx_drain_close);
    closeConnection();
    return;
  }
  if (hcm_->idle_timeout.count() > 0) idle_timer_.arm(hcm_->idle_timeout);
}

void HttpConnection::abortStream(uint32_t flag) {
  info_.response_flags |= flag;
  if (flag == kDownstreamConnectionTermination) stats_.inc(HcmStats::downstream_rq_rx_reset);
  else stats_.inc(HcmStats::downstream_rq_tx_reset);
  if (upstream_) {
    upstream_->abort();
    worker_.reactor().deferDelete(std::move(upstream_));
  }
  if (stream_active_) {
    response_done_ = true;
    close_after_response_ = true;
    finishStream();
  }
  closeConnection();
}

// ---- timers ---------------------------------------------------------------------------

void HttpConnection::armStreamTimer() {
  event::TimePoint next{};
  auto consider = [&](event::TimePoint t) {
    if (t != event::TimePoint{} && (next == event::TimePoint{} || t < next)) next = t;
  };
  consider(route_deadline_);
  consider(request_deadline_);
  consider(headers_deadline_);
  if (hcm_->stream_idle_timeout.count() > 0) consider(last_activity_ + hcm_->stream_idle_timeout);
  if (next == event::TimePoint{}) {
    stream_timer_.disarm();
  } else if (!stream_timer_.armed() || stream_timer_.deadline() != next) {
    stream_timer_.armAt(next);
  }
}

void HttpConnection::onStreamTimer() {
  if (!stream_active_ && !head_started_) return;
  auto now = worker_.reactor().now();
  if (headers_deadline_ != event::TimePoint{} && now >= headers_deadline_) {
    stats_.inc(HcmStats::downstream_rq_header_timeout);
    replyBeforeHead(408, "request_header_timeout", 0);
  } else if (!stream_active_ && request_deadline_ != event::TimePoint{} && now >= request_deadline_) {
    stats_.inc(HcmStats::downstream_rq_timeout);
    replyBeforeHead(408, "request_overall_timeout", 0);
  } else if (!stream_active_ && hcm_->stream_idle_timeout.count() > 0 &&
             now >= last_activity_ + hcm_->stream_idle_timeout) {
    stats_.inc(HcmStats::downstream_rq_idle_timeout);
    replyBeforeHead(408, "stream_idle_timeout", kStreamIdleTimeout);
  } else if (!stream_active_) {
    armStreamTimer();
    return;
  } else if (route_deadline_ != event::TimePoint{} && now >= route_deadline_) {
    stats_.inc(HcmStats::downstream_rq_timeout);
    if (cluster_) cluster_->stats().inc(upstream::ClusterStats::upstream_rq_timeout);
    if (upstream_) {
      upstream_->abort();
      worker_.reactor().deferDelete(std::move(upstream_));
    }
    localReply(504, "upstream request timeout", kUpstreamRequestTimeout, "response_timeout");
  } else if (request_deadline_ != event::TimePoint{} && now >= request_deadline_) {
    stats_.inc(HcmStats::downstream_rq_timeout);
    localReply(408, "request timeout", 0, "request_overall_timeout");
  } else if (hcm_->stream_idle_timeout.count() > 0 && now >= last_activity_ + hcm_->stream_idle_timeout) {
    stats_.inc(HcmStats::downstream_rq_idle_timeout);
    localReply(408, "stream timeout", kStreamIdleTimeout, "stream_idle_timeout");
  } else {
    armStreamTimer();
    return;
  }
  flushBoth();
}

// ---- connection lifecycle ---------------------------------------------------------------

void HttpConnection::onEvent(net::Connection&, net::ConnectionEvent event) {
  if (event == net::ConnectionEvent::RemoteHalfClosed && stream_active_ && req_state_ == RequestState::Done &&
      !response_done_) {
    close_after_response_ = true;  // the client half-closed after its request: answer, then close
    return;
  }
  if (stream_active_ && !response_done_) {
    abortStream(kDownstreamConnectionTermination);
    return;
  }
  closeConnection();
}

void HttpConnection::flushBoth() {
  if (upstream_ && !relay_) upstream_->flush();
  if (conn_) conn_->flush();
}

void HttpConnection::drain() {
  draining_ = true;
  if (!stream_active_) closeConnection();
}

void HttpConnection::closeNow() {
  if (stream_active_ && !response_done_) info_.response_flags |= kLocalReset;
  if (upstream_) {
    upstream_->abort();
    worker_.reactor().deferDelete(std::move(upstream_));
  }
  if (conn_) conn_->output().clear();
  if (stream_active_) {
    response_done_ = true;
    close_after_response_ = true;
    finishStream();
  }
  closeConnection();
}

void HttpConnection::closeConnection() {
  if (destroyed_) return;
  destroyed_ = true;
  idle_timer_.disarm();
  stream_timer_.disarm();
  if (relay_ && upstream_) {
    upstream_->abort();
  }
  if (upstream_) {
    upstream_->abort();
    worker_.reactor().deferDelete(std::move(upstream_));
  }
  countConnectionClosed(stats_, *listener_stats_, *conn_);
  conn_->setCallbacks(nullptr);
  worker_.lingerClose(std::move(conn_));
  if (relay_) worker_.reactor().deferDelete(std::move(relay_));
  worker_.removeSession(this);
}

}  // namespace weft::proxy::http
