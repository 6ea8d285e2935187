#include "proxy/http/http2_connection.h"

#include <algorithm>

#include "proxy/http/stream_stats.h"
#include "proxy/worker_context.h"

namespace weft::proxy::http {

namespace {
nghttp2_session_callbacks* serverCallbacks();

// Streams awaiting their response on one connection; more are refused (REFUSED_STREAM). Envoy's
// circuit breakers allow 1024 requests per cluster, so more than that could not go anywhere.
constexpr uint32_t kMaxStreamsAwaitingResponse = 1024;
// Decoded header bytes all open streams of one connection may hold (each stream is limited by
// max_request_headers_kb too): HPACK lets a client name 60 KiB with a few bytes per stream.
constexpr size_t kConnectionHeaderBudget = 4 << 20;
// Response bytes held for one slow client, shared out among its streams (each gets 1 MiB at
// most and 16 KiB at least).
constexpr size_t kConnectionResponseBudget = 16 << 20;
// Envoy's premature-reset protection (overload.premature_reset_total_stream_count and
// premature_reset_min_stream_lifetime_seconds defaults): a stream reset by the client, or
// refused, within a second of its start is premature; when they are half of the connection's
// streams (counted from 500 streams, or 250 premature ones before that) the connection goes.
constexpr uint64_t kPrematureResetTotalStreamCount = 500;
constexpr auto kPrematureResetMinStreamLifetime = std::chrono::seconds(1);
// Header blocks past the limits one connection may send before it is closed. Each refused
// block must still be decoded whole (HPACK state), and a 16 KB frame of one-byte references
// costs milliseconds of CPU: a client that keeps doing it is not worth serving.
constexpr uint32_t kMaxHeaderOverflowsPerConnection = 4;

void appendGoaway(Buffer& out, int32_t last_stream_id, uint32_t error_code) {
  uint8_t f[17] = {0, 0, 8, NGHTTP2_GOAWAY, 0, 0, 0, 0, 0};
  auto put32 = [&](size_t at, uint32_t v) {
    f[at] = static_cast<uint8_t>(v >> 24);
    f[at + 1] = static_cast<uint8_t>(v >> 16);
    f[at + 2] = static_cast<uint8_t>(v >> 8);
    f[at + 3] = static_cast<uint8_t>(v);
  };
  put32(9, static_cast<uint32_t>(last_stream_id) & 0x7fffffffu);
  put32(13, error_code);
  out.append(std::string_view(reinterpret_cast<const char*>(f), sizeof(f)));
}
}  // namespace

Http2ServerConnection::Http2ServerConnection(WorkerContext& worker, std::unique_ptr<net::Connection> conn,
                                             std::shared_ptr<const HcmConfig> hcm,
                                             std::shared_ptr<stats::Scope> listener_stats)
    : worker_(worker),
      worker_reactor_(worker.reactor()),
      conn_(std::move(conn)),
      hcm_(std::move(hcm)),
      listener_stats_(std::move(listener_stats)),
      stats_(*hcm_->stats),
      idle_timer_(worker.reactor(),
                  [this] {
                    stats_.inc(HcmStats::downstream_cx_idle_timeout);
                    drain();
                  }),
      ping_timer_(worker.reactor(), [this] { sendPing(); }),
      ping_timeout_(worker.reactor(), [this] { closeConnection(); }) {
  nghttp2_option* opt;
  nghttp2_option_new(&opt);
  nghttp2_option_set_no_auto_window_update(opt, 1);
  // nghttp2 otherwise keeps closed streams for the (deprecated) priority tree, up to
  // SETTINGS_MAX_CONCURRENT_STREAMS of them: megabytes per busy connection.
  nghttp2_option_set_no_closed_streams(opt, 1);
  // Our encoder's table stays at 4 KiB whatever the client advertises.
  nghttp2_option_set_max_deflate_dynamic_table_size(opt, kHpackTableSize);
  // nghttp2's own rapid-reset limiter queues a GOAWAY yet keeps accepting streams until it is
  // sent; the premature-reset rule below closes such connections first, and cleanly.
  nghttp2_option_set_stream_reset_rate_limit(opt, UINT64_MAX / 2, UINT64_MAX / 2);
  nghttp2_session_server_new2(&session_, serverCallbacks(), this, opt);
  nghttp2_option_del(opt);
  submitSettings(session_, hcm_->http2, hcm_->max_request_headers_bytes);
}

Http2ServerConnection::~Http2ServerConnection() {
  while (Http2Stream* s = streams_.pop()) delete s;
  nghttp2_session_del(session_);
}

void Http2ServerConnection::start(bool handed_over) {
  if (!handed_over) {
    stats_.inc(HcmStats::downstream_cx_total);
    stats_.inc(HcmStats::downstream_cx_active);
  }
  stats_.inc(HcmStats::downstream_cx_http2_total);
  conn_->setCallbacks(this);
  armIdle();
  if (hcm_->http2.keepalive_interval.count() > 0) ping_timer_.arm(hcm_->http2.keepalive_interval);
  if (!conn_->input().empty()) receive();
  flush();
}

Http2Stream* Http2ServerConnection::stream(int32_t id) {
  return static_cast<Http2Stream*>(nghttp2_session_get_stream_user_data(session_, id));
}

void Http2ServerConnection::onData(net::Connection&) {
  receive();
  flush();
}

void Http2ServerConnection::receive() {
  Buffer& in = conn_->input();
  in_receive_ = true;
  ssize_t n = nghttp2_session_mem_recv(session_, reinterpret_cast<const uint8_t*>(in.data()), in.size());
  in_receive_ = false;
  if (closed_) return;
  if (n < 0 || aborting_) {
    fail(n);
    return;
  }
  in.drain(static_cast<size_t>(n));
  conn_->resumeReading();
}

// nghttp2 gave up on the session (a flood, a CONTINUATION flood, a bad preface) or a limit
// here asked to abort: nghttp2 queues no GOAWAY for its fatal errors, so it is written here.
void Http2ServerConnection::fail(ssize_t rv) {
  uint32_t code = abort_code_;
  if (!aborting_) {
    stats_.inc(HcmStats::downstream_cx_protocol_error);
    auto& h2 = *hcm_->http2_stats;
    switch (rv) {
      case NGHTTP2_ERR_FLOODED:
        h2.inc(Http2Stats::outbound_control_flood);
        code = NGHTTP2_ENHANCE_YOUR_CALM;
        break;
      case NGHTTP2_ERR_TOO_MANY_CONTINUATIONS:
        h2.inc(Http2Stats::too_many_header_frames);
        code = NGHTTP2_ENHANCE_YOUR_CALM;
        break;
      case NGHTTP2_ERR_HEADER_COMP:
        code = NGHTTP2_COMPRESSION_ERROR;
        break;
      case NGHTTP2_ERR_NOMEM:
      case NGHTTP2_ERR_CALLBACK_FAILURE:
        code = NGHTTP2_INTERNAL_ERROR;
        break;
      default:
        h2.inc(Http2Stats::rx_messaging_error);
        code = NGHTTP2_PROTOCOL_ERROR;
        break;
    }
  }
  aborting_ = true;
  conn_->output().reserve(conn_->output().size() + 17);
  appendGoaway(conn_->output(), nghttp2_session_get_last_proc_stream_id(session_), code);
  closeConnection();
}

void Http2ServerConnection::abortWithGoaway(uint32_t error_code) {
  if (closed_ || aborting_) return;
  aborting_ = true;
  abort_code_ = error_code;
  if (!in_receive_ && !in_send_) fail(0);  // else receive()/writeNow() do it once nghttp2 returns
}

void Http2ServerConnection::writeNow() {
  if (closed_) return;
  // nghttp2 has ended the session (a GOAWAY for a protocol error is queued): everything goes
  // out now, whatever the client reads, and the connection closes behind it.
  bool ending = !nghttp2_session_want_read(session_);
  in_send_ = true;
  bool ok = sendPending(session_, *conn_, ending);
  in_send_ = false;
  if (closed_) return;
  if (!ok || aborting_) {
    if (aborting_)
      fail(0);
    else
      closeConnection();
    return;
  }
  if (ending && !nghttp2_session_want_write(session_)) {
    closeConnection();
    return;
  }
  conn_->flush();
  if (closed_ || conn_->closed()) return;
  if (!nghttp2_session_want_read(session_) && !nghttp2_session_want_write(session_) && conn_->output().empty()) {
    closeConnection();
    return;
  }
  maybeFinishDrain();
}

bool Http2ServerConnection::takeHeaderBytes(size_t n) {
  if (header_bytes_ + n > kConnectionHeaderBudget) return false;
  header_bytes_ += n;
  return true;
}

size_t Http2ServerConnection::responseBufferLimit() const {
  size_t n = std::max<size_t>(streams_.size(), 1);
  return std::clamp<size_t>(kConnectionResponseBudget / n, 16 << 10, 1 << 20);
}

void Http2ServerConnection::countClosedStream(bool premature) {
  ++closed_streams_;
  if (!premature) return;
  ++premature_resets_;
  if (closed_streams_ < kPrematureResetTotalStreamCount) {
    if (premature_resets_ * 2 < kPrematureResetTotalStreamCount) return;
  } else if (premature_resets_ * 2 < closed_streams_) {
    return;
  }
  if (aborting_) return;
  stats_.inc(HcmStats::downstream_rq_too_many_premature_resets);
  abortWithGoaway(NGHTTP2_ENHANCE_YOUR_CALM);
}

void Http2ServerConnection::onWriteDrained(net::Connection&) { writeNow(); }

void Http2ServerConnection::onEvent(net::Connection&, net::ConnectionEvent event) {
  if (event == net::ConnectionEvent::RemoteHalfClosed && conn_->output().size() > 0) return;
  closeConnection();
}

void Http2ServerConnection::armIdle() {
  if (streams_.empty() && hcm_->idle_timeout.count() > 0) idle_timer_.arm(hcm_->idle_timeout);
}

void Http2ServerConnection::sendPing() {
  if (closed_) return;
  ping_timer_.arm(hcm_->http2.keepalive_interval);
  if (ping_timeout_.armed()) return;  // still waiting for the last PING's ACK: its deadline stands
  nghttp2_submit_ping(session_, NGHTTP2_FLAG_NONE, nullptr);
  ping_timeout_.arm(hcm_->http2.keepalive_timeout);
  flush();
}

void Http2ServerConnection::drain() {
  if (draining_ || closed_) return;
  draining_ = true;
  nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(session_),
                        NGHTTP2_NO_ERROR, nullptr, 0);
  flush();
}

