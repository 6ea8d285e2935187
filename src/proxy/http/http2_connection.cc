#include "proxy/http/http2_connection.h"

#include "proxy/http/stream_stats.h"
#include "proxy/server/worker.h"

namespace weft::proxy::http {

namespace {
nghttp2_session_callbacks* serverCallbacks();
}

Http2ServerConnection::Http2ServerConnection(server::Worker& worker, std::unique_ptr<net::Connection> conn,
                                             std::shared_ptr<const HcmConfig> hcm,
                                             std::shared_ptr<stats::Scope> listener_stats)
    : worker_(worker),
      worker_reactor_(worker.reactor()),
      conn_(std::move(conn)),
      hcm_(std::move(hcm)),
      listener_stats_(std::move(listener_stats)),
      stats_(*hcm_->stats),
      idle_timer_(worker.reactor(), [this] {
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
  nghttp2_session_server_new2(&session_, serverCallbacks(), this, opt);
  nghttp2_option_del(opt);
  submitSettings(session_, hcm_->http2);
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

void Http2ServerConnection::onData(net::Connection&) { receive(); flush(); }

void Http2ServerConnection::receive() {
  Buffer& in = conn_->input();
  in_receive_ = true;
  ssize_t n = nghttp2_session_mem_recv(session_, reinterpret_cast<const uint8_t*>(in.data()), in.size());
  in_receive_ = false;
  if (closed_) return;
  if (n < 0) {
    // A connection error: nghttp2 has queued GOAWAY; send it and close.
    stats_.inc(HcmStats::downstream_cx_protocol_error);
    writeNow();
    closeConnection();
    return;
  }
  in.drain(static_cast<size_t>(n));
  conn_->resumeReading();
}

void Http2ServerConnection::writeNow() {
  if (closed_) return;
  if (!sendPending(session_, *conn_)) {
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
  if (draining_ && streams_.empty() && !in_receive_ && conn_->output().empty() && !nghttp2_session_want_write(session_)) {
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

int Http2ServerConnection::onBeginHeaders(nghttp2_session*, const nghttp2_frame* frame, void* user) {
  auto* self = static_cast<Http2ServerConnection*>(user);
  if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
  self->idle_timer_.disarm();
  auto* s = new Http2Stream(*self, frame->hd.stream_id);
  self->streams_.push(s);
  nghttp2_session_set_stream_user_data(self->session_, frame->hd.stream_id, s);
  return 0;
}

int Http2ServerConnection::onHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
                                    const uint8_t* value, size_t valuelen, uint8_t, void* user) {
  auto* self = static_cast<Http2ServerConnection*>(user);
  if (auto* s = self->stream(frame->hd.stream_id)) {
    s->onHeader(std::string_view(reinterpret_cast<const char*>(name), namelen),
                std::string_view(reinterpret_cast<const char*>(value), valuelen));
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
  return 0;
}

int Http2ServerConnection::onFrameSend(nghttp2_session*, const nghttp2_frame* frame, void* user) {
  if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) && (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
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
