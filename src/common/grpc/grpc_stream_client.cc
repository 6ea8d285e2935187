#include "common/grpc/grpc_stream_client.h"

#include "common/grpc/framing.h"

#include <algorithm>
#include <cstring>

namespace weft::grpc {

namespace {
constexpr int kUnavailable = 14;
constexpr int kInternal = 13;
constexpr auto kPingInterval = std::chrono::seconds(30);
constexpr auto kMaxBackoff = std::chrono::milliseconds(30000);
constexpr uint32_t kMaxMessage = 64 * 1024 * 1024;

nghttp2_nv header(const char* name, const std::string& value) {
  return {reinterpret_cast<uint8_t*>(const_cast<char*>(name)),
          reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), strlen(name), value.size(),
          NGHTTP2_NV_FLAG_NONE};
}
}  // namespace

StreamClient::StreamClient(event::Reactor& reactor, net::Address server, std::string authority, std::string path,
                           Callbacks& callbacks)
    : reactor_(reactor),
      server_(server),
      authority_(std::move(authority)),
      path_(std::move(path)),
      callbacks_(callbacks),
      random_(static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count())),
      reconnect_timer_(reactor, [this] { connect(); }),
      ping_timer_(reactor,
                  [this] {
                    if (ping_outstanding_) {
                      fail(kUnavailable, "keep-alive PING not answered");
                      return;
                    }
                    if (session_ != nullptr) {
                      nghttp2_submit_ping(session_, NGHTTP2_FLAG_NONE, nullptr);
                      ping_outstanding_ = true;
                      flushSession();
                    }
                    ping_timer_.arm(kPingInterval);
                  }),
      deadline_timer_(reactor,
                      [this] { fail(4, "deadline exceeded after " + std::to_string(deadline_.count()) + "ms"); }) {}

StreamClient::~StreamClient() {
  if (session_) nghttp2_session_del(session_);
  if (conn_) {
    conn_->setCallbacks(nullptr);
    conn_->close();
  }
}

void StreamClient::start() { connect(); }

void StreamClient::connect() {
  conn_ = net::Connection::connect(reactor_, server_);
  conn_->setCallbacks(this);
  if (tls_) conn_->startTls(tls_, tls_server_name_, true);
}

void StreamClient::onEvent(net::Connection&, net::ConnectionEvent event) {
  switch (event) {
    case net::ConnectionEvent::Connected:
      openStream();
      return;
    case net::ConnectionEvent::ConnectFailed:
      fail(kUnavailable, "cannot connect to " + server_.toString() + ": " +
                             (conn_->tlsError().empty() ? strerror(conn_->connectError()) : conn_->tlsError()));
      return;
    case net::ConnectionEvent::RemoteHalfClosed:
    case net::ConnectionEvent::Closed:
      fail(kUnavailable, "connection to " + server_.toString() + " closed");
      return;
  }
}

void StreamClient::openStream() {
  nghttp2_session_callbacks* cbs;
  nghttp2_session_callbacks_new(&cbs);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, &StreamClient::onDataChunk);
  nghttp2_session_callbacks_set_on_header_callback(cbs, &StreamClient::onHeader);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, &StreamClient::onStreamClose);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, &StreamClient::onFrameRecv);
  nghttp2_session_client_new(&session_, cbs, this);
  nghttp2_session_callbacks_del(cbs);
  // Large windows: a full xDS push can be megabytes and must not wait for WINDOW_UPDATEs.
  nghttp2_settings_entry settings[] = {{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 16 * 1024 * 1024},
                                       {NGHTTP2_SETTINGS_ENABLE_PUSH, 0}};
  nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, 2);
  nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0, 64 * 1024 * 1024);
  std::string scheme = "http", method = "POST", ct = "application/grpc", te = "trailers", ua = "weft-grpc/0.1";
  std::string timeout = std::to_string(deadline_.count()) + "m";
  nghttp2_nv hdrs[] = {header(":method", method),        header(":scheme", scheme),      header(":path", path_),
                       header(":authority", authority_), header("content-type", ct),     header("te", te),
                       header("user-agent", ua),         header("grpc-timeout", timeout)};
  std::vector<nghttp2_nv> nv(std::begin(hdrs), std::end(hdrs) - (deadline_.count() > 0 ? 0 : 1));
  for (auto& [name, value] : metadata_) nv.push_back(header(name.c_str(), value));
  if (deadline_.count() > 0) deadline_timer_.arm(deadline_);
  nghttp2_data_provider provider;
  provider.source.ptr = this;
  provider.read_callback = &StreamClient::readBody;
  stream_id_ = nghttp2_submit_request(session_, nullptr, nv.data(), nv.size(), &provider, this);
  grpc_status_ = -1;
  grpc_message_.clear();
  incoming_.clear();
  outgoing_.clear();
  sent_message_ = false;
  ping_outstanding_ = false;
  ping_timer_.arm(kPingInterval);
  callbacks_.onStreamReady();
  flushSession();
}

bool StreamClient::sendBytes(std::string_view body) {
  if (session_ == nullptr || stream_id_ <= 0) return false;
  outgoing_.append(framePrefix(body.size()));
  outgoing_.append(body);
  sent_message_ = true;
  nghttp2_session_resume_data(session_, stream_id_);
  flushSession();
  return true;
}

