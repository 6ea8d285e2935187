#include "proxy/filters/http/fault/fault_filter.h"

#include "common/config/error.h"
#include "proxy/http/filter_registry.h"
#include "proxy/http/route_table.h"
#include "proxy/worker_context.h"

namespace weft::proxy::http::fault {

namespace {
constexpr std::string_view kDelayHeader = "x-envoy-fault-delay-request";
constexpr std::string_view kDelayPercentHeader = "x-envoy-fault-delay-request-percentage";
constexpr std::string_view kAbortHeader = "x-envoy-fault-abort-request";
constexpr std::string_view kAbortGrpcHeader = "x-envoy-fault-abort-grpc-request";
constexpr std::string_view kAbortPercentHeader = "x-envoy-fault-abort-request-percentage";
constexpr std::string_view kDownstreamNodeHeader = "x-envoy-downstream-service-node";

std::optional<uint64_t> headerNumber(const RequestHead& req, std::string_view name) {
  const std::string_view* v = req.find(name);
  return v ? parseDecimal(*v) : std::nullopt;
}

// With header control, the request's percentage header may lower (never raise) the configured one.
Percent effectivePercent(const Percent& configured, bool from_headers, const RequestHead& req,
                         std::string_view header) {
  if (!from_headers) return configured;
  auto n = headerNumber(req, header);
  if (!n) return configured;
  Percent p = configured;
  p.numerator = static_cast<uint32_t>(std::min<uint64_t>(*n, configured.numerator));
  return p;
}
}  // namespace

FaultFilter::FaultFilter(FaultShared& shared, event::Reactor& reactor)
    : shared_(shared), timer_(reactor, [this] { afterDelay(); }) {}

FaultFilter::~FaultFilter() { onDestroy(); }

void FaultFilter::onDestroy() {
  timer_.disarm();
  if (active_) {
    active_ = false;
    shared_.active.fetch_sub(1, std::memory_order_relaxed);
    shared_.stats->dec(FaultStats::active_faults);
  }
}

bool FaultFilter::applies(const FaultConfig& c, const RequestHead& req) const {
  if (!c.delay && !c.abort) return false;
  if (!c.upstream_cluster.empty()) {
    const WeightedTarget* t = cb_->target();
    if (t == nullptr || t->cluster != c.upstream_cluster) return false;
  }
  if (!c.downstream_nodes.empty()) {
    const std::string_view* node = req.find(kDownstreamNodeHeader);
    if (node == nullptr) return false;
    bool listed = false;
    for (const auto& n : c.downstream_nodes) listed = listed || n == *node;
    if (!listed) return false;
  }
  for (const HeaderMatcher& m : c.headers) {
    if (!m.match(req, "http")) return false;
  }
  return true;
}

bool FaultFilter::takeActiveFault(const FaultConfig& c) {
  if (active_) return true;
  uint64_t max =
      cb_->worker().runtime().getInteger(c.max_active_faults_runtime, c.max_active_faults.value_or(UINT64_MAX));
  if (shared_.active.load(std::memory_order_relaxed) >= max) {
    shared_.stats->inc(FaultStats::faults_overflow);
    return false;
  }
  shared_.active.fetch_add(1, std::memory_order_relaxed);
  shared_.stats->inc(FaultStats::active_faults);
  active_ = true;
  return true;
}

std::optional<std::chrono::milliseconds> FaultFilter::delayFor(const FaultConfig& c, const RequestHead& req) {
  if (!c.delay) return std::nullopt;
  std::chrono::milliseconds ms;
  if (c.delay->fixed) {
    ms = *c.delay->fixed;
  } else {
    auto n = headerNumber(req, kDelayHeader);
    if (!n) return std::nullopt;
    ms = std::chrono::milliseconds(*n);
  }
  const runtime::Snapshot& rt = cb_->worker().runtime();
  Percent p = effectivePercent(c.delay->percent, !c.delay->fixed, req, kDelayPercentHeader);
  if (!p.draw(cb_->worker().random(), rt)) return std::nullopt;
  return std::chrono::milliseconds(rt.getInteger(c.delay_duration_runtime, ms.count()));
}

bool FaultFilter::abortFor(const FaultConfig& c, const RequestHead& req, int& http_status, int& grpc_status) {
  if (!c.abort) return false;
  http_status = c.abort->http_status.value_or(-1);
  grpc_status = c.abort->grpc_status.value_or(-1);
  if (c.abort->from_headers) {
    if (auto n = headerNumber(req, kAbortHeader); n && *n >= 200 && *n < 600) http_status = static_cast<int>(*n);
    if (auto n = headerNumber(req, kAbortGrpcHeader); n && *n <= 16) grpc_status = static_cast<int>(*n);
    if (http_status < 0 && grpc_status < 0) return false;
  }
  const runtime::Snapshot& rt = cb_->worker().runtime();
  Percent p = effectivePercent(c.abort->percent, c.abort->from_headers, req, kAbortPercentHeader);
  if (!p.draw(cb_->worker().random(), rt)) return false;
  // Runtime overrides of the status, taken only when valid (as Envoy).
  if (http_status >= 0) {
    uint64_t s = rt.getInteger(c.abort_http_status_runtime, static_cast<uint64_t>(http_status));
    if (s >= 200 && s < 600) http_status = static_cast<int>(s);
  }
  if (grpc_status >= 0) {
    uint64_t s = rt.getInteger(c.abort_grpc_status_runtime, static_cast<uint64_t>(grpc_status));
    if (s <= 16) grpc_status = static_cast<int>(s);
  }
  return true;
}

FilterStatus FaultFilter::decodeHeaders(RequestHead& req, bool) {
  config_ = static_cast<const FaultConfig*>(cb_->perRouteConfig(shared_.filter_name));
  if (config_ == nullptr) config_ = shared_.config.get();
  if (config_ == nullptr || !applies(*config_, req)) return FilterStatus::Continue;
  if (auto delay = delayFor(*config_, req); delay && takeActiveFault(*config_)) {
    shared_.stats->inc(FaultStats::delays_injected);
    cb_->streamInfo().response_flags |= kDelayInjected;
    timer_.arm(*delay);
    return FilterStatus::StopIteration;
  }
  int http_status, grpc_status;
  if (abortFor(*config_, req, http_status, grpc_status) && takeActiveFault(*config_)) {
    abort(http_status, grpc_status);
    return FilterStatus::StopIteration;
  }
  return FilterStatus::Continue;
}

void FaultFilter::afterDelay() {
  int http_status, grpc_status;
  if (abortFor(*config_, cb_->requestHeaders(), http_status, grpc_status)) {
    abort(http_status, grpc_status);
  } else {
    cb_->continueDecoding();
  }
}

void FaultFilter::abort(int http_status, int grpc_status) {
  shared_.stats->inc(FaultStats::aborts_injected);
  LocalReply r;
  r.status = http_status >= 0 ? http_status : 200;  // gRPC status alone: HTTP 200, as Envoy
  r.body = "fault filter abort";
  r.flag = kFaultInjected;
  r.details = "fault_filter_abort";
  r.grpc_status = grpc_status;
  cb_->sendLocalReply(r);
}

// ---- registration ---------------------------------------------------------------------------

namespace {
namespace faultv3 = envoy::extensions::filters::http::fault::v3;

class FaultFactory final : public HttpFilterFactory {
 public:
  std::string_view name() const override { return "envoy.filters.http.fault"; }
  std::vector<std::string_view> configTypes() const override {
    return {"envoy.extensions.filters.http.fault.v3.HTTPFault"};
  }
  config::FieldTable supportedFields() const override {
    return {
        {"envoy.extensions.filters.http.fault.v3.HTTPFault",
         {"delay", "abort", "upstream_cluster", "headers", "downstream_nodes", "max_active_faults",
          "delay_percent_runtime", "abort_percent_runtime", "delay_duration_runtime", "abort_http_status_runtime",
          "max_active_faults_runtime", "abort_grpc_status_runtime"}},
        {"envoy.extensions.filters.common.fault.v3.FaultDelay", {"fixed_delay", "header_delay", "percentage"}},
        {"envoy.extensions.filters.common.fault.v3.FaultDelay.HeaderDelay", {}},
        {"envoy.extensions.filters.http.fault.v3.FaultAbort",
         {"http_status", "grpc_status", "header_abort", "percentage"}},
        {"envoy.extensions.filters.http.fault.v3.FaultAbort.HeaderAbort", {}},
        {"envoy.type.v3.FractionalPercent", {"numerator", "denominator"}},
    };
  }
  FilterFactoryCb compile(const google::protobuf::Any& any, const std::string& path,
                          FilterFactoryContext& ctx) const override {
    faultv3::HTTPFault proto;
    if (!any.type_url().empty() && !any.UnpackTo(&proto)) throw ConfigError(path + ": cannot decode an HTTPFault");
    auto shared = std::make_shared<FaultShared>();
    shared->config = FaultConfig::compile(proto, path);
    shared->filter_name = std::string(ctx.filter_name);
    std::string prefix(ctx.stat_prefix);
    shared->stats = ctx.store.scope("http." + prefix + ".fault.", FaultStats::kDefs, FaultStats::kCount,
                                    {{"envoy_http_conn_manager_prefix", prefix}});
    return [shared](FilterChainBuilder& chain) { chain.addDecoder<FaultFilter>(*shared, chain.worker().reactor()); };
  }
  std::shared_ptr<const RouteSpecificFilterConfig> compilePerRoute(const google::protobuf::Any& any,
                                                                   const std::string& path,
                                                                   stats::Store*) const override {
    faultv3::HTTPFault proto;
    if (!any.UnpackTo(&proto)) throw ConfigError(path + ": cannot decode an HTTPFault");
    return FaultConfig::compile(proto, path);
  }
};
}  // namespace

WEFT_REGISTER_HTTP_FILTER(FaultFactory);

}  // namespace weft::proxy::http::fault
