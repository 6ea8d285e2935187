#pragma once
// HTTP/2 to upstream hosts: per worker and host, a few multiplexed connections (a new one
// only when the others are at the peer's SETTINGS_MAX_CONCURRENT_STREAMS or going away);
// each request is an Http2UpstreamStream on one of them. Request bodies flow as the peer's
// window allows; response bytes are acknowledged only as the downstream takes them.
#include <nghttp2/nghttp2.h>

#include <boost/container/small_vector.hpp>
#include <list>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/buffer.h"
#include "common/intrusive_list.h"
#include "proxy/http/header_limit.h"
#include "proxy/http/http2_options.h"
#include "proxy/http/upstream_stream.h"

namespace weft::proxy::http {

class Http2ClientPool;
class Http2ClientConnection;

class Http2UpstreamStream final : public UpstreamStream {
 public:
  Http2UpstreamStream(UpstreamCallbacks& cb, upstream::WorkerCluster& cluster,
                      std::shared_ptr<const upstream::Host> host, Http2ClientPool& pool, ResponseHead& head,
                      std::string server_name = {});
  ~Http2UpstreamStream() override;

  void start() override;
  void sendHeaders(const UpstreamHead& head, bool end_stream) override;
  void sendData(std::string_view data, bool end_stream) override;
  void sendTrailers(const std::vector<Header>& trailers) override;
  void flush() override;
  bool aboveWriteLimit() override;
  void readDisable(bool disable) override;
  void release(bool reusable) override;
  void abort() override;
  const upstream::Host& host() const override { return *host_; }
  const net::Address* localAddress() const override;
  net::Connection* connection() const override;

  ListHook<Http2UpstreamStream> hook;  // the connection's list of open streams

 private:
  friend class Http2ClientConnection;
  static ssize_t readBody(nghttp2_session*, int32_t, uint8_t*, size_t, uint32_t*, nghttp2_data_source*, void*);
  // From the connection:
  // False past the response header limits (the stream is then reset).
  bool onHeader(std::string_view name, std::string_view value);
  void onHeadersDone(bool trailers, bool end_stream);
  void onBody(const uint8_t* data, size_t len);
  void onClosed(uint32_t error_code);
  void onConnectionFailure(uint32_t flag, std::string_view reason);
  void finishRequestAccounting(bool success);

  UpstreamCallbacks& cb_;
  upstream::WorkerCluster& cluster_;
  std::shared_ptr<const upstream::Host> host_;
  Http2ClientPool& pool_;
  ResponseHead& head_;
  std::string server_name_;
  Http2ClientConnection* conn_ = nullptr;
  int32_t id_ = -1;
  Buffer body_out_;  // request body waiting for the peer's window
  bool body_end_ = false;
  bool body_deferred_ = false;
  NvList trailers_out_;
  // Response header bytes collect in one arena; head_'s views are made once the block is done.
  struct Span {
    uint32_t name_at, name_len, value_at, value_len;
  };
  boost::container::small_vector<char, 384> arena_;
  boost::container::small_vector<Span, 16> spans_;
  std::list<std::string> trailer_strings_;  // trailers (rare): stable storage; a deque would allocate up front
  std::vector<Header> trailers_in_;
  bool headers_delivered_ = false;
  bool complete_ = false;
  bool active_ = false;
  bool holds_request_ = false;  // counted in the cluster's requests circuit breaker
  HeaderLimit header_limit_;
  bool header_overflow_ = false;
  bool read_disabled_ = false;
  size_t unconsumed_ = 0;
  bool was_above_limit_ = false;
};

class Http2ClientConnection final : public net::ConnectionCallbacks, public event::Deferrable, public event::Flushable {
 public:
  // Connects to `host` (with auto_sni's `server_name`), or with `conn`, adopts a connection
  // that is already up (auto_config, after ALPN said h2).
  Http2ClientConnection(Http2ClientPool& pool, std::shared_ptr<const upstream::Host> host, std::string server_name,
                        std::unique_ptr<net::Connection> conn = nullptr);
  ~Http2ClientConnection() override;