void Http2ServerConnection::maybeFinishDrain() {
  if (draining_ && streams_.empty() && !in_receive_ && conn_->output().empty() &&
      !nghttp2_session_want_write(session_)) {
    stats_.inc(HcmStats::downstream_cx_drain_close);
    closeConnection();
  }
}

void Http2ServerConnection::closeNow() { closeConnection(); }

void Http2ServerConnection::closeConnection() {
  if (closed_) return;
  closed_ = true;
  idle_timer_.disarm();
  ping_timer_.disarm();
  ping_timeout_.disarm();
  while (Http2Stream* s = streams_.pop()) {
    nghttp2_session_set_stream_user_data(session_, s->id(), nullptr);
    s->onClose(NGHTTP2_CANCEL);
    worker_.reactor().deferDelete(std::unique_ptr<event::Deferrable>(s));
  }
  countConnectionClosed(stats_, *listener_stats_, *conn_);
  conn_->setCallbacks(nullptr);
  worker_.lingerClose(std::move(conn_));
  worker_.removeSession(this);
}

// ---- nghttp2 callbacks --------------------------------------------------------------------

int Http2ServerConnection::onBeginHeaders(nghttp2_session* session, const nghttp2_frame* frame, void* user) {
  auto* self = static_cast<Http2ServerConnection*>(user);
  if (self->aborting_) return NGHTTP2_ERR_CALLBACK_FAILURE;  // after our GOAWAY: nothing new
  if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
  if (self->awaiting_ >= kMaxStreamsAwaitingResponse || self->header_bytes_ >= kConnectionHeaderBudget) {
    // Refused before anything is kept; nghttp2 still decodes the block (HPACK state), unseen.
    self->hcm_->http2_stats->inc(Http2Stats::streams_refused);
    nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, frame->hd.stream_id, NGHTTP2_REFUSED_STREAM);
    self->countClosedStream(true);
    return self->aborting_ ? NGHTTP2_ERR_CALLBACK_FAILURE : 0;
  }
  self->idle_timer_.disarm();
  auto* s = new Http2Stream(*self, frame->hd.stream_id);
  self->streams_.push(s);
  ++self->awaiting_;
  nghttp2_session_set_stream_user_data(self->session_, frame->hd.stream_id, s);
  return 0;
}

