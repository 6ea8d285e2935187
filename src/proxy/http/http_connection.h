#pragma once
// The HTTP/1.1 codec of envoy.filters.network.http_connection_manager: parses requests (one at
// a time; pipelined ones wait in the input buffer) and drives an ActiveStream with them, writes
// what the stream encodes, answers malformed requests (400/431/501) and the timeouts of a
// request head that never completes (408), tunnels Upgrades and keeps the connection alive
// between requests.
#include <memory>
#include <optional>

#include "common/event/reactor.h"
#include "common/net/connection.h"
#include "proxy/http/active_stream.h"
#include "proxy/http/hcm_config.h"
#include "proxy/http/headers.h"
#include "proxy/network/active_session.h"
#include "proxy/network/relay.h"
#include "proxy/worker_context.h"

namespace weft::proxy::http {

class HttpConnection final : public network::ActiveSession,
                             public net::ConnectionCallbacks,
                             public BodySink,
                             public StreamCodec,
                             public network::Relay::Owner {
 public:
  HttpConnection(WorkerContext& worker, std::unique_ptr<net::Connection> conn, std::shared_ptr<const HcmConfig> hcm,
                 std::shared_ptr<stats::Scope> listener_stats);
  ~HttpConnection() override;
  void start();

  // ActiveSession
  void drain() override;
  void closeNow() override;

  // Downstream connection
  void onData(net::Connection& conn) override;
  void onEvent(net::Connection& conn, net::ConnectionEvent event) override;
  void onWriteDrained(net::Connection& conn) override;
  // Request body pieces from the parser
  void onBodyData(std::string_view data) override;

  // StreamCodec
  void encodeHeaders(const ResponseHead& head, bool end_stream) override;
  void encodeData(std::string_view data, bool end_stream) override;
  void encodeTrailers(const std::vector<Header>& trailers) override;
  void resetStream() override;
  bool aboveWriteLimit() const override { return conn_ && conn_->aboveWriteLimit(); }
  void flush() override;
  void resumeRequestBody() override;
  void upgradeTunnel(const ResponseHead& head, net::Connection& upstream) override;

  // Relay::Owner (Upgrade tunnels)
  void onRelayActivity() override;
  void onRelayDone() override;

 private:
  enum class RequestState { Headers, Body, Done };

  void handOverToHttp2();
  void process();
  bool processOnce();
  void onRequestHeaders(size_t head_bytes);
  void keepRequestHead(size_t head_bytes);
  void endRequestBody();
  void beginHead();
  void protocolError(int status, std::string_view details);
  void replyBeforeHead(int status, std::string_view details, uint32_t flag);
  void onResponseComplete();
  void finishStream();
  void closeConnection();
  void armHeadTimer();
  void onHeadTimer();
  bool closingAfterResponse() const;

  WorkerContext& worker_;
  std::unique_ptr<net::Connection> conn_;
  std::shared_ptr<const HcmConfig> hcm_;
  std::shared_ptr<stats::Scope> listener_stats_;
  stats::Scope& stats_;
  ActiveStream stream_;

  RequestHead req_;
  Buffer head_copy_;  // the request head, when a filter holds it past the input buffer's life
  std::optional<RequestParser> parser_;
  RequestState req_state_ = RequestState::Headers;
  size_t head_scanned_ = 0;
  bool feeding_ = false;  // inside parser_->feed: the parser must not be destroyed
  bool response_chunked_ = false;
  bool response_close_delimited_ = false;
  bool keep_alive_ = true;
  bool close_after_response_ = false;
  bool draining_ = false;
  bool destroyed_ = false;
  bool codec_decided_ = false;
  bool in_process_ = false;
  bool process_again_ = false;
  bool is_head_ = false;
  int request_version_ = 11;
  std::unique_ptr<network::Relay> relay_;

  // Until a request head is complete the connection's own timers run; then the stream's.
  event::Timer head_timer_;
  event::Timer idle_timer_;
  event::TimePoint head_start_{};
  event::TimePoint headers_deadline_{};  // request_headers_timeout
  event::TimePoint request_deadline_{};  // request_timeout
  bool head_started_ = false;            // a request head has begun and not yet completed
  event::TimePoint last_activity_{};
};

}  // namespace weft::proxy::http
