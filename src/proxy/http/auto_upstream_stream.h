#pragma once
// auto_config's first request to a host whose protocol is not known yet: it opens the TLS
// connection itself (ALPN "h2", "http/1.1"), keeps what the router sends meanwhile (an owned
// copy of the head, the body up to the cluster's buffer limit, trailers), and once ALPN
// answers, records the protocol for the host, hands the connection to the HTTP/2 pool or the
// HTTP/1.1 idle pool and replays everything into the stream of that protocol. Later requests
// to the host go straight to the right stream (newUpstreamStream).
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "proxy/http/upstream_stream.h"

namespace weft::proxy::http {

class AutoUpstreamStream final : public UpstreamStream, public net::ConnectionCallbacks {
 public:
  AutoUpstreamStream(UpstreamCallbacks& cb, upstream::WorkerCluster& cluster,
                     std::shared_ptr<const upstream::Host> host, event::Reactor& reactor, bool head_request,
                     ResponseHead& head, std::string server_name);
  ~AutoUpstreamStream() override;

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
  net::Connection* connection() const override { return inner_ ? inner_->connection() : conn_.get(); }
  const net::Address* localAddress() const override {
    return inner_ ? inner_->localAddress() : conn_ ? &conn_->localAddress() : nullptr;
  }

  void onData(net::Connection&) override {}
  void onEvent(net::Connection& conn, net::ConnectionEvent event) override;

 private:
  void onProtocolKnown(bool http2);
  void fail(std::string_view reason);

  UpstreamCallbacks& cb_;
  upstream::WorkerCluster& cluster_;
  std::shared_ptr<const upstream::Host> host_;
  event::Reactor& reactor_;
  bool head_request_;
  ResponseHead& head_;
  std::string server_name_;
  std::unique_ptr<net::Connection> conn_;  // the probing connection, until handed over
  event::Timer connect_timer_;
  std::unique_ptr<UpstreamStream> inner_;

  // What the router sent before the protocol was known.
  struct Pending;
  std::unique_ptr<Pending> pending_;
  bool read_disabled_ = false;
  bool told_full_ = false;
};

}  // namespace weft::proxy::http
