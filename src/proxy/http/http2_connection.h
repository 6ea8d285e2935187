#pragma once
// The downstream side of the HTTP connection manager for HTTP/2 (nghttp2 server session):
// h2c with prior knowledge, h2 over TLS by ALPN, or handed over by the HTTP/1 connection when
// AUTO sees the HTTP/2 preface. Each request is an Http2Stream. SETTINGS from
// http2_protocol_options, GOAWAY on drain, PING keep-alive, idle timeout.
#include <nghttp2/nghttp2.h>

#include <memory>
#include <unordered_map>

#include "common/intrusive_list.h"
#include "common/net/connection.h"
#include "proxy/http/hcm_config.h"
#include "proxy/http/http2_stream.h"
#include "proxy/network/active_session.h"
#include "proxy/worker_context.h"

namespace weft::proxy::http {

class Http2Stream;

class Http2ServerConnection final : public network::ActiveSession,
                                    public net::ConnectionCallbacks,
                                    public event::Flushable {
 public:
  Http2ServerConnection(WorkerContext& worker, std::unique_ptr<net::Connection> conn,
                        std::shared_ptr<const HcmConfig> hcm, std::shared_ptr<stats::Scope> listener_stats);
  ~Http2ServerConnection() override;
  // Also reads what is already in the connection's input (bytes the HTTP/1 side sniffed);
  // `handed_over`: the connection was already counted by the HTTP/1 side.
  void start(bool handed_over);

  void drain() override;
  void closeNow() override;
  void onData(net::Connection& conn) override;
  void onEvent(net::Connection& conn, net::ConnectionEvent event) override;
  void onWriteDrained(net::Connection& conn) override;

  // For streams.
  WorkerContext& worker() { return worker_; }
  const HcmConfig& hcm() const { return *hcm_; }
  const std::shared_ptr<const HcmConfig>& hcmPtr() const { return hcm_; }
  net::Connection& connection() { return *conn_; }
  nghttp2_session* session() { return session_; }
  // Moves queued frames to the socket (or until it is above its write limit) after the
  // current event batch: all streams' frames in one write.
  void flush() { worker_reactor_.scheduleFlush(this); }
  void onFlush() override { writeNow(); }

  // Limits against a hostile client (see the constants in the .cc file).
  // Header bytes the connection's open streams hold: false past the connection's budget.
  bool takeHeaderBytes(size_t n);
  void returnHeaderBytes(size_t n) { header_bytes_ -= n; }
  void onStreamAnswered() { --awaiting_; }  // a stream's response started (or it closed first)
  // Response bytes one stream may hold for this client: the connection's budget shared out.
  size_t responseBufferLimit() const;
  // GOAWAY(error_code) naming the last stream processed, after whatever is queued, then close;
  // nothing more from the peer is processed. From inside nghttp2 it happens once nghttp2 returns.
  void abortWithGoaway(uint32_t error_code);

  // nghttp2 callbacks
  static int onBeginHeaders(nghttp2_session*, const nghttp2_frame*, void*);
  static int onHeader(nghttp2_session*, const nghttp2_frame*, const uint8_t*, size_t, const uint8_t*, size_t, uint8_t,
                      void*);
  static int onFrameRecv(nghttp2_session*, const nghttp2_frame*, void*);
  static int onDataChunk(nghttp2_session*, uint8_t, int32_t, const uint8_t*, size_t, void*);
  static int onStreamClose(nghttp2_session*, int32_t, uint32_t, void*);
  static int onFrameSend(nghttp2_session*, const nghttp2_frame*, void*);
  static int onInvalidFrame(nghttp2_session*, const nghttp2_frame*, int, void*);

 private:
  Http2Stream* stream(int32_t id);
  void receive();
  void writeNow();
  void maybeFinishDrain();
  void armIdle();
  void sendPing();
  void closeConnection();
  // A stream ended; `premature`: reset by the client (or refused) early. Envoy's premature-reset
  // rule then decides whether the connection is abusive.
  void countClosedStream(bool premature);
  void fail(ssize_t nghttp2_error);

  WorkerContext& worker_;
  event::Reactor& worker_reactor_;
  std::unique_ptr<net::Connection> conn_;
  std::shared_ptr<const HcmConfig> hcm_;
  std::shared_ptr<stats::Scope> listener_stats_;
  stats::Scope& stats_;
  nghttp2_session* session_ = nullptr;
  // Owned; found by id through nghttp2's stream user data.
  IntrusiveList<Http2Stream, &Http2Stream::hook> streams_;
  event::Timer idle_timer_;
  event::Timer ping_timer_;
  event::Timer ping_timeout_;
  bool draining_ = false;
  bool closed_ = false;
  bool in_receive_ = false;
  bool in_send_ = false;
  bool aborting_ = false;  // abortWithGoaway was asked for: no new streams
  uint32_t abort_code_ = 0;
  uint32_t awaiting_ = 0;    // open streams whose response has not started
  size_t header_bytes_ = 0;  // decoded header bytes held by open streams
  uint64_t closed_streams_ = 0;
  uint64_t premature_resets_ = 0;
  uint32_t header_overflows_ = 0;
};

}  // namespace weft::proxy::http