  bool acceptsStreams() const;
  // Submits the request; false when the session refused it (the stream then fails).
  bool submit(Http2UpstreamStream& stream, NvList& headers, bool end_stream);
  void resumeData(int32_t id) { nghttp2_session_resume_data(session_, id); }
  void consume(int32_t id, size_t bytes) { nghttp2_session_consume(session_, id, bytes); }
  void reset(int32_t id);
  void detach(Http2UpstreamStream& stream);
  // Writes queued frames after the current event batch (one write for all streams).
  void flush();
  void onFlush() override { writeNow(); }
  void writeNow();
  const upstream::Host& host() const { return *host_; }
  const std::string& serverName() const { return server_name_; }
  const net::Address* localAddress() const { return conn_ ? &conn_->localAddress() : nullptr; }
  net::Connection* connection() const { return conn_.get(); }
  bool closed() const { return closed_; }
  bool goingAway() const { return goaway_; }
  size_t activeStreams() const { return streams_.size(); }
  // It carried max_requests_per_connection streams: it takes no more.
  bool exhausted() const;

  void onData(net::Connection& conn) override;
  void onEvent(net::Connection& conn, net::ConnectionEvent event) override;
  void onWriteDrained(net::Connection& conn) override;

  // nghttp2 callbacks
  static int onHeader(nghttp2_session*, const nghttp2_frame*, const uint8_t*, size_t, const uint8_t*, size_t, uint8_t,
                      void*);
  static int onFrameRecv(nghttp2_session*, const nghttp2_frame*, void*);
  static int onDataChunk(nghttp2_session*, uint8_t, int32_t, const uint8_t*, size_t, void*);
  static int onStreamClose(nghttp2_session*, int32_t, uint32_t, void*);

 private:
  Http2UpstreamStream* stream(int32_t id);
  void closeAll(uint32_t flag, std::string_view reason);
  // With no stream left: close it soon (exhausted) or after idle_timeout.
  void onStreamsGone();

  Http2ClientPool& pool_;
  std::shared_ptr<const upstream::Host> host_;
  std::string server_name_;
  std::unique_ptr<net::Connection> conn_;
  nghttp2_session* session_ = nullptr;
  IntrusiveList<Http2UpstreamStream, &Http2UpstreamStream::hook> streams_;  // found by id via nghttp2
  event::Timer connect_timer_;
  // Closes the connection once it has no stream: after idle_timeout, or at once when it has
  // carried max_requests_per_connection streams.
  event::Timer idle_timer_;
  uint32_t streams_started_ = 0;
  event::TimePoint born_;  // for max_connection_duration
  bool connected_ = false;
  bool goaway_ = false;
  bool closed_ = false;
  bool in_recv_ = false;
  uint32_t peer_max_streams_ = 100;  // until the peer's SETTINGS arrive
};

// The HTTP/2 connections of one cluster on one worker.
class Http2ClientPool final : public upstream::MultiplexedPool {
 public:
  Http2ClientPool(upstream::WorkerCluster& cluster, event::Reactor& reactor) : cluster_(cluster), reactor_(reactor) {}
  ~Http2ClientPool() override;
  // A connection to `host` that takes another stream (a new one if needed and the circuit
  // breakers allow it); null when the cluster is at max_connections with none open to `host`.
  Http2ClientConnection* connectionFor(const std::shared_ptr<const upstream::Host>& host,
                                       const std::string& server_name = {});
  // auto_config: a connection that negotiated h2 joins the pool.
  void adopt(const std::shared_ptr<const upstream::Host>& host, const std::string& server_name,
             std::unique_ptr<net::Connection> conn);
  void remove(Http2ClientConnection& conn);
  upstream::WorkerCluster& cluster() { return cluster_; }
  event::Reactor& reactor() { return reactor_; }

 private:
  upstream::WorkerCluster& cluster_;
  event::Reactor& reactor_;
  // By host and auto_sni server name.
  std::map<std::pair<const upstream::Host*, std::string>, std::vector<std::unique_ptr<Http2ClientConnection>>> conns_;
};

}  // namespace weft::proxy::http
