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
#include "proxy/http/http1_parser.h"
#include "proxy/stream_info.h"
#include "proxy/upstream/worker_cluster.h"

namespace weft::proxy::http {

class UpstreamRequest final : public net::ConnectionCallbacks, public BodySink, public event::Deferrable {
 public:
  class Callbacks {
   public:
    virtual ~Callbacks() = default;
    // The request failed before any response header; `flag` is a ResponseFlag.
    virtual void onUpstreamFailure(uint32_t flag, std::string_view reason) = 0;
    virtual void onUpstreamHeaders(const ResponseHead& head) = 0;
    virtual void onUpstreamBody(std::string_view data) = 0;
    virtual void onUpstreamComplete() = 0;
    // The upstream went away in the middle of the response.
    virtual void onUpstreamResetAfterHeaders() = 0;
    // A 101 answer to an Upgrade request; bytes after it stay in connection().input().
    virtual void onUpstreamUpgraded(const ResponseHead& head) = 0;
    // The upstream's output drained below its limit: request body reading may resume.
    virtual void onUpstreamWriteDrained() = 0;
    // A batch of upstream bytes was handled: time to flush what it produced downstream.
    virtual void onUpstreamDataDone() = 0;
  };

  // `head` is the owner's, reused request after request so its header list keeps its capacity.
  UpstreamRequest(Callbacks& cb, upstream::WorkerCluster& cluster, std::shared_ptr<const upstream::Host> host,
                  event::Reactor& reactor, bool head_request, ResponseHead& head);
  ~UpstreamRequest() override;

  // Obtains a connection; its output() then takes the request bytes.
  void start();
  Buffer& output() { return conn_->output(); }
  // Marks the end of the request head in output() (a head-only request can be re-sent).
  void headWritten(bool has_body);
  void flush() { conn_->flush(); }
  bool aboveWriteLimit() { return conn_ && conn_->aboveWriteLimit(); }
  void readDisable(bool disable) {
    if (conn_) conn_->readDisable(disable);
  }
  // After onUpstreamComplete: back to the pool when `reusable`, else closed.
  void release(bool reusable);
  void abort();
  net::Connection& connection() { return *conn_; }
  const upstream::Host& host() const { return *host_; }

  void onData(net::Connection& conn) override;
  void onEvent(net::Connection& conn, net::ConnectionEvent event) override;
  void onWriteDrained(net::Connection& conn) override;
  void onBodyData(std::string_view data) override;

 private:
  void connectFresh();
  void failBeforeHeaders(uint32_t flag, std::string_view reason);
  void closeConnection();

  Callbacks& cb_;
  upstream::WorkerCluster& cluster_;
  std::shared_ptr<const upstream::Host> host_;
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
  std::string resend_;  // the request head, kept while a re-send on a fresh connection is possible
};

}  // namespace weft::proxy::http