int Http2ServerConnection::onHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
                                    const uint8_t* value, size_t valuelen, uint8_t, void* user) {
  auto* self = static_cast<Http2ServerConnection*>(user);
  if (self->aborting_) return NGHTTP2_ERR_CALLBACK_FAILURE;
  if (auto* s = self->stream(frame->hd.stream_id)) {
    if (!s->onHeader(std::string_view(reinterpret_cast<const char*>(name), namelen),
                     std::string_view(reinterpret_cast<const char*>(value), valuelen))) {
      // Past max_request_headers_kb / max_headers_count (or the connection's budget): nghttp2
      // resets the stream and skips the rest of the block, as Envoy's codec does.
      self->hcm_->http2_stats->inc(Http2Stats::header_overflow);
      if (++self->header_overflows_ > kMaxHeaderOverflowsPerConnection) {
        self->abortWithGoaway(NGHTTP2_ENHANCE_YOUR_CALM);
        return NGHTTP2_ERR_CALLBACK_FAILURE;  // stop decoding now
      }
      return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
  }
  return 0;
}

int Http2ServerConnection::onFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* user) {
  auto* self = static_cast<Http2ServerConnection*>(user);
  bool end = frame->hd.flags & NGHTTP2_FLAG_END_STREAM;
  switch (frame->hd.type) {
    case NGHTTP2_HEADERS: {
      auto* s = self->stream(frame->hd.stream_id);
      if (s == nullptr) break;
      if (frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
        s->onRequestHeaders(end);
      } else {
        s->onRequestTrailers();
      }
      break;
    }
    case NGHTTP2_DATA:
      if (end) {
        if (auto* s = self->stream(frame->hd.stream_id)) s->onRequestEnd();
      }
      break;
    case NGHTTP2_PING:
      if (frame->hd.flags & NGHTTP2_FLAG_ACK) self->ping_timeout_.disarm();
      break;
    case NGHTTP2_RST_STREAM:
      self->hcm_->http2_stats->inc(Http2Stats::rx_reset);
      if (auto* s = self->stream(frame->hd.stream_id)) s->onPeerReset();
      break;
    default:
      break;
  }
  return 0;
}

