#include "proxy/tracing/zipkin_tracer.h"

#include "common/config/error.h"
#include "common/http/http_client.h"
#include "proxy/upstream/worker_cluster.h"
#include "proxy/worker_context.h"

namespace weft::proxy::tracing {

namespace zv3 = envoy::config::trace::v3;

ZipkinTracer::ZipkinTracer(const zv3::ZipkinConfig& c, const std::string& path, stats::Store& store)
    : cluster_(c.collector_cluster()),
      endpoint_(c.collector_endpoint()),
      hostname_(c.collector_hostname().empty() ? c.collector_cluster() : c.collector_hostname()),
      trace_id_128bit_(c.trace_id_128bit()),
      shared_span_context_(!c.has_shared_span_context() || c.shared_span_context().value()),
      w3c_(c.trace_context_option() == zv3::ZipkinConfig::USE_B3_WITH_W3C_PROPAGATION),
      rows_(store.rows()) {
  if (cluster_.empty()) throw ConfigError(path + ".collector_cluster: must not be empty");
  if (endpoint_.empty() || endpoint_[0] != '/')
    throw ConfigError(path + ".collector_endpoint: must be a path such as /api/v2/spans");
  if (c.collector_endpoint_version() != zv3::ZipkinConfig::HTTP_JSON)
    throw ConfigError(path + ".collector_endpoint_version: only HTTP_JSON is supported by weft-proxy");
  if (c.split_spans_for_request()) throw ConfigError(path + ".split_spans_for_request: not supported by weft-proxy");
  stats_ = store.scope("tracing.zipkin.", ZipkinStats::kDefs, ZipkinStats::kCount);
  reporter_ = std::thread([this] { run(); });
}

ZipkinTracer::~ZipkinTracer() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_one();
  reporter_.join();
}

void ZipkinTracer::report(WorkerContext& worker, std::string span_json) {
  std::string host;
  if (auto cluster = worker.cluster(cluster_)) {
    if (auto h = cluster->chooseHost(nullptr, {})) host = h->address_string;
  }
  if (host.empty()) {
    stats_->inc(ZipkinStats::reports_skipped_no_cluster);
    return;
  }
  Row& row = rows_[stats::tls_row];
  bool full;
  {
    std::lock_guard<std::mutex> lock(row.mu);
    if (row.spans.size() >= kMaxPendingSpans) {
      stats_->inc(ZipkinStats::reports_dropped);
      return;
    }
    row.spans.push_back(std::move(span_json));
    if (row.host != host) row.host = host;
    full = row.spans.size() >= kMinFlushSpans;
  }
  if (full) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      flush_now_ = true;
    }
    wake_.notify_one();
  }
}

void ZipkinTracer::run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    bool timed_out = !wake_.wait_for(lock, kFlushInterval, [this] { return stop_ || flush_now_; });
    if (stop_) break;
    flush_now_ = false;
    lock.unlock();
    if (timed_out) stats_->inc(ZipkinStats::timer_flushed);
    for (Row& row : rows_) {
      std::vector<std::string> spans;
      std::string host;
      {
        std::lock_guard<std::mutex> row_lock(row.mu);
        spans.swap(row.spans);
        host = row.host;
      }
      if (!spans.empty()) send(host, spans);
    }
    lock.lock();
  }
}

void ZipkinTracer::send(const std::string& host, std::vector<std::string>& spans) {
  std::string body = "[";
  for (size_t i = 0; i < spans.size(); ++i) {
    if (i) body += ',';
    body += spans[i];
  }
  body += ']';
  auto colon = host.rfind(':');
  std::string ip = host.substr(0, colon);
  if (ip.size() > 2 && ip.front() == '[') ip = ip.substr(1, ip.size() - 2);
  weft::http::HttpResult r = weft::http::httpRequest("POST", ip, std::stoi(host.substr(colon + 1)), endpoint_,
                                                     std::chrono::seconds(5), hostname_, body, "application/json");
  if (r.status >= 200 && r.status < 300) {
    stats_->inc(ZipkinStats::reports_sent);
    stats_->add(ZipkinStats::spans_sent, spans.size());
  } else {
    stats_->inc(ZipkinStats::reports_failed);
  }
}

}  // namespace weft::proxy::tracing
