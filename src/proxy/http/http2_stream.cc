#include "proxy/http/http2_stream.h"

#include "proxy/http/http2_connection.h"

namespace weft::proxy::http {

Http2Stream::Http2Stream(Http2ServerConnection& parent, int32_t id)
    : parent_(parent),
      id_(id),
      stream_(parent.worker(), parent.hcm(), *this, parent.connection(), true),
      header_timer_(parent.worker().reactor(), [this] { onHeaderTimer(); }) {
  req_.version = 20;
  started_ = parent.worker().reactor().now();
  stream_.begin(started_);
  const HcmConfig& hcm = parent_.hcm();
  if (hcm.request_headers_timeout.count() > 0) headers_deadline_ = started_ + hcm.request_headers_timeout;
  armHeaderTimer();  // stream_idle_timeout and request_headers_timeout run from the first HEADERS frame
}

Http2Stream::~Http2Stream() { stream_.finish(); }

bool Http2Stream::closedPrematurely(std::chrono::milliseconds min_lifetime) const {
  if (refused_) return true;
  bool complete = response_end_sent_ && request_end_;
  const StreamInfo& info = const_cast<ActiveStream&>(stream_).info();
  return peer_reset_ && !complete && info.end - info.start < min_lifetime;
}

void Http2Stream::responseStarted() {
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
    stream_.info().response_flags |= kDownstreamProtocolError;
    stream_.info().response_code_details = headers_done_ ? "http2.trailers_too_large" : "http2.too_many_headers";
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
      if (n == ":method")
        req_.method = v;
      else if (n == ":path")
        req_.target = v;
      else if (n == ":authority")
        authority = v;
      else if (n == ":protocol")
        bad_request_ = true;  // extended CONNECT is not supported
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
  header_timer_.disarm();
  request_end_ = end_stream;
  buildRequestHead();
  if (bad_request_ || req_.method == "CONNECT") {
    stream_.rejectRequest(501, "", "extended_connect_not_supported", kDownstreamProtocolError, &req_);
  } else if (req_.host.empty()) {
    stream_.rejectRequest(400, "Bad Request", "missing_host_header", kDownstreamProtocolError, &req_);
  } else {
    stream_.decodeHeaders(req_, end_stream);
  }
  parent_.flush();
}

void Http2Stream::onRequestData(const uint8_t* data, size_t len) {
  if (stream_.answered()) {
    discardRequestData(len);  // answered already: the body is dropped
    return;
  }
  stream_.decodeData(std::string_view(reinterpret_cast<const char*>(data), len), false);
  // Acknowledge only what the stream takes: a slow upstream (or a filter holding the request)
  // slows this client.
  if (!stream_.wantsRequestBody()) {
    unconsumed_ += len;
  } else {
    nghttp2_session_consume(parent_.session(), id_, len);
  }
}

void Http2Stream::onRequestTrailers() {
  request_end_ = true;
  stream_.decodeTrailers(request_trailers_);
}

void Http2Stream::onRequestEnd() {
  request_end_ = true;
  stream_.decodeData({}, true);
}

void Http2Stream::resumeRequestBody() {
  if (unconsumed_ > 0) {
    nghttp2_session_consume(parent_.session(), id_, unconsumed_);
    unconsumed_ = 0;
  }
  parent_.flush();
}

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

// ---- response -------------------------------------------------------------------------------

void Http2Stream::submitResponse(NvList& nv, bool with_body) {
  nghttp2_data_provider prd{};
  prd.source.ptr = this;
  prd.read_callback = &Http2Stream::readResponseBody;
  nghttp2_submit_response(parent_.session(), id_, nv.data(), nv.size(), with_body ? &prd : nullptr);
}

void Http2Stream::encodeHeaders(const ResponseHead& head, bool end_stream) {
  responseStarted();
  thread_local NvList nv;
  nv.clear();
  char status[4];
  std::snprintf(status, sizeof(status), "%03d", head.status);
  nv.add(":status", std::string_view(status, 3));
  for (const Header& h : head.headers) nv.add(h.name, h.value);
  if (head.content_length) nv.add("content-length", std::to_string(*head.content_length));
  response_end_ = end_stream;
  if (end_stream && !request_end_) reset_after_response_ = true;
  submitResponse(nv, !end_stream);
  parent_.flush();
}

void Http2Stream::encodeData(std::string_view data, bool end_stream) {
  response_body_.append(data);
  if (end_stream) {
    response_end_ = true;
    // Answered before the request ended: the client's upload is stopped once the response is out.
    if (!request_end_) reset_after_response_ = true;
  }
  if (body_deferred_) {
    body_deferred_ = false;
    nghttp2_session_resume_data(parent_.session(), id_);
  }
  if (response_body_.size() > parent_.responseBufferLimit()) above_limit_ = true;
  parent_.flush();  // after this event batch: one write for every stream that got data
}

void Http2Stream::encodeTrailers(const std::vector<Header>& trailers) {
  for (const auto& t : trailers) response_trailers_.add(t.name, t.value);
  response_end_ = true;
  if (!request_end_) reset_after_response_ = true;
  if (body_deferred_) {
    body_deferred_ = false;
    nghttp2_session_resume_data(parent_.session(), id_);
  }
  parent_.flush();
}

bool Http2Stream::aboveWriteLimit() const { return above_limit_; }

void Http2Stream::flush() { parent_.flush(); }

void Http2Stream::onResponseEndSent() { response_end_sent_ = true; }

ssize_t Http2Stream::readResponseBody(nghttp2_session* session, int32_t id, uint8_t* buf, size_t length,
                                      uint32_t* flags, nghttp2_data_source* source, void*) {
  auto* self = static_cast<Http2Stream*>(source->ptr);
  ssize_t n = readBufferedBody(session, id, self->response_body_, self->response_end_, self->response_trailers_, buf,
                               length, flags, self->body_deferred_);
  if (self->above_limit_ && self->response_body_.size() <= self->parent_.responseBufferLimit() / 2) {
    self->above_limit_ = false;
    self->stream_.onDownstreamWriteDrained();
  }
  return n;
}

void Http2Stream::resetStream() {
  parent_.hcm().http2_stats->inc(Http2Stats::tx_reset);
  nghttp2_submit_rst_stream(parent_.session(), NGHTTP2_FLAG_NONE, id_, NGHTTP2_INTERNAL_ERROR);
  parent_.flush();
}

void Http2Stream::upgradeTunnel(const ResponseHead&, net::Connection&) {
  // Never asked for: HTTP/2 streams do not send Upgrade requests.
  stream_.resetStream(kUpstreamProtocolError);
}

// ---- timers and the end ---------------------------------------------------------------------

void Http2Stream::armHeaderTimer() {
  const HcmConfig& hcm = parent_.hcm();
  event::TimePoint next = headers_deadline_;
  if (hcm.stream_idle_timeout.count() > 0) {
    event::TimePoint idle = started_ + hcm.stream_idle_timeout;
    if (next == event::TimePoint{} || idle < next) next = idle;
  }
  if (next != event::TimePoint{}) header_timer_.armAt(next);
}

// The header block never ended: HTTP/2 allows nothing but its CONTINUATION frames on the
// connection meanwhile, so the whole connection is stuck. It goes, as Envoy's would.
void Http2Stream::onHeaderTimer() {
  if (closed_ || headers_done_) return;
  const HcmConfig& hcm = parent_.hcm();
  bool header_timeout =
      headers_deadline_ != event::TimePoint{} && parent_.worker().reactor().now() >= headers_deadline_;
  hcm.stats->inc(header_timeout ? HcmStats::downstream_rq_header_timeout : HcmStats::downstream_rq_idle_timeout);
  if (!header_timeout) stream_.info().response_flags |= kStreamIdleTimeout;
  stream_.info().response_code_details = header_timeout ? "request_header_timeout" : "stream_idle_timeout";
  parent_.abortWithGoaway(NGHTTP2_NO_ERROR);
}

void Http2Stream::onClose(uint32_t error_code) {
  if (closed_) return;
  closed_ = true;
  header_timer_.disarm();
  if (awaiting_response_) {
    awaiting_response_ = false;
    parent_.onStreamAnswered();
  }
  parent_.returnHeaderBytes(held_header_bytes_);
  held_header_bytes_ = 0;
  if (refused_) parent_.hcm().http2_stats->inc(Http2Stats::tx_reset);
  if (error_code != NGHTTP2_NO_ERROR && !(response_end_ && response_body_.empty())) {
    stream_.onDownstreamReset(kDownstreamConnectionTermination);
  }
  stream_.finish();
}

}  // namespace weft::proxy::http