int Http2ServerConnection::onDataChunk(nghttp2_session* session, uint8_t, int32_t id, const uint8_t* data, size_t len,
                                       void* user) {
  auto* self = static_cast<Http2ServerConnection*>(user);
  if (auto* s = self->stream(id)) {
    s->onRequestData(data, len);
  } else {
    nghttp2_session_consume(session, id, len);
  }
  return 0;
}

int Http2ServerConnection::onStreamClose(nghttp2_session*, int32_t id, uint32_t error_code, void* user) {
  auto* self = static_cast<Http2ServerConnection*>(user);
  Http2Stream* s = self->stream(id);
  if (s == nullptr) return 0;
  self->streams_.remove(s);
  nghttp2_session_set_stream_user_data(self->session_, id, nullptr);
  s->onClose(error_code);
  self->worker_.reactor().deferDelete(std::unique_ptr<event::Deferrable>(s));
  self->armIdle();
  self->countClosedStream(s->closedPrematurely(kPrematureResetMinStreamLifetime));
  return self->aborting_ ? NGHTTP2_ERR_CALLBACK_FAILURE : 0;
}

int Http2ServerConnection::onFrameSend(nghttp2_session*, const nghttp2_frame* frame, void* user) {
  if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) &&
      (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
    if (auto* s = static_cast<Http2ServerConnection*>(user)->stream(frame->hd.stream_id)) s->onResponseEndSent();
  }
  return 0;
}

int Http2ServerConnection::onInvalidFrame(nghttp2_session*, const nghttp2_frame*, int, void* user) {
  static_cast<Http2ServerConnection*>(user)->stats_.inc(HcmStats::downstream_cx_protocol_error);
  return 0;
}

namespace {
nghttp2_session_callbacks* serverCallbacks() {
  static nghttp2_session_callbacks* cbs = [] {
    nghttp2_session_callbacks* c;
    nghttp2_session_callbacks_new(&c);
    nghttp2_session_callbacks_set_on_begin_headers_callback(c, &Http2ServerConnection::onBeginHeaders);
    nghttp2_session_callbacks_set_on_header_callback(c, &Http2ServerConnection::onHeader);
    nghttp2_session_callbacks_set_on_frame_recv_callback(c, &Http2ServerConnection::onFrameRecv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(c, &Http2ServerConnection::onDataChunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(c, &Http2ServerConnection::onStreamClose);
    nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(c, &Http2ServerConnection::onInvalidFrame);
    nghttp2_session_callbacks_set_on_frame_send_callback(c, &Http2ServerConnection::onFrameSend);
    return c;
  }();
  return cbs;
}
}  // namespace

}  // namespace weft::proxy::http
