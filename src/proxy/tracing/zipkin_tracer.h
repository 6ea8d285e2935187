#pragma once
// envoy.tracers.zipkin: finished spans, as Zipkin v2 JSON, go to the collector cluster in
// batches. Each worker appends to its own row (a mutex per row, taken only for sampled spans
// and, every flush interval, by the reporter); one reporter thread per tracer POSTs the
// batches (collector_endpoint, Host collector_hostname) to a host the worker chose from the
// cluster. Stats tracing.zipkin.{spans_sent,reports_sent,reports_failed,reports_dropped,
// reports_skipped_no_cluster,timer_flushed}, as Envoy.
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/stats/stats.h"
#include "envoy/config/trace/v3/zipkin.pb.h"

namespace weft::proxy {
class WorkerContext;
}

namespace weft::proxy::tracing {

// clang-format off
#define WEFT_ZIPKIN_STATS(COUNTER, GAUGE)                                                    \
  COUNTER(spans_sent) COUNTER(reports_sent) COUNTER(reports_failed) COUNTER(reports_dropped) \
  COUNTER(reports_skipped_no_cluster) COUNTER(timer_flushed)
// clang-format on
WEFT_STATS_STRUCT(ZipkinStats, WEFT_ZIPKIN_STATS)

class ZipkinTracer {
 public:
  // Throws ConfigError naming `path` for what weft-proxy does not do (HTTP_PROTO, split spans).
  ZipkinTracer(const envoy::config::trace::v3::ZipkinConfig& config, const std::string& path, stats::Store& store);
  ~ZipkinTracer();
  ZipkinTracer(const ZipkinTracer&) = delete;
  ZipkinTracer& operator=(const ZipkinTracer&) = delete;

  bool traceId128() const { return trace_id_128bit_; }
  bool sharedSpanContext() const { return shared_span_context_; }
  // trace_context_option USE_B3_WITH_W3C_PROPAGATION: traceparent read and written beside B3.
  bool w3c() const { return w3c_; }
  // On a worker: one span's JSON object. The collector host is picked here, from the
  // worker's view of the cluster.
  void report(WorkerContext& worker, std::string span_json);

  static constexpr size_t kMinFlushSpans = 5;                       // Envoy's tracing.zipkin.min_flush_spans
  static constexpr std::chrono::milliseconds kFlushInterval{5000};  // tracing.zipkin.flush_interval_ms
  static constexpr size_t kMaxPendingSpans = 1000;                  // per worker, while the collector is slow

 private:
  struct alignas(64) Row {
    std::mutex mu;
    std::vector<std::string> spans;
    std::string host;  // "ip:port" of the collector
  };
  void run();
  void send(const std::string& host, std::vector<std::string>& spans);

  std::string cluster_, endpoint_, hostname_;
  bool trace_id_128bit_ = false;
  bool shared_span_context_ = true;
  bool w3c_ = false;
  std::shared_ptr<stats::Scope> stats_;
  std::vector<Row> rows_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;
  bool flush_now_ = false;
  std::thread reporter_;
};

}  // namespace weft::proxy::tracing
