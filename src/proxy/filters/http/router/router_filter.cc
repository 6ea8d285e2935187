#include "proxy/filters/http/router/router_filter.h"
#include "proxy/telemetry/istio_metrics.h"

#include "common/config/error.h"
#include "common/strings.h"
#include "envoy/extensions/filters/http/router/v3/router.pb.h"
#include "proxy/http/filter_registry.h"
#include "proxy/http/grpc.h"
#include "proxy/http/hcm_config.h"
#include "proxy/http/request_encoder.h"
#include "proxy/http/response_encoder.h"
#include "proxy/http/route_action.h"
#include "proxy/http/stream_stats.h"
#include "proxy/worker_context.h"

namespace weft::proxy::http {

namespace {
constexpr std::string_view kUpstreamFailurePrefix =
    "upstream connect error or disconnect/reset before headers. reset reason: ";

// auto_sni: the SNI for this request's upstream connection, from override_auto_sni_header or
// the host sent upstream, without its port; none for an IP address (as Envoy).
std::string autoSni(const upstream::ClusterConfig& c, const RequestHead& req, std::string_view upstream_host) {
  if (!c.auto_sni || !c.tls) return {};
  std::string_view name = upstream_host;
  if (!c.override_auto_sni_header.empty()) {
    const std::string_view* v = req.find(c.override_auto_sni_header);
    if (v != nullptr && !v->empty()) name = *v;
  }
  if (!name.empty() && name.front() == '[') return {};  // [v6]:port
  if (auto colon = name.rfind(':'); colon != std::string_view::npos) name = name.substr(0, colon);
  if (name.empty() || net::Address::parse(std::string(name), 0)) return {};
  return weft::toLower(name);
}
}  // namespace

RouterFilter::RouterFilter(const RouterConfig& config, event::Reactor& reactor)
    : config_(config),
      reactor_(reactor),
      timer_(reactor, [this] { onTimeout(); }),
      retry_timer_(reactor, [this] { retryNow(); }),
      per_try_timer_(reactor, [this] { onPerTryTimeout(false); }),
      per_try_idle_timer_(reactor, [this] { onPerTryTimeout(true); }) {}

RouterFilter::~RouterFilter() { abortUpstream(); }

void RouterFilter::reply(int status, std::string_view body, uint32_t flag, std::string_view details,
                         const MutationChain* mutations, std::string_view location) {
  LocalReply r;
  r.status = status;
  r.body = body;
  r.flag = flag;
  r.details = details;
  r.mutations = mutations;
  r.location = location;
  cb_->sendLocalReply(r);
}

FilterStatus RouterFilter::decodeHeaders(RequestHead& req, bool end_stream) {
  const HcmConfig& hcm = cb_->hcm();
  stats::Scope& stats = *hcm.stats;
  const Route* route = cb_->route();
  if (route == nullptr) {
    stats.inc(HcmStats::no_route);
    reply(404, "", kNoRouteFound, "route_not_found");
    return FilterStatus::Continue;
  }
  const RouteTable* table = cb_->routeTable();
  request_mutations_.sets[1] = &route->request_mutations;
  request_mutations_.sets[2] = &cb_->virtualHost()->request_mutations;
  request_mutations_.sets[3] = &table->requestMutations();
  response_mutations_.sets[1] = &route->response_mutations;
  response_mutations_.sets[2] = &cb_->virtualHost()->response_mutations;
  response_mutations_.sets[3] = &table->responseMutations();
  net::Connection& downstream = cb_->downstreamConnection();
  std::string_view scheme = downstream.tls() ? "https" : "http";
  if (route->action == Route::ActionKind::DirectResponse) {
    stats.inc(HcmStats::rq_direct_response);
    reply(route->direct_status, route->direct_body, 0, "direct_response", &response_mutations_);
    return FilterStatus::Continue;
  }
  if (route->action == Route::ActionKind::Redirect) {
    stats.inc(HcmStats::rq_redirect);
    reply(route->redirect.status, "", 0, "redirect", &response_mutations_,
          cb_->keep(redirectLocation(*route, req, scheme)));
    return FilterStatus::Continue;
  }
  const WeightedTarget* target = cb_->target();
  request_mutations_.sets[0] = &target->request_mutations;
  response_mutations_.sets[0] = &target->response_mutations;
  cluster_ = cb_->worker().cluster(target->cluster, route->high_priority);
  if (!cluster_) {
    stats.inc(HcmStats::no_cluster);
    reply(503, "", kNoClusterFound, "cluster_not_found");
    return FilterStatus::Continue;
  }
  std::string_view override_host;
  if (!cluster_->config().original_dst_header.empty()) {
    if (const auto* v = req.find(cluster_->config().original_dst_header)) override_host = *v;
  }
  if (route->hash_policy && cluster_->config().consistentHash()) {
    hash_ = route->hash_policy->hash(req, downstream.remoteAddress(), downstream.localAddress(), &set_cookie_);
  }
  std::shared_ptr<const upstream::Host> host = cluster_->chooseHost(&downstream.localAddress(), override_host, hash_);
  if (!host) {
    cluster_->stats().inc(upstream::ClusterStats::upstream_cx_none_healthy);
    reply(503, "no healthy upstream", kNoHealthyUpstream, "no_healthy_upstream");
    return FilterStatus::Continue;
  }
  std::string_view upgrade;
  if (req.upgrade) {
    const std::string_view* u = req.find("upgrade");
    if (u == nullptr || !hcm.upgradeAllowed(*u)) {
      reply(403, "", 0, "upgrade_failed");
      return FilterStatus::Continue;
    }
    upgrade = *u;
  }
  StreamInfo& info = cb_->streamInfo();
  info.upstream_host = host->address_string;
  info.upstream_start = reactor_.now();
  timeout_ = requestTimeout(*route, req, cb_->isGrpc());

  UpstreamHead head;
  head.req = &req;
  head.hcm = &hcm;
  head.remote = &downstream.remoteAddress();
  head.scheme = scheme;
  head.mutations = request_mutations_;
  head.upgrade = upgrade;
  head.timeout = timeout_;
  head.suppress_envoy_headers = config_.suppress_envoy_headers;
  // An HTTP/1.1 upstream needs framing for a body of unknown length.
  head.chunked_body = !end_stream && !req.content_length;
  std::string rewritten = rewrittenPath(*route, req);
  head.path = rewritten.empty() ? req.target : std::string_view(rewritten);
  head.path_rewritten = !rewritten.empty();
  head.host = route->host_rewrite.empty() ? req.host : std::string_view(route->host_rewrite);
  head.generated_request_id = cb_->generatedRequestId();
  head.trace = cb_->traceContext();
  const VirtualHost& vhost = *cb_->virtualHost();
  if (vhost.include_request_attempt_count) head.attempt_count = "1";
  attempt_count_in_response_ = vhost.include_attempt_count_in_response;
  if (route->retry && !req.upgrade && route->retry->requestRetriable(req, scheme)) {
    retry_ = route->retry.get();
    retry_head_ = std::make_unique<OwnedUpstreamHead>(head);
  }

  // Mirrors first: the main attempt may fail at once and end the stream, and the head with it.
  if (!route->mirrors.empty()) startShadows(*route, head, end_stream);
  startAttempt(std::move(host), &head, end_stream);
  if (end_stream) requestEnded();
  return FilterStatus::Continue;
}

void RouterFilter::startShadows(const Route& route, const UpstreamHead& head, bool end_stream) {
  for (const MirrorPolicy& m : route.mirrors) {
    if (m.fraction && !m.fraction->draw(cb_->worker().random(), cb_->worker().runtime())) continue;
    auto cluster = cb_->worker().cluster(m.cluster);
    if (!cluster) continue;
    // As Envoy's shadows, the route's timeout; without one, Envoy's default route timeout.
    auto timeout = timeout_.count() > 0 ? timeout_ : std::chrono::milliseconds(15000);
    ShadowRequest* s =
        ShadowRequest::start(std::move(cluster), reactor_, head, end_stream, cb_->isHttp2(), timeout, m.host_suffix);
    if (s != nullptr) shadows_.push_back(s);
  }
  if (end_stream) releaseShadows(false);
}

void RouterFilter::releaseShadows(bool abort) {
  for (ShadowRequest* s : shadows_) {
    if (abort) {
      s->abort();
    } else {
      s->release();
    }
  }
  shadows_.clear();
}

void RouterFilter::startAttempt(std::shared_ptr<const upstream::Host> host, const UpstreamHead* first_head,
                                bool end_stream) {
  ++attempts_;
  tried_.push_back(host.get());
  const RequestHead& req = cb_->requestHeaders();
  const UpstreamHead& head = first_head ? *first_head : retry_head_->head();
  cb_->streamInfo().upstream_host = host->address_string;
  upstream_ = newUpstreamStream(*this, *cluster_, std::move(host), reactor_, req.method == "HEAD", upstream_head_,
                                cb_->isHttp2(), req.upgrade, autoSni(cluster_->config(), *head.req, head.host));
  upstream_->start();
  if (!upstream_) return;  // failed at once (circuit breaker overflow)
  if (first_head) {
    upstream_->sendHeaders(head, end_stream);
  } else {
    // A retry: the whole request as far as it has come.
    bool body_end = request_end_ && !have_trailers_;
    upstream_->sendHeaders(head, body_end && retry_body_.size() == 0);
    if (upstream_ && retry_body_.size() > 0) upstream_->sendData(retry_body_.view(), body_end);
    if (upstream_ && have_trailers_) upstream_->sendTrailers(retry_trailers_);
    // The body was held while the retry waited: let it flow again.
    if (upstream_ && !request_end_ && !upstream_->aboveWriteLimit()) cb_->onDecoderDrained();
  }
  scheduleFlush();
  armPerTryTimer();
}

void RouterFilter::armPerTryTimer() {
  // Envoy's per_try_timeout runs from when the request has been sent whole.
  if (retry_ && retry_->per_try_timeout.count() > 0 && request_end_ && upstream_) {
    per_try_timer_.arm(retry_->per_try_timeout);
  }
  touchPerTryIdle();
}

// per_try_idle_timeout, like per_try_timeout, starts once the request is sent whole; it keeps
// running while the response streams back.
void RouterFilter::touchPerTryIdle() {
  if (retry_ && retry_->per_try_idle_timeout.count() > 0 && request_end_ && upstream_) {
    per_try_idle_timer_.arm(retry_->per_try_idle_timeout);
  }
}

bool RouterFilter::maybeRetry(bool retriable, uint32_t flag) {
  if (!retry_ || !retriable) return false;
  if (attempts_ > retry_->num_retries || !retry_body_ok_) {
    if (retry_body_ok_) {
      cluster_->stats().inc(upstream::ClusterStats::upstream_rq_retry_limit_exceeded);
      cb_->streamInfo().response_flags |= kUpstreamRetryLimitExceeded;
    }
    return false;
  }
  releaseRetry();
  if (!cluster_->limits().tryAcquireRetry()) {
    cluster_->stats().inc(upstream::ClusterStats::upstream_rq_retry_overflow);
    return false;
  }
  holds_retry_ = true;
  (void)flag;
  per_try_timer_.disarm();
  per_try_idle_timer_.disarm();
  abortUpstream();
  cluster_->stats().inc(upstream::ClusterStats::upstream_rq_retry);
  cluster_->stats().inc(upstream::ClusterStats::upstream_rq_retry_backoff_exponential);
  retry_timer_.arm(retry_->backoff(attempts_, cb_->worker().random().next()));
  return true;
}

void RouterFilter::retryNow() {
  const net::Connection& downstream = cb_->downstreamConnection();
  std::string_view override_host;
  if (!cluster_->config().original_dst_header.empty()) {
    if (const auto* v = retry_head_->head().req->find(cluster_->config().original_dst_header)) override_host = *v;
  }
  std::shared_ptr<const upstream::Host> host;
  // Envoy's previous_priorities: every update_frequency attempts, the priorities tried so far
  // are set aside (while any other priority has healthy hosts).
  uint32_t every = retry_->previous_priorities_frequency;
  if (every > 0 && tried_.size() % every == 0) {
    for (const auto* t : tried_) excluded_priorities_ |= uint64_t{1} << t->priority;
  }
  uint32_t tries = retry_->previous_hosts ? retry_->host_selection_max_attempts : 1;
  for (uint32_t i = 0; i < tries; ++i) {
    host = cluster_->chooseHost(&downstream.localAddress(), override_host, hash_, i, excluded_priorities_);
    if (!host || !retry_->previous_hosts) break;
    bool seen = false;
    for (const auto* t : tried_) seen = seen || t == host.get();
    if (!seen) break;
  }
  if (!host) {
    releaseRetry();
    cluster_->stats().inc(upstream::ClusterStats::upstream_cx_none_healthy);
    reply(503, "no healthy upstream", kNoHealthyUpstream, "no_healthy_upstream");
    return;
  }
  if (cb_->virtualHost()->include_request_attempt_count) retry_head_->setAttemptCount(attempts_ + 1);
  startAttempt(std::move(host), nullptr, false);
}

void RouterFilter::releaseRetry() {
  if (!holds_retry_) return;
  holds_retry_ = false;
  cluster_->limits().retries.release();
}

void RouterFilter::onPerTryTimeout(bool idle) {
  if (!upstream_) return;
  per_try_timer_.disarm();
  per_try_idle_timer_.disarm();
  reportResult(upstream::OutlierDetector::Result::kTimeout);
  cluster_->stats().inc(idle ? upstream::ClusterStats::upstream_rq_per_try_idle_timeout
                             : upstream::ClusterStats::upstream_rq_per_try_timeout);
  // As Envoy: a per-try timeout is retried when 5xx, gateway-error or reset are asked for, and
  // only before the response has started.
  bool retriable =
      !response_started_ && (retry_->retry_on & (RetryPolicy::k5xx | RetryPolicy::kGatewayError | RetryPolicy::kReset));
  if (maybeRetry(retriable, kUpstreamRequestTimeout)) return;
  timer_.disarm();
  replyTimeout(idle ? "upstream_per_try_idle_timeout" : "upstream_per_try_timeout");
}

// Envoy's answer to a route or per-try timeout: 504 UT, DEADLINE_EXCEEDED for gRPC.
void RouterFilter::replyTimeout(std::string_view details) {
  abortUpstream();
  LocalReply r;
  r.status = 504;
  r.body = "upstream request timeout";
  r.flag = kUpstreamRequestTimeout;
  r.details = details;
  r.grpc_status = grpc::kDeadlineExceeded;
  cb_->sendLocalReply(r);
}

FilterStatus RouterFilter::decodeData(std::string_view data, bool end_stream) {
  if (retry_ && retry_body_ok_ && !request_end_) {
    // Kept for a retry up to the cluster's buffer limit; past it the request is not retried.
    if (retry_body_.size() + data.size() > cluster_->config().buffer_limit) {
      retry_body_ok_ = false;
      retry_body_.clear();
    } else {
      retry_body_.append(data);
    }
  }
  if (upstream_ && !request_end_) {
    upstream_->sendData(data, end_stream);
    scheduleFlush();
  }
  for (ShadowRequest* s : shadows_) s->sendData(data, end_stream);
  if (end_stream) requestEnded();
  return FilterStatus::Continue;
}

FilterStatus RouterFilter::decodeTrailers(std::vector<Header>& trailers) {
  if (retry_ && !request_end_) {
    have_trailers_ = true;
    for (const Header& t : trailers) retry_trailer_strings_.emplace_back(std::string(t.name), std::string(t.value));
    for (const auto& [n, v] : retry_trailer_strings_) retry_trailers_.push_back({n, v});
  }
  if (upstream_ && !request_end_) {
    upstream_->sendTrailers(trailers);
    scheduleFlush();
  }
  for (ShadowRequest* s : shadows_) s->sendTrailers(trailers);
  requestEnded();
  return FilterStatus::Continue;
}

// While a retry waits for its backoff, the request body waits in the socket (or the peer's
// window), not in memory.
bool RouterFilter::decoderAboveWriteLimit() const {
  return retry_timer_.armed() || (upstream_ && upstream_->aboveWriteLimit());
}

void RouterFilter::scheduleFlush() { reactor_.scheduleFlush(this); }

void RouterFilter::onFlush() {
  if (upstream_) upstream_->flush();
}

// The route timeout runs from the end of the request, as Envoy's does.
void RouterFilter::requestEnded() {
  if (request_end_) return;
  request_end_ = true;
  releaseShadows(false);
  if ((upstream_ || retry_timer_.armed()) && timeout_.count() > 0) timer_.arm(timeout_);
  armPerTryTimer();
}

void RouterFilter::onTimeout() {
  if (!upstream_ && !retry_timer_.armed()) return;
  if (upstream_) reportResult(upstream::OutlierDetector::Result::kTimeout);
  retry_timer_.disarm();
  per_try_timer_.disarm();
  per_try_idle_timer_.disarm();
  releaseRetry();
  cb_->hcm().stats->inc(HcmStats::downstream_rq_timeout);
  cluster_->stats().inc(upstream::ClusterStats::upstream_rq_timeout);
  replyTimeout("response_timeout");
}

// ---- the response ---------------------------------------------------------------------------

void RouterFilter::onUpstreamFailure(uint32_t flag, std::string_view reason) {
  // A circuit breaker's overflow says nothing about the host.
  if (flag != kUpstreamOverflow) reportResult(upstream::OutlierDetector::Result::kConnectFailed);
  if (upstream_) reactor_.deferDelete(std::move(upstream_));
  per_try_timer_.disarm();
  per_try_idle_timer_.disarm();
  if (retry_ && maybeRetry(retry_->retriableFailure(flag, reason), flag)) return;
  releaseRetry();
  timer_.disarm();
  cb_->streamInfo().transport_failure = reason;
  std::string_view body = cb_->keep(std::string(kUpstreamFailurePrefix) + std::string(reason));
  reply(503, body, flag, upstreamFailureDetails(flag));
}

void RouterFilter::onUpstreamHeaders(const ResponseHead& head, bool end_stream) {
  per_try_timer_.disarm();
  touchPerTryIdle();
  if (const net::Address* local = upstream_->localAddress()) cb_->streamInfo().upstream_local = *local;
  if (net::Connection* c = upstream_->connection(); c != nullptr && c->tls())
    cb_->streamInfo().upstream_principals = telemetry::upstreamPrincipals(*c);
  if (cluster_->config().outlier) {
    // gRPC: the grpc-status decides, from a trailers-only response now or from the trailers.
    const std::string_view* g = cb_->isGrpc() ? head.find("grpc-status") : nullptr;
    if (g != nullptr) {
      int status = grpc::parseStatus(*g);
      reportStatus(status < 0 ? 500 : static_cast<uint64_t>(grpc::httpForStatus(status)));
    } else if (cb_->isGrpc() && !end_stream && head.status == 200) {
      grpc_result_pending_ = true;
    } else {
      reportStatus(static_cast<uint64_t>(head.status));
    }
  }
  if (retry_) {
    if (maybeRetry(retry_->retriableResponse(head, cb_->isGrpc()), 0)) {
      countUpstreamResponse(cluster_.get(), head.status);
      return;
    }
    if (attempts_ > 1 && !retry_->retriableResponse(head, cb_->isGrpc()))
      cluster_->stats().inc(upstream::ClusterStats::upstream_rq_retry_success);
    releaseRetry();
  }
  response_started_ = true;
  StreamInfo& info = cb_->streamInfo();
  info.first_upstream_byte = reactor_.now();
  info.response_code_details = "via_upstream";
  countUpstreamResponse(cluster_.get(), head.status);
  std::string_view service_time;
  if (!config_.suppress_envoy_headers) {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(reactor_.now() - info.upstream_start).count();
    int n = std::snprintf(service_time_, sizeof(service_time_), "%lld", static_cast<long long>(ms));
    service_time = std::string_view(service_time_, static_cast<size_t>(n));
  }
  response_.clear();
  response_.status = head.status;
  response_.version = head.version;
  response_.content_length = head.content_length;
  response_.headers.reserve(head.headers.size() + 4);
  forEachResponseHeader(head, response_mutations_, service_time, [&](std::string_view n, std::string_view v) {
    response_.headers.push_back({n, v});
  });
  if (!set_cookie_.empty()) response_.headers.push_back({"set-cookie", set_cookie_});
  if (attempt_count_in_response_) {
    int n = std::snprintf(attempt_count_, sizeof(attempt_count_), "%u", attempts_);
    response_.headers.push_back({"x-envoy-attempt-count", std::string_view(attempt_count_, static_cast<size_t>(n))});
  }
  // A response that ends here goes on once the upstream is released (onUpstreamComplete):
  // the stream may finish, and its filters go, as soon as the response is complete.
  if (end_stream) {
    end_with_headers_ = true;
    return;
  }
  cb_->encodeHeaders(response_, false);
}

void RouterFilter::onUpstreamBody(std::string_view data) {
  touchPerTryIdle();
  cb_->encodeData(data, false);
  if (upstream_ && !paused_ && cb_->downstreamAboveWriteLimit()) {
    paused_ = true;
    upstream_->readDisable(true);
  }
}

void RouterFilter::onUpstreamTrailers(const std::vector<Header>& trailers) {
  touchPerTryIdle();
  if (grpc_result_pending_) {
    int status = -1;
    for (const Header& t : trailers) {
      if (t.name == "grpc-status") status = grpc::parseStatus(t.value);
    }
    reportStatus(status < 0 ? 200 : static_cast<uint64_t>(grpc::httpForStatus(status)));
  }
  trailers_ = trailers;
  end_with_trailers_ = true;
}

void RouterFilter::onUpstreamComplete() {
  timer_.disarm();
  per_try_idle_timer_.disarm();
  if (cluster_ && cluster_->config().rq_time) {
    const auto& f = cluster_->config().rq_time;
    f->observe(f->series(cluster_->config().name),
               std::chrono::duration<double, std::milli>(reactor_.now() - cb_->streamInfo().upstream_start).count());
  }
  if (grpc_result_pending_) reportStatus(200);  // no trailers: the HTTP status stands
  if (upstream_) {
    upstream_->release(request_end_);
    reactor_.deferDelete(std::move(upstream_));
  }
  if (end_with_headers_) {
    cb_->encodeHeaders(response_, true);
  } else if (end_with_trailers_) {
    cb_->encodeTrailers(trailers_);
  } else {
    cb_->encodeData({}, true);
  }
  cb_->flushDownstream();
}

void RouterFilter::onUpstreamResetAfterHeaders() {
  if (upstream_) reactor_.deferDelete(std::move(upstream_));
  timer_.disarm();
  per_try_idle_timer_.disarm();
  cb_->resetStream(kUpstreamConnectionTermination);
}

void RouterFilter::onUpstreamUpgraded(const ResponseHead& head) {
  timer_.disarm();
  cb_->streamInfo().first_upstream_byte = reactor_.now();
  net::Connection* tunnel = upstream_ ? upstream_->tunnelConnection() : nullptr;
  if (tunnel == nullptr) {
    cb_->resetStream(kUpstreamProtocolError);
    return;
  }
  cb_->upgradeTunnel(head, *tunnel);
}

void RouterFilter::onUpstreamWriteDrained() { cb_->onDecoderDrained(); }

void RouterFilter::onUpstreamDataDone() { cb_->flushDownstream(); }

void RouterFilter::onDownstreamAboveWriteLimit(bool above) {
  if (paused_ == above || !upstream_) return;
  paused_ = above;
  upstream_->readDisable(above);
}

void RouterFilter::reportStatus(uint64_t status) {
  grpc_result_pending_ = false;
  upstream::OutlierDetector* od = cluster_->config().outlier.get();
  if (od != nullptr && !tried_.empty()) od->putHttpStatus(*tried_.back(), status);
}

void RouterFilter::reportResult(upstream::OutlierDetector::Result result) {
  upstream::OutlierDetector* od = cluster_->config().outlier.get();
  if (od != nullptr && !tried_.empty()) od->putResult(*tried_.back(), result);
}

// ---- the end --------------------------------------------------------------------------------

void RouterFilter::abortUpstream() {
  if (!upstream_) return;
  upstream_->abort();
  reactor_.deferDelete(std::move(upstream_));
}

void RouterFilter::onLocalReply() {
  releaseShadows(true);
  timer_.disarm();
  retry_timer_.disarm();
  per_try_timer_.disarm();
  per_try_idle_timer_.disarm();
  releaseRetry();
  abortUpstream();
}

void RouterFilter::onStreamComplete() {
  int status = cb_->grpcStatus();
  if (!cb_->isGrpc() || !cluster_) return;
  stats::Scope& g = *cluster_->config().grpc_stats;
  g.inc(upstream::GrpcStats::kTotal);
  g.inc(status == 0 ? upstream::GrpcStats::kSuccess : upstream::GrpcStats::kFailure);
  if (status >= 0 && status <= 16) g.inc(static_cast<size_t>(status));
}

void RouterFilter::onDestroy() {
  releaseShadows(true);
  timer_.disarm();
  retry_timer_.disarm();
  per_try_timer_.disarm();
  per_try_idle_timer_.disarm();
  releaseRetry();
  abortUpstream();
  reactor_.cancelFlush(this);
}

// ---- registration ---------------------------------------------------------------------------

namespace {
class RouterFactory final : public HttpFilterFactory {
 public:
  std::string_view name() const override { return "envoy.filters.http.router"; }
  std::vector<std::string_view> configTypes() const override {
    return {"envoy.extensions.filters.http.router.v3.Router"};
  }
  config::FieldTable supportedFields() const override {
    return {{"envoy.extensions.filters.http.router.v3.Router", {"suppress_envoy_headers"}}};
  }
  bool terminal() const override { return true; }
  FilterFactoryCb compile(const google::protobuf::Any& any, const std::string& path,
                          FilterFactoryContext&) const override {
    envoy::extensions::filters::http::router::v3::Router proto;
    if (!any.type_url().empty() && !any.UnpackTo(&proto)) throw ConfigError(path + ": cannot decode a Router");
    auto config = std::make_shared<RouterConfig>();
    config->suppress_envoy_headers = proto.suppress_envoy_headers();
    return [config](FilterChainBuilder& chain) { chain.addDecoder<RouterFilter>(*config, chain.worker().reactor()); };
  }
};
}  // namespace

WEFT_REGISTER_HTTP_FILTER(RouterFactory);

}  // namespace weft::proxy::http
