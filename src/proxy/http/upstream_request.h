#pragma once
// One HTTP/1.1 request to an upstream host: takes a pooled keep-alive connection or opens a
// new one, parses the response with ResponseParser and hands head, body pieces and the end
// to its Callbacks (the downstream stream). A request that finds its pooled connection
// closed by the peer before any response byte is re-sent once on a fresh connection.
#include <memory>
#include <optional>
#include <string>

#include "common/event/reactor.h"
#include "common/net/connection.h"
#include "proxy/http/headers.h"
#include "proxy/http/upstream_stream.h"
#include "proxy/stream_info.h"
#include "proxy/upstream/worker_cluster.h"

namespace weft::proxy::http {

class UpstreamRequest final : public UpstreamStream,
                              public net::ConnectionCallbacks,
                              public BodySink,
                              public upstream::ConnectionWaiter {
 public:
  using Callbacks = UpstreamCallbacks;

  // `head` is the owner's, reused request after request so its header list keeps its capacity.
  // `server_name`: auto_sni's SNI (empty: the cluster's own).
  UpstreamRequest(Callbacks& cb, upstream::WorkerCluster& cluster, std::shared_ptr<const upstream::Host> host,
                  event::Reactor& reactor, bool head_request, ResponseHead& head, std::string server_name = {});
  ~UpstreamRequest() override;

  // UpstreamStream
  void start() override;
  void sendHeaders(const UpstreamHead& head, bool end_stream) override;
  void sendData(std::string_view data, bool end_stream) override;
  void sendTrailers(const std::vector<Header>& trailers) override;
  void flush() override {
    if (conn_) conn_->flush();
  }
  bool aboveWriteLimit() override {
    return conn_ ? conn_->aboveWriteLimit() : waiting_out_.size() > cluster_.config().buffer_limit;
  }
  void readDisable(bool disable) override {
    if (conn_) conn_->readDisable(disable);
  }
  void release(bool reusable) override;
  void abort() override;
  const upstream::Host& host() const override { return *host_; }
  const net::Address* localAddress() const override { return conn_ ? &conn_->localAddress() : nullptr; }
  net::Connection* connection() const override { return conn_.get(); }
  net::Connection* tunnelConnection() override { return conn_.get(); }

  void onData(net::Connection& conn) override;
  void onEvent(net::Connection& conn, net::ConnectionEvent event) override;
  void onWriteDrained(net::Connection& conn) override;
  void onBodyData(std::string_view data) override;

  // ConnectionWaiter
  const upstream::Host& waitingFor() const override { return *host_; }
  void onConnectionAvailable() override;

 private:
  // A pooled or new connection, or a place in the cluster's queue (circuit breakers).
  void acquireConnection();
  void stopWaiting();
  Buffer& out() { return conn_ ? conn_->output() : waiting_out_; }
  void connectFresh();
  void failBeforeHeaders(uint32_t flag, std::string_view reason);
  void closeConnection();

  Callbacks& cb_;
  upstream::WorkerCluster& cluster_;
  std::shared_ptr<const upstream::Host> host_;
  std::string server_name_;
  event::Reactor& reactor_;
  bool head_request_;
  std::unique_ptr<net::Connection> conn_;
  std::optional<ResponseParser> parser_;
  ResponseHead& head_;
  event::Timer connect_timer_;
  size_t head_scanned_ = 0;
  bool reused_ = false;
  bool retried_ = false;
  bool headers_delivered_ = false;
  bool complete_ = false;
  bool active_ = false;
  bool chunked_out_ = false;
  bool holds_request_ = false;  // counted in the cluster's requests circuit breaker
  bool waiting_ = false;        // queued for a connection (a pending request)
  Buffer waiting_out_;          // what the request wrote while it waited
  std::string resend_;          // the request head, kept while a re-send on a fresh connection is possible
};

}  // namespace weft::proxy::http
