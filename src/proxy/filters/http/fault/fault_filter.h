#pragma once
// envoy.filters.http.fault: delays a request (holding it with StopIteration until a timer)
// and/or aborts it with an HTTP or gRPC status, for the share of requests its percentages
// pick. A route's typed_per_filter_config replaces the listener's config for that route.
// Stats under http.<stat_prefix>.fault. as Envoy's.
#include <atomic>
#include <memory>
#include <string>

#include "common/stats/stats.h"
#include "proxy/filters/http/fault/fault_config.h"
#include "proxy/http/filter.h"

namespace weft::proxy::http::fault {

#define WEFT_FAULT_STATS(COUNTER, GAUGE) \
  COUNTER(delays_injected) COUNTER(aborts_injected) COUNTER(faults_overflow) GAUGE(active_faults)
WEFT_STATS_STRUCT(FaultStats, WEFT_FAULT_STATS)

// One per configured filter, shared by every worker's streams.
struct FaultShared {
  std::shared_ptr<const FaultConfig> config;  // the listener's; null: only per-route configs apply
  std::string filter_name;                    // the key of its typed_per_filter_config
  std::shared_ptr<stats::Scope> stats;
  std::atomic<uint32_t> active{0};  // for max_active_faults, across workers
};

class FaultFilter final : public StreamFilterBase, public StreamDecoderFilter {
 public:
  FaultFilter(FaultShared& shared, event::Reactor& reactor);
  ~FaultFilter() override;

  void setDecoderFilterCallbacks(StreamDecoderFilterCallbacks& cb) override { cb_ = &cb; }
  FilterStatus decodeHeaders(RequestHead& req, bool end_stream) override;
  void onLocalReply() override { timer_.disarm(); }
  void onDestroy() override;

 private:
  bool applies(const FaultConfig& c, const RequestHead& req) const;
  bool takeActiveFault(const FaultConfig& c);
  std::optional<std::chrono::milliseconds> delayFor(const FaultConfig& c, const RequestHead& req);
  bool abortFor(const FaultConfig& c, const RequestHead& req, int& http_status, int& grpc_status);
  void afterDelay();
  void abort(int http_status, int grpc_status);

  FaultShared& shared_;
  StreamDecoderFilterCallbacks* cb_ = nullptr;
  const FaultConfig* config_ = nullptr;
  bool active_ = false;  // counted in shared_.active
  event::Timer timer_;
};

}  // namespace weft::proxy::http::fault
