#include "proxy/http/http2_stream.h"

#include <cstring>

#include "common/uuid.h"
#include "proxy/http/grpc.h"
#include "proxy/http/http2_connection.h"
#include "proxy/http/http2_options.h"
#include "proxy/http/response_encoder.h"
#include "proxy/http/stream_stats.h"
#include "proxy/server/worker.h"

namespace weft::proxy::http {

using std::chrono::milliseconds;

namespace {
constexpr std::string_view kUpstreamFailurePrefix =
    "upstream connect error or disconnect/reset before headers. reset reason: ";
}  // namespace


namespace {
int grpcStatusOf(std::string_view v) {
  auto n = v.size() <= 3 ? parseDecimal(v) : std::nullopt;
  return n ? static_cast<int>(*n) : -1;
}
}  // namespace

Http2Stream::Http2Stream(Http2ServerConnection& parent, int32_t id)
    : parent_(parent), id_(id), worker_(parent.worker()), timer_(parent.worker().reactor(), [this] { onTimer(); }) {
  const HcmConfig& hcm = parent_.hcm();
  info_.request_headers.resize(hcm.capture.request.size());
  info_.response_headers.resize(hcm.capture.response.size());
  info_.downstream_remote = &parent_.connection().remoteAddress();
  info_.downstream_local = &parent_.connection().localAddress();
  info_.protocol = "HTTP/2";
  info_.start = worker_.reactor().now();
  info_.start_time = std::chrono::system_clock::now();
  last_activity_ = info_.start;
  req_.version = 20;
  auto& stats = *hcm.stats;
  stats.inc(HcmStats::downstream_rq_total);
  stats.inc(HcmStats::downstream_rq_http2_total);
  stats.inc(HcmStats::downstream_rq_active);
  if (hcm.request_headers_timeout.count() > 0) headers_deadline_ = info_.start + hcm.request_headers_timeout;
  armTimer();  // stream_idle_timeout and request_headers_timeout run from the first HEADERS frame
}

Http2Stream::~Http2Stream() { abortUpstream(); }

bool Http2Stream::closedPrematurely(std::chrono::milliseconds min_lifetime) const {
  if (refused_) return true;
  bool complete = response_end_sent_ && request_end_;
  return peer_reset_ && !complete && info_.end - info_.start < min_lifetime;
}

void Http2Stream::responseStarted() {
  response_started_ = true;
  if (awaiting_response_) {
    awaiting_response_ = false;
    parent_.onStreamAnswered();
  }
}

void Http2Stream::collect(std::string_view name, std::string_view value) {
  spans_.push_back(Span{static_cast<uint32_t>(arena_.size()), static_cast<uint32_t>(name.size()),
                        static_cast<uint32_t>(arena_.size() + name.size()), static_cast<uint32_t>(value.size())});
  arena_.insert(arena_.end(), name.begin(), name.end());
  arena_.insert(arena_.end(), value.begin(), value.end());
}

// ---- request --------------------------------------------------------------------------------

bool Http2Stream::onHeader(std::string_view name, std::string_view value) {
  const HcmConfig& hcm = parent_.hcm();
  size_t n = name.size() + value.size();
  if (!header_limit_.add(n, hcm.max_request_headers_bytes, hcm.max_headers_count) || !parent_.takeHeaderBytes(n)) {
    refused_ = true;
    info_.response_flags |= kDownstreamProtocolError;
    info_.response_code_details = headers_done_ ? "http2.trailers_too_large" : "http2.too_many_headers";
    return false;
  }
  held_header_bytes_ += n;
  if (headers_done_) {
    trailer_strings_.emplace_back(name);
    std::string_view tn = trailer_strings_.back();
    trailer_strings_.emplace_back(value);
    request_trailers_.push_back({tn, trailer_strings_.back()});
    return true;
  }
  collect(name, value);
  return true;
}

void Http2Stream::buildRequestHead() {
  std::string_view arena(arena_.data(), arena_.size());
  std::string_view authority;
  req_.headers.reserve(spans_.size());
  for (const Span& sp : spans_) {
    std::string_view n = arena.substr(sp.name_at, sp.name_len);
    std::string_view v = arena.substr(sp.value_at, sp.value_len);
    if (!n.empty() && n[0] == ':') {
      if (n == ":method") req_.method = v;
      else if (n == ":path") req_.target = v;
      else if (n == ":authority") authority = v;
      else if (n == ":protocol") bad_request_ = true;  // extended CONNECT is not supported
      continue;
    }
    if (n == "host" && authority.empty()) authority = v;
    if (n == "content-length") {
      if (auto len = parseDecimal(v)) req_.content_length = *len;
    }
    req_.headers.push_back({n, v});
  }
  req_.host = authority;
  auto q = req_.target.find('?');
  req_.path = req_.target.substr(0, q);
  req_.query = q == std::string_view::npos ? std::string_view() : req_.target.substr(q + 1);
}

void Http2Stream::onRequestHeaders(bool end_stream) {
  headers_done_ = true;
  header_limit_ = {};  // trailers have limits of their own
  headers_deadline_ = {};
  request_end_ = end_stream;
  const HcmConfig& hcm = parent_.hcm();
  buildRequestHead();
  is_grpc_ = grpc::isGrpc(req_);
  if (!info_.request_headers.empty()) {
    for (size_t i = 0; i < hcm.capture.request.size(); ++i) {
      const std::string_view* v = requestHeader(req_, hcm.capture.request[i], "http");
      info_.request_headers[i].present = v != nullptr;
      if (v) info_.request_headers[i].value.assign(*v);
    }
  }
  if (bad_request_ || req_.method == "CONNECT") {
    localReply(501, "", kDownstreamProtocolError, "extended_connect_not_supported");
    return;
  }
  if (req_.host.empty()) {
    localReply(400, "Bad Request", kDownstreamProtocolError, "missing_host_header");
    return;
  }
  // Envoy's x-request-id rules (see the HTTP/1 connection).
  if (hcm.generate_request_id) {
    const std::string_view* client_id = req_.find("x-request-id");
    bool regenerate = hcm.use_remote_address && !hcm.preserve_external_request_id;
    if (client_id == nullptr || client_id->empty() || regenerate) {
      generated_request_id_ = uuid4(worker_.random(), request_id_buf_);
    }
  }
  route();
  parent_.flush();
}

void Http2Stream::route() {
  const HcmConfig& hcm = parent_.hcm();
  net::Connection& conn = parent_.connection();
  decision_ = decideRoute(worker_, hcm, req_, hostForRouting(hcm, req_.host, conn.localAddress().port()), conn.localAddress());
  RouteDecision& d = decision_;
  if (d.route) info_.route_name = d.route->name;
  if (d.target) info_.upstream_cluster = d.target->cluster;
  auto reply = [this](int status, std::string_view body, uint32_t flag, std::string_view details,
                      const MutationChain* mutations, std::string_view location) {
    localReply(status, body, flag, details, mutations, location);
  };
  if (replyWithoutUpstream(d, req_, conn.tls() ? "https" : "http", *hcm.stats, reply)) return;
  info_.upstream_host = d.host->address_string;
  info_.upstream_start = worker_.reactor().now();
  route_timeout_ = requestTimeout(*d.route, req_, is_grpc_);

  UpstreamHead head;
  head.req = &req_;
  head.hcm = &hcm;
  head.remote = &conn.remoteAddress();
  head.scheme = conn.tls() ? "https" : "http";
  head.mutations = d.request_mutations;
  head.timeout = route_timeout_;
  // An HTTP/1.1 upstream needs framing for a body of unknown length.
  head.chunked_body = !request_end_ && !req_.content_length;
  std::string rewritten = rewrittenPath(*d.route, req_);
  head.path = rewritten.empty() ? req_.target : std::string_view(rewritten);
  head.path_rewritten = !rewritten.empty();
  head.host = d.route->host_rewrite.empty() ? req_.host : std::string_view(d.route->host_rewrite);
  head.generated_request_id = generated_request_id_;
  upstream_ = newUpstreamStream(*this, *d.cluster, std::move(d.host), worker_.reactor(), req_.method == "HEAD",
                                response_head_, true, false);
  upstream_->start();
  if (!upstream_) return;  // failed at once
  upstream_->sendHeaders(head, request_end_);
  if (upstream_) upstream_->flush();
  armTimer();
}

void Http2Stream::onRequestData(const uint8_t* data, size_t len) {
  last_activity_ = worker_.reactor().now();
  info_.bytes_received += len;
  nghttp2_session* session = parent_.session();
  if (!upstream_) {
    discardRequestData(len);  // answered already: the body is dropped
    return;
  }
  upstream_->sendData(std::string_view(reinterpret_cast<const char*>(data), len), false);
  upstream_->flush();
  // Acknowledge only what the upstream takes: a slow upstream slows this client.
  if (upstream_->aboveWriteLimit()) {
    unconsumed_ += len;
  } else {
    nghttp2_session_consume(session, id_, len);
  }
}

void Http2Stream::onRequestTrailers() {
  request_end_ = true;
  if (upstream_) {
    upstream_->sendTrailers(request_trailers_);
    upstream_->flush();
  }
  armTimer();
}

void Http2Stream::onRequestEnd() {
  request_end_ = true;
  if (upstream_) {
    upstream_->sendData({}, true);
    upstream_->flush();
  }
  armTimer();
}

void Http2Stream::onUpstreamWriteDrained() {
  if (unconsumed_ > 0) {
    nghttp2_session_consume(parent_.session(), id_, unconsumed_);
    unconsumed_ = 0;
  }
  parent_.flush();
}

// ---- response -------------------------------------------------------------------------------

void Http2Stream::submitResponse(NvList& nv, bool with_body) {
  nghttp2_data_provider prd{};
  prd.source.ptr = this;
  prd.read_callback = &Http2Stream::readResponseBody;
  nghttp2_submit_response(parent_.session(), id_, nv.data(), nv.size(), with_body ? &prd : nullptr);
}


void Http2Stream::onUpstreamHeaders(const ResponseHead& head, bool end_stream) {
  const HcmConfig& hcm = parent_.hcm();
  info_.first_upstream_byte = worker_.reactor().now();
  info_.response_code = head.status;
  info_.response_code_details = "via_upstream";
  responseStarted();
  countDownstreamResponse(*parent_.hcm().stats, head.status);
  countUpstreamResponse(decision_.cluster.get(), head.status);
  thread_local NvList nv;
  nv.clear();
  char status[4];
  std::snprintf(status, sizeof(status), "%03d", head.status);
  nv.add(":status", std::string_view(status, 3));
  char service_time[24];
  ResponseExtras extras{hcm.server_name, worker_.httpDate(), {}};
  if (!hcm.suppress_envoy_headers) {
    auto ms = std::chrono::duration_cast<milliseconds>(worker_.reactor().now() - info_.upstream_start).count();
    extras.service_time = std::string_view(
        service_time, static_cast<size_t>(std::snprintf(service_time, sizeof(service_time), "%lld", static_cast<long long>(ms))));
  }
  forEachResponseHeader(head, decision_.response_mutations, extras, [&](std::string_view n, std::string_view v) { nv.add(n, v); });
  if (head.content_length) nv.add("content-length", std::to_string(*head.content_length));
  for (size_t i = 0; i < hcm.capture.response.size(); ++i) {
    if (const std::string_view* v = head.find(hcm.capture.response[i])) {
      info_.response_headers[i].present = true;
      info_.response_headers[i].value.assign(*v);
    }
  }
  if (is_grpc_) {
    if (const std::string_view* g = head.find("grpc-status")) grpc_status_ = grpcStatusOf(*g);
  }
  response_end_ = end_stream;
  submitResponse(nv, !end_stream);
  parent_.flush();
}

void Http2Stream::onUpstreamBody(std::string_view data) {
  last_activity_ = worker_.reactor().now();
  info_.bytes_sent += data.size();
  response_body_.append(data);
  if (body_deferred_) {
    body_deferred_ = false;
    nghttp2_session_resume_data(parent_.session(), id_);
  }
  if (response_body_.size() > parent_.responseBufferLimit() && upstream_ && !upstream_paused_) {
    upstream_paused_ = true;
    upstream_->readDisable(true);
  }
  parent_.flush();  // after this event batch: one write for every stream that got data
}

void Http2Stream::onUpstreamTrailers(const std::vector<Header>& trailers) {
  for (const auto& t : trailers) {
    if (is_grpc_ && t.name == "grpc-status") grpc_status_ = grpcStatusOf(t.value);
    response_trailers_.add(t.name, t.value);
  }
}

void Http2Stream::onUpstreamComplete() {
  response_end_ = true;
  route_deadline_ = {};
  if (body_deferred_) {
    body_deferred_ = false;
    nghttp2_session_resume_data(parent_.session(), id_);
  }
  if (upstream_) {
    upstream_->release(request_end_);
    worker_.reactor().deferDelete(std::move(upstream_));
  }
  // Answered before the request ended: the client's upload is stopped once the response is out.
  if (!request_end_) reset_after_response_ = true;
  parent_.flush();
}

void Http2Stream::onUpstreamDataDone() { parent_.flush(); }

void Http2Stream::onResponseEndSent() { response_end_sent_ = true; }

// A client still uploading after its whole response went out: the rest is read and dropped; past
// 64 KiB it is told to stop with RST_STREAM(NO_ERROR) (RFC 9113 8.1). Not at once: some clients
// (curl 7.88) report a reset even after a complete response, and a small remainder is cheap.
void Http2Stream::discardRequestData(size_t len) {
  nghttp2_session_consume(parent_.session(), id_, len);
  if (!reset_after_response_ || !response_end_sent_) return;
  discarded_ += len;
  if (discarded_ > 64 * 1024) {
    reset_after_response_ = false;
    nghttp2_submit_rst_stream(parent_.session(), NGHTTP2_FLAG_NONE, id_, NGHTTP2_NO_ERROR);
    parent_.flush();
  }
}

ssize_t Http2Stream::readResponseBody(nghttp2_session* session, int32_t id, uint8_t* buf, size_t length,
                                      uint32_t* flags, nghttp2_data_source* source, void*) {
  auto* self = static_cast<Http2Stream*>(source->ptr);
  ssize_t n = readBufferedBody(session, id, self->response_body_, self->response_end_, self->response_trailers_, buf,
                               length, flags, self->body_deferred_);
  if (self->upstream_paused_ && self->response_body_.size() <= self->parent_.responseBufferLimit() / 2) {
    self->upstream_paused_ = false;
    if (self->upstream_) self->upstream_->readDisable(false);
  }
  return n;
}

// ---- local replies and failures --------------------------------------------------------------

void Http2Stream::localReply(int status, std::string_view body, uint32_t flag, std::string_view details,
                             const MutationChain* mutations, std::string_view location, int grpc_status) {
  abortUpstream();
  if (response_started_) {
    resetStream(flag, NGHTTP2_INTERNAL_ERROR);
    return;
  }
  const HcmConfig& hcm = parent_.hcm();
  responseStarted();
  response_end_ = true;
  info_.response_flags |= flag;
  info_.response_code_details = details;
  thread_local NvList nv;
  nv.clear();
  if (is_grpc_) {
    // Trailers-only: HTTP 200 and the error in grpc-status / grpc-message, as gRPC clients expect.
    info_.response_code = 200;
    countDownstreamResponse(*parent_.hcm().stats, 200);
    nv.add(":status", "200");
    nv.add("content-type", "application/grpc");
    grpc_status_ = grpc_status >= 0 ? grpc_status : grpc::statusForHttp(status);
    nv.add("grpc-status", std::to_string(grpc_status_));
    nv.add("grpc-message", body.empty() ? details : body);
    nv.add("server", hcm.server_name);
    nv.add("date", worker_.httpDate());
    submitResponse(nv, false);
  } else {
    info_.response_code = status;
    countDownstreamResponse(*parent_.hcm().stats, status);
    char code[4];
    std::snprintf(code, sizeof(code), "%03d", status);
    nv.add(":status", std::string_view(code, 3));
    if (!location.empty()) nv.add("location", location);
    nv.add("content-length", std::to_string(body.size()));
    if (!body.empty()) nv.add("content-type", "text/plain");
    nv.add("date", worker_.httpDate());
    nv.add("server", hcm.server_name);
    if (mutations) mutations->forEachAddition([](std::string_view) { return false; }, [&](std::string_view n, std::string_view v) { nv.add(n, v); });
    bool with_body = !body.empty() && req_.method != "HEAD";
    if (with_body) response_body_.append(body);
    info_.bytes_sent += with_body ? body.size() : 0;
    submitResponse(nv, with_body);
  }
  if (!request_end_) reset_after_response_ = true;
  parent_.flush();
}

void Http2Stream::onUpstreamFailure(uint32_t flag, std::string_view reason) {
  if (upstream_) worker_.reactor().deferDelete(std::move(upstream_));
  std::string body(kUpstreamFailurePrefix);
  body += reason;
  info_.transport_failure = reason;
  localReply(503, body, flag, upstreamFailureDetails(flag));
}

void Http2Stream::onUpstreamResetAfterHeaders() {
  if (upstream_) worker_.reactor().deferDelete(std::move(upstream_));
  resetStream(kUpstreamConnectionTermination, NGHTTP2_INTERNAL_ERROR);
}

void Http2Stream::onUpstreamUpgraded(const ResponseHead&) {
  // Never asked for: HTTP/2 streams do not send Upgrade requests.
  resetStream(kUpstreamProtocolError, NGHTTP2_INTERNAL_ERROR);
}

void Http2Stream::resetStream(uint32_t flag, uint32_t error_code) {
  info_.response_flags |= flag;
  parent_.hcm().stats->inc(HcmStats::downstream_rq_tx_reset);
  parent_.hcm().http2_stats->inc(Http2Stats::tx_reset);
  abortUpstream();
  nghttp2_submit_rst_stream(parent_.session(), NGHTTP2_FLAG_NONE, id_, error_code);
  parent_.flush();
}

void Http2Stream::abortUpstream() {
  if (!upstream_) return;
  upstream_->abort();
  worker_.reactor().deferDelete(std::move(upstream_));
}

// ---- timers and the end ---------------------------------------------------------------------

void Http2Stream::armTimer() {
  const HcmConfig& hcm = parent_.hcm();
  if (request_end_ && route_timeout_.count() > 0 && route_deadline_ == event::TimePoint{} && !response_end_) {
    route_deadline_ = worker_.reactor().now() + route_timeout_;
  }
  event::TimePoint next = route_deadline_;
  auto consider = [&](event::TimePoint t) {
    if (t != event::TimePoint{} && (next == event::TimePoint{} || t < next)) next = t;
  };
  consider(headers_deadline_);
  if (hcm.stream_idle_timeout.count() > 0) consider(last_activity_ + hcm.stream_idle_timeout);
  if (next == event::TimePoint{}) {
    timer_.disarm();
  } else if (!timer_.armed() || timer_.deadline() != next) {
    timer_.armAt(next);
  }
}

void Http2Stream::onTimer() {
  if (closed_) return;
  const HcmConfig& hcm = parent_.hcm();
  auto now = worker_.reactor().now();
  if (!headers_done_ && ((headers_deadline_ != event::TimePoint{} && now >= headers_deadline_) ||
                         (hcm.stream_idle_timeout.count() > 0 && now >= last_activity_ + hcm.stream_idle_timeout))) {
    // The header block never ended: HTTP/2 allows nothing but its CONTINUATION frames on the
    // connection meanwhile, so the whole connection is stuck. It goes, as Envoy's would.
    bool header_timeout = headers_deadline_ != event::TimePoint{} && now >= headers_deadline_;
    hcm.stats->inc(header_timeout ? HcmStats::downstream_rq_header_timeout : HcmStats::downstream_rq_idle_timeout);
    if (!header_timeout) info_.response_flags |= kStreamIdleTimeout;
    info_.response_code_details = header_timeout ? "request_header_timeout" : "stream_idle_timeout";
    parent_.abortWithGoaway(NGHTTP2_NO_ERROR);
  } else if (route_deadline_ != event::TimePoint{} && now >= route_deadline_) {
    hcm.stats->inc(HcmStats::downstream_rq_timeout);
    if (decision_.cluster) decision_.cluster->stats().inc(upstream::ClusterStats::upstream_rq_timeout);
    localReply(504, "upstream request timeout", kUpstreamRequestTimeout, "response_timeout", nullptr, {},
               grpc::kDeadlineExceeded);
  } else if (hcm.stream_idle_timeout.count() > 0 && now >= last_activity_ + hcm.stream_idle_timeout) {
    hcm.stats->inc(HcmStats::downstream_rq_idle_timeout);
    localReply(408, "stream timeout", kStreamIdleTimeout, "stream_idle_timeout");
  } else {
    armTimer();
  }
}

void Http2Stream::onClose(uint32_t error_code) {
  if (closed_) return;
  closed_ = true;
  timer_.disarm();
  if (awaiting_response_) {
    awaiting_response_ = false;
    parent_.onStreamAnswered();
  }
  parent_.returnHeaderBytes(held_header_bytes_);
  held_header_bytes_ = 0;
  if (refused_) parent_.hcm().http2_stats->inc(Http2Stats::tx_reset);
  if (error_code != NGHTTP2_NO_ERROR && !(response_end_ && response_body_.empty())) {
    info_.response_flags |= kDownstreamConnectionTermination;
    parent_.hcm().stats->inc(HcmStats::downstream_rq_rx_reset);
  }
  abortUpstream();
  finish();
}

void Http2Stream::finish() {
  if (finished_) return;
  finished_ = true;
  const HcmConfig& hcm = parent_.hcm();
  info_.end = worker_.reactor().now();
  hcm.stats->dec(HcmStats::downstream_rq_active);
  hcm.stats->inc(HcmStats::downstream_rq_completed);
  for (const auto& logger : hcm.access_logs) worker_.writeAccessLog(*logger, info_);
  if (is_grpc_ && decision_.cluster) {
    stats::Scope& g = *decision_.cluster->config().grpc_stats;
    g.inc(upstream::GrpcStats::kTotal);
    g.inc(grpc_status_ == 0 ? upstream::GrpcStats::kSuccess : upstream::GrpcStats::kFailure);
    if (grpc_status_ >= 0 && grpc_status_ <= 16) g.inc(static_cast<size_t>(grpc_status_));
  }
}

}  // namespace weft::proxy::http
