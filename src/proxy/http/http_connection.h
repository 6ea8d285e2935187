#pragma once
// The downstream side of envoy.filters.network.http_connection_manager for HTTP/1.1: parses
// requests (one at a time; pipelined ones wait in the input buffer), routes them, streams
// the body to an UpstreamRequest and the response back, answers locally (404 NR, 503 UF/UH,
// 504 UT, redirects, direct responses, 400/431 for malformed requests), tunnels Upgrades,
// applies the stream timeouts and writes the access log.
#include <memory>
#include <optional>

#include "common/event/reactor.h"
#include "common/net/connection.h"
#include "proxy/http/codec_util.h"
#include "proxy/http/hcm_config.h"
#include "proxy/http/http1_parser.h"
#include "proxy/http/upstream_stream.h"
#include "proxy/network/active_session.h"
#include "proxy/network/relay.h"
#include "proxy/stream_info.h"

namespace weft::proxy::server {
class Worker;
}

namespace weft::proxy::http {

class HttpConnection final : public network::ActiveSession,
                             public net::ConnectionCallbacks,
                             public BodySink,
                             public UpstreamCallbacks,
                             public network::Relay::Owner {
 public:
  HttpConnection(server::Worker& worker, std::unique_ptr<net::Connection> conn,
                 std::shared_ptr<const HcmConfig> hcm, std::shared_ptr<stats::Scope> listener_stats);
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

  // UpstreamRequest::Callbacks
  void onUpstreamFailure(uint32_t flag, std::string_view reason) override;
  void onUpstreamHeaders(const ResponseHead& head, bool end_stream) override;
  void onUpstreamTrailers(const std::vector<Header>& trailers) override;
  void onUpstreamBody(std::string_view data) override;
  void onUpstreamComplete() override;
  void onUpstreamResetAfterHeaders() override;
  void onUpstreamUpgraded(const ResponseHead& head) override;
  void onUpstreamWriteDrained() override;
  void onUpstreamDataDone() override;

  // Relay::Owner (Upgrade tunnels)
  void onRelayActivity() override;
  void onRelayDone() override;

 private:
  enum class RequestState { Headers, Body, Done };

  void handOverToHttp2();
  void process();
  bool processOnce();
  void onRequestHeaders();
  void routeRequest(std::string_view host_for_routing);
  void generateRequestId();
  void onRequestComplete();
  void finishStream();
  void beginHead();
  void protocolError(int status, std::string_view details);
  void replyBeforeHead(int status, std::string_view details, uint32_t flag);
  void localReply(int status, std::string_view body, uint32_t flag, std::string_view details,
                  const MutationChain* mutations = nullptr, std::string_view location = {});
  void encodeResponseHead(const ResponseHead& head);
  void captureRequestHeaders();
  void abortStream(uint32_t flag);
  void closeConnection();
  void destroy();
  void armStreamTimer();
  void onStreamTimer();
  void flushBoth();
  void releaseUpstream(bool reusable);
  bool closingAfterResponse() const;

  server::Worker& worker_;
  std::unique_ptr<net::Connection> conn_;
  std::shared_ptr<const HcmConfig> hcm_;
  std::shared_ptr<stats::Scope> listener_stats_;
  stats::Scope& stats_;

  RequestHead req_;
  ResponseHead response_head_;  // filled by the UpstreamRequest; reused
  std::optional<RequestParser> parser_;
  RequestState req_state_ = RequestState::Headers;
  size_t head_scanned_ = 0;
  bool stream_active_ = false;
  bool response_started_ = false;
  bool response_done_ = false;
  bool response_chunked_ = false;
  bool response_close_delimited_ = false;
  bool request_body_open_ = false;  // the upstream still expects request body
  bool keep_alive_ = true;
  bool close_after_response_ = false;
  bool draining_ = false;
  bool destroyed_ = false;
  bool codec_decided_ = false;
  bool in_process_ = false;
  bool process_again_ = false;
  bool is_head_ = false;
  int request_version_ = 11;

  StreamInfo info_;
  char request_id_buf_[36];
  std::string_view generated_request_id_;
  std::shared_ptr<const RouteTable> rds_table_;
  const Route* route_ = nullptr;
  const VirtualHost* vhost_ = nullptr;
  const WeightedTarget* target_ = nullptr;
  std::shared_ptr<upstream::WorkerCluster> cluster_;
  MutationChain response_mutations_;
  std::unique_ptr<UpstreamStream> upstream_;
  std::unique_ptr<network::Relay> relay_;

  event::Timer stream_timer_;
  event::Timer idle_timer_;
  std::chrono::milliseconds route_timeout_{0};
  event::TimePoint route_deadline_{};
  event::TimePoint request_deadline_{};
  event::TimePoint headers_deadline_{};  // request_headers_timeout, while a head is incomplete
  bool head_started_ = false;            // a request head has begun and not yet completed
  event::TimePoint last_activity_{};
};

}  // namespace weft::proxy::http
