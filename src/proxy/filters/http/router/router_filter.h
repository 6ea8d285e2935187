#pragma once
// envoy.filters.http.router: the last filter of every chain. Picks the host of the route's
// cluster, answers what needs no upstream (404 NR, direct responses, redirects, 503 NC/UH,
// 403 for a refused Upgrade), sends the request upstream (HTTP/1.1 or HTTP/2), keeps the route
// timeout, and passes the response back through the encoder filters. As the last filter it
// always returns Continue: there is nothing after it to hold anything from.
#include <memory>
#include <string>
#include <vector>

#include "proxy/filters/http/router/shadow_request.h"
#include "proxy/http/filter.h"
#include "proxy/http/request_encoder.h"
#include "proxy/http/retry_policy.h"
#include "proxy/http/upstream_stream.h"
#include "proxy/upstream/outlier_detector.h"

namespace weft::proxy::http {

struct RouterConfig {
  bool suppress_envoy_headers = false;
};

class RouterFilter final : public StreamFilterBase,
                           public StreamDecoderFilter,
                           public UpstreamCallbacks,
                           public event::Flushable {
 public:
  RouterFilter(const RouterConfig& config, event::Reactor& reactor);
  ~RouterFilter() override;

  // StreamDecoderFilter
  void setDecoderFilterCallbacks(StreamDecoderFilterCallbacks& cb) override { cb_ = &cb; }
  FilterStatus decodeHeaders(RequestHead& req, bool end_stream) override;
  FilterStatus decodeData(std::string_view data, bool end_stream) override;
  FilterStatus decodeTrailers(std::vector<Header>& trailers) override;
  void onDownstreamAboveWriteLimit(bool above) override;
  bool decoderAboveWriteLimit() const override;
  // StreamFilterBase
  void onLocalReply() override;
  void onStreamComplete() override;
  void onDestroy() override;
  // Upstream bytes go out once per event batch.
  void onFlush() override;

  // UpstreamCallbacks
  void onUpstreamFailure(uint32_t flag, std::string_view reason) override;
  void onUpstreamHeaders(const ResponseHead& head, bool end_stream) override;
  void onUpstreamBody(std::string_view data) override;
  void onUpstreamTrailers(const std::vector<Header>& trailers) override;
  void onUpstreamComplete() override;
  void onUpstreamResetAfterHeaders() override;
  void onUpstreamUpgraded(const ResponseHead& head) override;
  void onUpstreamWriteDrained() override;
  void onUpstreamDataDone() override;

 private:
  void reply(int status, std::string_view body, uint32_t flag, std::string_view details,
             const MutationChain* mutations = nullptr, std::string_view location = {});
  // Opens a stream to `host` and sends the request (the live head on the first try, the
  // owned copy with the body kept so far on a retry).
  void startAttempt(std::shared_ptr<const upstream::Host> host, const UpstreamHead* first_head, bool end_stream);
  // Whether this failure is retried now; if so the retry is scheduled (after a backoff).
  bool maybeRetry(bool retriable, uint32_t flag);
  void retryNow();
  void onPerTryTimeout(bool idle);
  void touchPerTryIdle();
  void replyTimeout(std::string_view details);
  void armPerTryTimer();
  void releaseRetry();
  void requestEnded();
  void onTimeout();
  void abortUpstream();
  void scheduleFlush();
  // Outlier detection: the current attempt's result for its host.
  void reportStatus(uint64_t status);
  void reportResult(upstream::OutlierDetector::Result result);
  void startShadows(const Route& route, const UpstreamHead& head, bool end_stream);
  // Once the request has ended the shadows carry on alone; before that they go with it.
  void releaseShadows(bool abort);

  const RouterConfig& config_;
  event::Reactor& reactor_;
  StreamDecoderFilterCallbacks* cb_ = nullptr;
  std::shared_ptr<upstream::WorkerCluster> cluster_;
  std::unique_ptr<UpstreamStream> upstream_;
  ResponseHead upstream_head_;  // filled by the upstream stream
  ResponseHead response_;       // what goes on downstream
  std::vector<Header> trailers_;
  MutationChain request_mutations_;
  MutationChain response_mutations_;
  std::chrono::milliseconds timeout_{0};
  event::Timer timer_;
  // Retries (route or virtual host retry_policy): what is needed to send the request again.
  const RetryPolicy* retry_ = nullptr;
  std::unique_ptr<OwnedUpstreamHead> retry_head_;
  Buffer retry_body_;
  bool retry_body_ok_ = true;  // false once the body outgrew the buffer limit: no more retries
  std::vector<std::pair<std::string, std::string>> retry_trailer_strings_;
  std::vector<Header> retry_trailers_;
  bool have_trailers_ = false;
  uint32_t attempts_ = 0;
  bool holds_retry_ = false;       // one of the cluster's max_retries slots
  bool response_started_ = false;  // an upstream response head was taken (not retried)
  std::vector<const upstream::Host*> tried_;
  uint64_t excluded_priorities_ = 0;  // retry_priority previous_priorities
  event::Timer retry_timer_;
  event::Timer per_try_timer_;
  event::Timer per_try_idle_timer_;  // per_try_idle_timeout: re-armed by every upstream event
  bool attempt_count_in_response_ = false;
  char attempt_count_[12];
  bool request_end_ = false;
  bool end_with_headers_ = false;  // the response is its headers alone
  bool end_with_trailers_ = false;
  bool paused_ = false;                  // upstream reading stopped for a slow client
  bool grpc_result_pending_ = false;     // a gRPC response's result waits for its grpc-status
  std::optional<uint64_t> hash_;         // hash_policy's, for RING_HASH and MAGLEV clusters
  std::string set_cookie_;               // a hash_policy cookie generated for this client
  std::vector<ShadowRequest*> shadows_;  // mirrors still fed the request; they delete themselves
  char service_time_[24];
};

}  // namespace weft::proxy::http
