#pragma once
// One request and its response, whatever the downstream protocol (Envoy's ActiveStream and
// filter manager). The HTTP/1.1 and HTTP/2 codecs parse bytes and drive it through
// decodeHeaders / decodeData / decodeTrailers; it resolves the route, runs the HTTP filter
// chain (the router last), sends local replies, keeps request_timeout and
// stream_idle_timeout, generates x-request-id, counts the stats and writes the access log,
// and gives the finished response back to the codec through StreamCodec.
#include <boost/container/small_vector.hpp>
#include <list>
#include <memory>
#include <string>
#include <vector>

#include "common/buffer.h"
#include "common/net/connection.h"
#include "proxy/http/filter.h"
#include "proxy/http/hcm_config.h"
#include "proxy/http/route_table.h"
#include "proxy/stream_info.h"
#include "proxy/worker_context.h"

namespace weft::proxy::http {

// What a codec does for its stream.
class StreamCodec {
 public:
  virtual ~StreamCodec() = default;
  // `head.headers` is the complete set but the framing (content-length, transfer-encoding,
  // connection), which the codec adds from head.content_length and its own state.
  virtual void encodeHeaders(const ResponseHead& head, bool end_stream) = 0;
  virtual void encodeData(std::string_view data, bool end_stream) = 0;
  virtual void encodeTrailers(const std::vector<Header>& trailers) = 0;
  // The response cannot complete: RST_STREAM on HTTP/2, close on HTTP/1.1.
  virtual void resetStream() = 0;
  virtual bool aboveWriteLimit() const = 0;
  virtual void flush() = 0;
  // The request body may flow again after backpressure.
  virtual void resumeRequestBody() = 0;
  // HTTP/1.1 Upgrade tunnels; HTTP/2 never asks for one.
  virtual void upgradeTunnel(const ResponseHead& head, net::Connection& upstream) = 0;
};

class ActiveStream final : public StreamDecoderFilterCallbacks,
                           public StreamEncoderFilterCallbacks,
                           FilterChainBuilder {
 public:
  ActiveStream(WorkerContext& worker, const HcmConfig& hcm, StreamCodec& codec, net::Connection& downstream,
               bool http2);
  ~ActiveStream() override;

  // A new request whose first byte came at `start` (HTTP/1.1 reuses one ActiveStream).
  void begin(event::TimePoint start);
  // `req` stays valid (and unmoved) until the stream finishes.
  void decodeHeaders(RequestHead& req, bool end_stream);
  void decodeData(std::string_view data, bool end_stream);
  void decodeTrailers(std::vector<Header>& trailers);
  // A request refused before the filters (malformed, 400/431/501 ...): answered locally.
  // `req`: the parsed head when there is one (access log captures, HEAD).
  void rejectRequest(int status, std::string_view body, std::string_view details, uint32_t flag,
                     RequestHead* req = nullptr);
  // The client went away or reset the stream.
  void onDownstreamReset(uint32_t flag);
  // The client's connection drained below its write limit.
  void onDownstreamWriteDrained();
  // The codec is done with the stream (response sent, request read, or reset): stats, the
  // access log, the filters destroyed.
  void finish();

  bool active() const { return active_; }
  bool responseStarted() const { return response_started_; }
  bool responseComplete() const { return response_complete_; }
  bool requestComplete() const { return request_complete_; }
  // Answered locally or reset: request body that still comes is dropped.
  bool answered() const { return !active_ || local_reply_sent_ || reset_ || response_complete_; }
  // False while the filters hold the request (a filter stopped) or the upstream is backed up:
  // the codec stops feeding body (HTTP/1.1 leaves it unread, HTTP/2 withholds window).
  bool wantsRequestBody() const;
  StreamInfo& info() { return info_; }
  void markUpgrade() { upgrade_ = true; }

  // StreamFilterCallbacks
  WorkerContext& worker() override { return worker_; }
  const HcmConfig& hcm() const override { return hcm_; }
  StreamInfo& streamInfo() override { return info_; }
  const RequestHead& requestHeaders() const override { return *req_; }
  bool isGrpc() const override { return is_grpc_; }
  bool isHttp2() const override { return http2_; }
  const Route* route() const override { return route_; }
  const VirtualHost* virtualHost() const override { return vhost_; }
  const WeightedTarget* target() const override { return target_; }
  const RouteTable* routeTable() const override { return table_.get(); }
  const RouteSpecificFilterConfig* perRouteConfig(std::string_view filter_name) const override;
  void sendLocalReply(const LocalReply& reply) override;
  std::string_view keep(std::string value) override;
  net::Connection& downstreamConnection() override { return downstream_; }
  std::string_view generatedRequestId() const override { return generated_request_id_; }
  const tracing::OutgoingContext* traceContext() const override { return span_.outgoing(); }
  int grpcStatus() const override { return grpc_status_; }
  // StreamDecoderFilterCallbacks
  void continueDecoding() override;
  void encodeHeaders(ResponseHead& head, bool end_stream) override;
  void encodeData(std::string_view data, bool end_stream) override;
  void encodeTrailers(std::vector<Header>& trailers) override;
  void resetStream(uint32_t flag) override;
  bool downstreamAboveWriteLimit() const override { return codec_.aboveWriteLimit(); }
  void onDecoderDrained() override;
  void flushDownstream() override { codec_.flush(); }
  void upgradeTunnel(const ResponseHead& head, net::Connection& upstream) override;
  // StreamEncoderFilterCallbacks
  void continueEncoding() override;

 private:
  // FilterChainBuilder
  void addDecoderFilter(std::unique_ptr<StreamFilterBase> owner, StreamDecoderFilter* filter) override;
  void addEncoderFilter(std::unique_ptr<StreamFilterBase> owner, StreamEncoderFilter* filter) override;
  void addStreamFilter(std::unique_ptr<StreamFilterBase> owner, StreamDecoderFilter* decoder,
                       StreamEncoderFilter* encoder) override;

  // Where one direction's iteration stands. Data and trailers that reach a stopped filter
  // wait in `held`, to go on from `held_from` when it continues.
  struct Iteration {
    size_t stopped_at = kNone;    // the filter holding the stream, or kNone
    bool headers_passed = false;  // every filter has seen the headers
    bool headers_end = false;     // the headers were the whole message
    Buffer held;
    bool held_data = false;
    bool held_end = false;
    size_t held_from = 0;
    bool trailers_held = false;

    void reset() {
      stopped_at = kNone;
      headers_passed = headers_end = held_data = held_end = trailers_held = false;
      held_from = 0;
      held.clear();
    }
  };
  static constexpr size_t kNone = static_cast<size_t>(-1);

  void resolveRoute();
  void generateRequestId();
  void startTracing();
  void captureRequestHeaders();
  void runDecodeHeaders(size_t from);
  void runDecodeData(size_t from, std::string_view data, bool end_stream);
  void runDecodeTrailers(size_t from);
  void runEncodeHeaders(size_t from);
  void runEncodeData(size_t from, std::string_view data, bool end_stream);
  void runEncodeTrailers(size_t from);
  bool holdRequest(std::string_view data, bool end_stream);
  bool holdResponse(std::string_view data, bool end_stream);
  // After the encoder filters: HCM headers, stats, then the codec.
  void writeHeaders(ResponseHead& head, bool end_stream);
  void writeData(std::string_view data, bool end_stream);
  void writeTrailers(std::vector<Header>& trailers);
  bool encodeRefused() const;
  void armTimer();
  void onTimer();
  void destroyFilters();

  WorkerContext& worker_;
  const HcmConfig& hcm_;
  StreamCodec& codec_;
  net::Connection& downstream_;
  bool http2_;

  RequestHead* req_ = nullptr;
  bool active_ = false;
  bool is_grpc_ = false;
  bool request_complete_ = false;
  bool response_started_ = false;
  bool response_complete_ = false;
  bool local_reply_sent_ = false;
  bool in_local_reply_ = false;
  bool reset_ = false;
  bool upgrade_ = false;
  bool is_head_ = false;
  int grpc_status_ = -1;
  StreamInfo info_;
  char request_id_buf_[36];
  std::string_view generated_request_id_;
  tracing::ActiveSpan span_;

  std::shared_ptr<const RouteTable> table_;  // held: an RDS update must not free the route
  const Route* route_ = nullptr;
  uint64_t stream_random_ = 0;
  std::string local_body_;          // a local reply's body and content type after local_reply_config
  std::string local_content_type_;  // drawn once per request: runtime_fraction route matching
  const VirtualHost* vhost_ = nullptr;
  const WeightedTarget* target_ = nullptr;

  boost::container::small_vector<std::unique_ptr<StreamFilterBase>, 4> filters_;
  boost::container::small_vector<StreamDecoderFilter*, 4> decoders_;
  boost::container::small_vector<StreamEncoderFilter*, 4> encoders_;  // in config order; run last first
  Iteration decode_;
  Iteration encode_;
  std::vector<Header>* request_trailers_ = nullptr;
  std::vector<Header>* response_trailers_ = nullptr;
  ResponseHead* response_head_ = nullptr;
  ResponseHead local_head_;
  std::list<std::string> kept_;  // values filters added (rare): stable storage

  event::Timer timer_;
  event::TimePoint request_deadline_{};
  event::TimePoint last_activity_{};
};

}  // namespace weft::proxy::http
