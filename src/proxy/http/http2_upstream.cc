#include "proxy/http/http2_upstream.h"

#include <cstdlib>
#include <cstring>

#include "proxy/stream_info.h"

namespace weft::proxy::http {

using upstream::ClusterStats;
using upstream::HostStats;

namespace {
constexpr size_t kStreamBufferLimit = 1 << 20;  // request body held for one stream

nghttp2_session_callbacks* clientCallbacks();
}  // namespace

// ---- connection -------------------------------------------------------------------------

Http2ClientConnection::Http2ClientConnection(Http2ClientPool& pool, std::shared_ptr<const upstream::Host> host,
                                             std::string server_name, std::unique_ptr<net::Connection> conn)
    : pool_(pool),
      host_(std::move(host)),
      server_name_(std::move(server_name)),
      connect_timer_(pool.reactor(),
                     [this] {
                       pool_.cluster().stats().inc(ClusterStats::upstream_cx_connect_timeout);
                       pool_.cluster().stats().inc(ClusterStats::upstream_cx_connect_fail);
                       host_->stats->inc(HostStats::cx_connect_fail);
                       closeAll(kUpstreamConnectionFailure, "connection timeout");
                     }),
      idle_timer_(pool.reactor(), [this] {
        if (!streams_.empty()) return;
        bool old = conn_ && pool_.cluster().expired(*conn_);
        pool_.cluster().stats().inc(old           ? ClusterStats::upstream_cx_max_duration_reached
                                    : exhausted() ? ClusterStats::upstream_cx_max_requests
                                                  : ClusterStats::upstream_cx_idle_timeout);
        closeAll(0, "");
      }) {
  born_ = pool_.reactor().now();
  nghttp2_option* opt;
  nghttp2_option_new(&opt);
  nghttp2_option_set_no_auto_window_update(opt, 1);
  // nghttp2 otherwise keeps closed streams for the (deprecated) priority tree, up to
  // SETTINGS_MAX_CONCURRENT_STREAMS of them: megabytes per busy connection.
  nghttp2_option_set_no_closed_streams(opt, 1);
  nghttp2_option_set_max_deflate_dynamic_table_size(opt, kHpackTableSize);
  nghttp2_session_client_new2(&session_, clientCallbacks(), this, opt);
  nghttp2_option_del(opt);
  const auto& cfg = pool_.cluster().config();
  submitSettings(session_, cfg.http2, cfg.max_response_headers_bytes);
  if (conn) {
    conn_ = std::move(conn);
    conn_->setCallbacks(this);
    connected_ = true;
    if (!conn_->input().empty()) onData(*conn_);  // the peer's SETTINGS may have come with the handshake
    flush();
    return;
  }
  conn_ = pool_.cluster().connect(*host_, server_name_);
  conn_->setCallbacks(this);
  connect_timer_.arm(cfg.connect_timeout);
}

Http2ClientConnection::~Http2ClientConnection() {
  while (Http2UpstreamStream* s = streams_.pop()) s->conn_ = nullptr;
  if (conn_) pool_.cluster().destroy(*host_, std::move(conn_));
  nghttp2_session_del(session_);
}

bool Http2ClientConnection::acceptsStreams() const {
  return !closed_ && !goaway_ && streams_.size() < peer_max_streams_ && !exhausted() &&
         nghttp2_session_get_next_stream_id(session_) < (1u << 30);
}

bool Http2ClientConnection::submit(Http2UpstreamStream& stream, NvList& headers, bool end_stream) {
  nghttp2_data_provider prd{};
  prd.source.ptr = &stream;
  prd.read_callback = &Http2UpstreamStream::readBody;
  int32_t id =
      nghttp2_submit_request(session_, nullptr, headers.data(), headers.size(), end_stream ? nullptr : &prd, &stream);
  if (id < 0) return false;
  stream.id_ = id;
  streams_.push(&stream);
  ++streams_started_;
  idle_timer_.disarm();
  return true;
}

void Http2ClientConnection::reset(int32_t id) {
  if (closed_) return;
  nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
  flush();
}

void Http2ClientConnection::detach(Http2UpstreamStream& stream) {
  streams_.remove(&stream);
  if (stream.id_ > 0) nghttp2_session_set_stream_user_data(session_, stream.id_, nullptr);
  onStreamsGone();
}

bool Http2ClientConnection::exhausted() const {
  uint32_t max = pool_.cluster().config().max_requests_per_connection;
  return (max > 0 && streams_started_ >= max) || (conn_ && pool_.cluster().expired(*conn_));
}

void Http2ClientConnection::onStreamsGone() {
  if (!streams_.empty() || closed_) return;
  const auto& cfg = pool_.cluster().config();
  if (exhausted()) {
    idle_timer_.arm(std::chrono::milliseconds(0));  // not from inside nghttp2's callbacks
  } else if (cfg.idle_timeout.count() > 0 || cfg.max_connection_duration.count() > 0) {
    // Closes when idle_timeout passes, or max_connection_duration comes while idle.
    auto next = event::TimePoint::max();
    auto now = pool_.reactor().now();
    if (cfg.idle_timeout.count() > 0) next = now + cfg.idle_timeout;
    if (cfg.max_connection_duration.count() > 0) next = std::min(next, born_ + cfg.max_connection_duration);
    idle_timer_.armAt(next);
  }
}

Http2UpstreamStream* Http2ClientConnection::stream(int32_t id) {
  return static_cast<Http2UpstreamStream*>(nghttp2_session_get_stream_user_data(session_, id));
}

void Http2ClientConnection::flush() {
  if (!closed_) pool_.reactor().scheduleFlush(this);
}

void Http2ClientConnection::writeNow() {
  if (closed_ || !conn_) return;
  if (!sendPending(session_, *conn_)) {
    closeAll(kUpstreamProtocolError, "protocol error");
    return;
  }
  conn_->flush();
}

void Http2ClientConnection::onData(net::Connection& conn) {
  Buffer& in = conn.input();
  in_recv_ = true;
  ssize_t n = nghttp2_session_mem_recv(session_, reinterpret_cast<const uint8_t*>(in.data()), in.size());
  in_recv_ = false;
  if (n < 0) {
    closeAll(kUpstreamProtocolError, "protocol error");
    return;
  }
  in.drain(static_cast<size_t>(n));
  uint32_t remote_max = nghttp2_session_get_remote_settings(session_, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
  peer_max_streams_ = remote_max;
  flush();
  if (!nghttp2_session_want_read(session_) && !nghttp2_session_want_write(session_) && streams_.empty()) {
    closeAll(kUpstreamConnectionTermination, "connection termination");
  }
}

void Http2ClientConnection::onEvent(net::Connection&, net::ConnectionEvent event) {
  switch (event) {
    case net::ConnectionEvent::Connected:
      connected_ = true;
      connect_timer_.disarm();
      flush();
      return;
    case net::ConnectionEvent::ConnectFailed: {
      connect_timer_.disarm();
      pool_.cluster().stats().inc(ClusterStats::upstream_cx_connect_fail);
      host_->stats->inc(HostStats::cx_connect_fail);
      std::string reason = "connection failure";
      if (conn_ && !conn_->tlsError().empty()) reason += ", transport failure reason: TLS error: " + conn_->tlsError();
      closeAll(kUpstreamConnectionFailure, reason);
      return;
    }
    default:
      closeAll(kUpstreamConnectionTermination, "connection termination");
  }
}

void Http2ClientConnection::onWriteDrained(net::Connection&) { writeNow(); }

void Http2ClientConnection::closeAll(uint32_t flag, std::string_view reason) {
  if (closed_) return;
  closed_ = true;
  connect_timer_.disarm();
  while (Http2UpstreamStream* s = streams_.pop()) {
    s->conn_ = nullptr;
    s->onConnectionFailure(connected_ ? kUpstreamConnectionTermination : flag, reason);
  }
  pool_.remove(*this);
}

int Http2ClientConnection::onHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
                                    const uint8_t* value, size_t valuelen, uint8_t, void* user) {
  auto* self = static_cast<Http2ClientConnection*>(user);
  if (auto* s = self->stream(frame->hd.stream_id)) {
    // Past the limits the stream is reset (nghttp2 sends RST_STREAM) before more is kept.
    if (!s->onHeader(std::string_view(reinterpret_cast<const char*>(name), namelen),
                     std::string_view(reinterpret_cast<const char*>(value), valuelen))) {
      return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
  }
  return 0;
}

int Http2ClientConnection::onFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* user) {
  auto* self = static_cast<Http2ClientConnection*>(user);
  bool end = frame->hd.flags & NGHTTP2_FLAG_END_STREAM;
  switch (frame->hd.type) {
    case NGHTTP2_HEADERS:
      if (auto* s = self->stream(frame->hd.stream_id)) {
        s->onHeadersDone(frame->headers.cat == NGHTTP2_HCAT_HEADERS && s->headers_delivered_, end);
      }
      break;
    case NGHTTP2_DATA:
      if (end) {
        if (auto* s = self->stream(frame->hd.stream_id)) s->onHeadersDone(true, true);
      }
      break;
    case NGHTTP2_GOAWAY:
      self->goaway_ = true;
      break;
    default:
      break;
  }
  return 0;
}

int Http2ClientConnection::onDataChunk(nghttp2_session* session, uint8_t, int32_t id, const uint8_t* data, size_t len,
                                       void* user) {
  auto* self = static_cast<Http2ClientConnection*>(user);
  if (auto* s = self->stream(id)) {
    s->onBody(data, len);
  } else {
    nghttp2_session_consume(session, id, len);
  }
  return 0;
}

int Http2ClientConnection::onStreamClose(nghttp2_session*, int32_t id, uint32_t error_code, void* user) {
  auto* self = static_cast<Http2ClientConnection*>(user);
  Http2UpstreamStream* s = self->stream(id);
  if (s == nullptr) return 0;
  self->streams_.remove(s);
  s->conn_ = nullptr;
  s->onClosed(error_code);
  self->onStreamsGone();
  return 0;
}

namespace {
nghttp2_session_callbacks* clientCallbacks() {
  static nghttp2_session_callbacks* cbs = [] {
    nghttp2_session_callbacks* c;
    nghttp2_session_callbacks_new(&c);
    nghttp2_session_callbacks_set_on_header_callback(c, &Http2ClientConnection::onHeader);
    nghttp2_session_callbacks_set_on_frame_recv_callback(c, &Http2ClientConnection::onFrameRecv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(c, &Http2ClientConnection::onDataChunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(c, &Http2ClientConnection::onStreamClose);
    return c;
  }();
  return cbs;
}
}  // namespace

// ---- stream -------------------------------------------------------------------------------

Http2UpstreamStream::Http2UpstreamStream(UpstreamCallbacks& cb, upstream::WorkerCluster& cluster,
                                         std::shared_ptr<const upstream::Host> host, Http2ClientPool& pool,
                                         ResponseHead& head, std::string server_name)
    : cb_(cb),
      cluster_(cluster),
      host_(std::move(host)),
      pool_(pool),
      head_(head),
      server_name_(std::move(server_name)) {}

Http2UpstreamStream::~Http2UpstreamStream() { abort(); }

const net::Address* Http2UpstreamStream::localAddress() const { return conn_ ? conn_->localAddress() : nullptr; }

net::Connection* Http2UpstreamStream::connection() const { return conn_ ? conn_->connection() : nullptr; }

void Http2UpstreamStream::start() {
  if (!cluster_.limits().requests.tryAcquire()) {
    cluster_.stats().inc(ClusterStats::upstream_rq_pending_overflow);
    complete_ = true;
    host_->stats->inc(HostStats::rq_error);
    cb_.onUpstreamFailure(kUpstreamOverflow, "overflow");
    return;
  }
  holds_request_ = true;
  active_ = true;
  cluster_.stats().inc(ClusterStats::upstream_rq_total);
  cluster_.stats().inc(ClusterStats::upstream_rq_active);
  host_->stats->inc(HostStats::rq_total);
  host_->stats->inc(HostStats::rq_active);
  head_.clear();
  conn_ = pool_.connectionFor(host_, server_name_);
  if (conn_ == nullptr) onConnectionFailure(kUpstreamOverflow, "overflow");
}

void Http2UpstreamStream::sendHeaders(const UpstreamHead& h, bool end_stream) {
  if (conn_ == nullptr) return;
  thread_local NvList nv;
  thread_local std::string scratch;
  nv.clear();
  nv.addStatic(":method", h.req->method);
  nv.addStatic(":scheme", conn_ && pool_.cluster().config().tls ? "https" : "http");
  nv.addStatic(":authority", h.host);
  nv.addStatic(":path", h.path);
  forEachUpstreamHeader(h, scratch, [&](std::string_view n, std::string_view v) { nv.add(n, v); });
  if (h.req->content_length) nv.add("content-length", std::to_string(*h.req->content_length));
  body_end_ = end_stream;
  if (!conn_->submit(*this, nv, end_stream)) {
    Http2ClientConnection* c = conn_;
    conn_ = nullptr;
    (void)c;
    onConnectionFailure(kUpstreamConnectionFailure, "stream refused");
  }
}

void Http2UpstreamStream::sendData(std::string_view data, bool end_stream) {
  body_out_.append(data);
  if (end_stream) body_end_ = true;
  if (conn_ && body_deferred_) {
    body_deferred_ = false;
    conn_->resumeData(id_);
  }
}

void Http2UpstreamStream::sendTrailers(const std::vector<Header>& trailers) {
  for (const auto& t : trailers) trailers_out_.add(t.name, t.value);
  sendData({}, true);
}

void Http2UpstreamStream::flush() {
  if (conn_) conn_->flush();
}

bool Http2UpstreamStream::aboveWriteLimit() {
  if (body_out_.size() > kStreamBufferLimit) {
    was_above_limit_ = true;
    return true;
  }
  return false;
}

ssize_t Http2UpstreamStream::readBody(nghttp2_session* session, int32_t id, uint8_t* buf, size_t length,
                                      uint32_t* flags, nghttp2_data_source* source, void*) {
  auto* self = static_cast<Http2UpstreamStream*>(source->ptr);
  ssize_t n = readBufferedBody(session, id, self->body_out_, self->body_end_, self->trailers_out_, buf, length, flags,
                               self->body_deferred_);
  if (self->was_above_limit_ && self->body_out_.size() <= kStreamBufferLimit / 2) {
    self->was_above_limit_ = false;
    self->cb_.onUpstreamWriteDrained();
  }
  return n;
}

void Http2UpstreamStream::readDisable(bool disable) {
  read_disabled_ = disable;
  if (!disable && unconsumed_ > 0 && conn_) {
    conn_->consume(id_, unconsumed_);
    unconsumed_ = 0;
    conn_->flush();
  }
}

bool Http2UpstreamStream::onHeader(std::string_view name, std::string_view value) {
  const auto& cfg = cluster_.config();
  if (!header_limit_.add(name.size() + value.size(), cfg.max_response_headers_bytes, cfg.max_response_headers_count)) {
    header_overflow_ = true;
    return false;
  }
  if (headers_delivered_) {
    trailer_strings_.emplace_back(name);
    std::string_view n = trailer_strings_.back();
    trailer_strings_.emplace_back(value);
    trailers_in_.push_back({n, trailer_strings_.back()});
    return true;
  }
  spans_.push_back(Span{static_cast<uint32_t>(arena_.size()), static_cast<uint32_t>(name.size()),
                        static_cast<uint32_t>(arena_.size() + name.size()), static_cast<uint32_t>(value.size())});
  arena_.insert(arena_.end(), name.begin(), name.end());
  arena_.insert(arena_.end(), value.begin(), value.end());
  return true;
}

void Http2UpstreamStream::onHeadersDone(bool trailers, bool end_stream) {
  if (complete_) return;
  if (!headers_delivered_ && !trailers) {
    head_.clear();
    head_.headers.reserve(spans_.size());
    std::string_view arena(arena_.data(), arena_.size());
    for (const Span& sp : spans_) {
      std::string_view n = arena.substr(sp.name_at, sp.name_len);
      std::string_view v = arena.substr(sp.value_at, sp.value_len);
      if (n == ":status") {
        head_.status = static_cast<int>(parseDecimal(v).value_or(0));  // nghttp2 checked it is 3 digits
        continue;
      }
      if (n == "content-length") {
        if (auto len = parseDecimal(v)) head_.content_length = *len;
      }
      head_.headers.push_back({n, v});
    }
    header_limit_ = {};  // the next block (the real response, or trailers) has its own limits
    if (head_.status >= 100 && head_.status < 200) {  // interim: wait for the real response
      arena_.clear();
      spans_.clear();
      return;
    }
    headers_delivered_ = true;
    head_.version = 20;
    cb_.onUpstreamHeaders(head_, end_stream);
    if (end_stream) {
      complete_ = true;
      cb_.onUpstreamComplete();
    } else {
      cb_.onUpstreamDataDone();
    }
    return;
  }
  if (!trailers_in_.empty()) cb_.onUpstreamTrailers(trailers_in_);
  if (end_stream && !complete_) {
    complete_ = true;
    cb_.onUpstreamComplete();
  }
}

void Http2UpstreamStream::onBody(const uint8_t* data, size_t len) {
  cb_.onUpstreamBody(std::string_view(reinterpret_cast<const char*>(data), len));
  // Acknowledge (WINDOW_UPDATE) only what the downstream took: a slow reader slows the sender.
  if (read_disabled_) {
    unconsumed_ += len;
  } else if (conn_) {
    conn_->consume(id_, len);
  }
}

void Http2UpstreamStream::onClosed(uint32_t error_code) {
  if (complete_) return;
  if (error_code == NGHTTP2_NO_ERROR && headers_delivered_) {
    complete_ = true;
    cb_.onUpstreamComplete();
    return;
  }
  if (header_overflow_) {
    onConnectionFailure(kUpstreamProtocolError, "protocol error");
    return;
  }
  onConnectionFailure(kUpstreamConnectionTermination,
                      error_code == NGHTTP2_REFUSED_STREAM ? "remote refused stream reset" : "remote reset");
}

void Http2UpstreamStream::onConnectionFailure(uint32_t flag, std::string_view reason) {
  if (complete_) return;
  complete_ = true;
  finishRequestAccounting(false);
  if (headers_delivered_) {
    cluster_.stats().inc(ClusterStats::upstream_rq_rx_reset);
    cb_.onUpstreamResetAfterHeaders();
  } else {
    host_->stats->inc(HostStats::rq_error);
    cb_.onUpstreamFailure(flag, reason);
  }
}

void Http2UpstreamStream::finishRequestAccounting(bool success) {
  if (holds_request_) {
    holds_request_ = false;
    cluster_.limits().requests.release();
  }
  if (!active_) return;
  active_ = false;
  cluster_.stats().dec(ClusterStats::upstream_rq_active);
  host_->stats->dec(HostStats::rq_active);
  if (success) {
    cluster_.stats().inc(ClusterStats::upstream_rq_completed);
    host_->stats->inc(HostStats::rq_success);
  }
}

void Http2UpstreamStream::release(bool) {
  finishRequestAccounting(true);
  if (conn_) {
    // The response is complete; a request still sending its body is cut short (Envoy resets too).
    if (!body_end_ || !body_out_.empty()) conn_->reset(id_);
    conn_->detach(*this);
    conn_ = nullptr;
  }
}

void Http2UpstreamStream::abort() {
  finishRequestAccounting(false);
  complete_ = true;
  if (conn_) {
    Http2ClientConnection* c = conn_;
    conn_ = nullptr;
    c->detach(*this);
    c->reset(id_);
  }
}

// ---- pool ---------------------------------------------------------------------------------

Http2ClientPool::~Http2ClientPool() = default;

void Http2ClientPool::adopt(const std::shared_ptr<const upstream::Host>& host, const std::string& server_name,
                            std::unique_ptr<net::Connection> conn) {
  conns_[{host.get(), server_name}].push_back(
      std::make_unique<Http2ClientConnection>(*this, host, server_name, std::move(conn)));
}

Http2ClientConnection* Http2ClientPool::connectionFor(const std::shared_ptr<const upstream::Host>& host,
                                                      const std::string& server_name) {
  auto key = std::make_pair(host.get(), server_name);
  auto& list = conns_[key];
  for (auto& c : list) {
    if (c->acceptsStreams()) return c.get();
  }
  if (!cluster_.canConnect(*host, server_name)) {
    // At max_connections: the least busy open connection takes the stream (nghttp2 holds it
    // until the peer's stream limit allows); with none open, the request overflows.
    cluster_.stats().inc(upstream::ClusterStats::upstream_cx_overflow);
    Http2ClientConnection* best = nullptr;
    for (auto& c : list) {
      if (!c->closed() && !c->goingAway() && !c->exhausted() &&
          (best == nullptr || c->activeStreams() < best->activeStreams())) {
        best = c.get();
      }
    }
    if (best == nullptr) {
      cluster_.stats().inc(upstream::ClusterStats::upstream_rq_pending_overflow);
      if (list.empty()) conns_.erase(key);
    }
    return best;
  }
  list.push_back(std::make_unique<Http2ClientConnection>(*this, host, server_name));
  return list.back().get();
}

void Http2ClientPool::remove(Http2ClientConnection& conn) {
  auto it = conns_.find({&conn.host(), conn.serverName()});
  if (it == conns_.end()) return;
  auto& list = it->second;
  for (size_t i = 0; i < list.size(); ++i) {
    if (list[i].get() != &conn) continue;
    reactor_.deferDelete(std::move(list[i]));
    list.erase(list.begin() + static_cast<std::ptrdiff_t>(i));
    break;
  }
  if (list.empty()) conns_.erase(it);
}

}  // namespace weft::proxy::http