ssize_t StreamClient::readBody(nghttp2_session*, int32_t, uint8_t* buf, size_t length, uint32_t* flags,
                               nghttp2_data_source*, void* user) {
  auto* self = static_cast<StreamClient*>(user);
  if (self->outgoing_.empty()) return NGHTTP2_ERR_DEFERRED;  // resumed by send()
  size_t n = std::min(length, self->outgoing_.size());
  memcpy(buf, self->outgoing_.data(), n);
  self->outgoing_.drain(n);
  // A bidi stream lives as long as the connection; a unary call ends with its one request.
  if (self->unary_ && self->sent_message_ && self->outgoing_.empty()) *flags |= NGHTTP2_DATA_FLAG_EOF;
  return static_cast<ssize_t>(n);
}

void StreamClient::flushSession() {
  if (session_ == nullptr || !conn_) return;
  const uint8_t* data;
  ssize_t n;
  while ((n = nghttp2_session_mem_send(session_, &data)) > 0) {
    conn_->output().append(std::string_view(reinterpret_cast<const char*>(data), static_cast<size_t>(n)));
  }
  conn_->flush();
}

void StreamClient::onData(net::Connection& conn) {
  Buffer& in = conn.input();
  ssize_t n = nghttp2_session_mem_recv(session_, reinterpret_cast<const uint8_t*>(in.data()), in.size());
  in.clear();
  if (n < 0) {
    fail(kInternal,
         std::string("HTTP/2 error from ") + server_.toString() + ": " + nghttp2_strerror(static_cast<int>(n)));
    return;
  }
  if (session_) flushSession();
}

int StreamClient::onDataChunk(nghttp2_session*, uint8_t, int32_t stream, const uint8_t* data, size_t len, void* user) {
  auto* self = static_cast<StreamClient*>(user);
  if (stream != self->stream_id_) return 0;
  self->incoming_.append(std::string_view(reinterpret_cast<const char*>(data), len));
  self->deliverMessages();
  return 0;
}

void StreamClient::deliverMessages() {
  for (;;) {
    std::string_view message;
    size_t consumed = 0;
    Frame f = nextFrame(std::string_view(incoming_.data(), incoming_.size()), kMaxMessage, message, consumed);
    if (f == Frame::Incomplete) return;
    if (f == Frame::Malformed) {
      // We never offer compression, and a message this large is a broken peer.
      reactor_.post([this] { fail(kInternal, "malformed gRPC message from the server"); });
      incoming_.clear();
      return;
    }
    backoff_ = std::chrono::milliseconds(500);  // the server answers: start over from short waits
    callbacks_.onMessage(message);
    incoming_.drain(consumed);
  }
}

int StreamClient::onHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
                           const uint8_t* value, size_t valuelen, uint8_t, void* user) {
  auto* self = static_cast<StreamClient*>(user);
  if (frame->hd.stream_id != self->stream_id_) return 0;
  std::string_view n(reinterpret_cast<const char*>(name), namelen), v(reinterpret_cast<const char*>(value), valuelen);
  if (n == "grpc-status")
    self->grpc_status_ = atoi(std::string(v).c_str());
  else if (n == "grpc-message")
    self->grpc_message_ = std::string(v);
  return 0;
}

int StreamClient::onFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* user) {
  auto* self = static_cast<StreamClient*>(user);
  if (frame->hd.type == NGHTTP2_PING && (frame->hd.flags & NGHTTP2_FLAG_ACK)) self->ping_outstanding_ = false;
  return 0;
}

int StreamClient::onStreamClose(nghttp2_session*, int32_t stream, uint32_t error_code, void* user) {
  auto* self = static_cast<StreamClient*>(user);
  if (stream != self->stream_id_) return 0;
  int status = self->grpc_status_ >= 0 ? self->grpc_status_ : kUnavailable;
  std::string msg = self->grpc_message_.empty() ? "stream closed (HTTP/2 error " + std::to_string(error_code) + ")"
                                                : self->grpc_message_;
  // Unwind out of nghttp2 before tearing the session down.
  self->reactor_.post([self, status, msg] { self->fail(status, msg); });
  self->stream_id_ = -1;
  return 0;
}

void StreamClient::fail(int status, const std::string& message) {
  if (!conn_ && session_ == nullptr) return;
  ping_timer_.disarm();
  deadline_timer_.disarm();
  if (session_) {
    nghttp2_session_del(session_);
    session_ = nullptr;
  }
  stream_id_ = -1;
  if (conn_) {
    conn_->setCallbacks(nullptr);
    conn_->close();
    reactor_.deferDelete(std::move(conn_));
  }
  callbacks_.onStreamClosed(status, message);
  if (!unary_) scheduleReconnect();
}

void StreamClient::scheduleReconnect() {
  // Full jitter: anywhere in [backoff/2, backoff], doubling up to 30 s.
  auto half = backoff_.count() / 2;
  auto delay = std::chrono::milliseconds(half + static_cast<int64_t>(random_.below(static_cast<uint64_t>(half) + 1)));
  reconnect_timer_.arm(delay);
  backoff_ = std::min(kMaxBackoff, backoff_ * 2);
}

}  // namespace weft::grpc
