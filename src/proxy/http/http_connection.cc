#include "proxy/http/http_connection.h"

#include <boost/beast/http/error.hpp>

#include "common/uuid.h"
#include "proxy/http/request_encoder.h"
#include "proxy/network/listener_config.h"
#include "proxy/server/worker.h"

namespace weft::proxy::http {

using std::chrono::milliseconds;

namespace {
constexpr std::string_view kUpstreamFailurePrefix = "upstream connect error or disconnect/reset before headers. reset reason: ";
}

HttpConnection::HttpConnection(server::Worker& worker, std::unique_ptr<net::Connection> conn,
                               std::shared_ptr<const HcmConfig> hcm, std::shared_ptr<stats::Scope> listener_stats)
    : worker_(worker),
      conn_(std::move(conn)),
      hcm_(std::move(hcm)),
      listener_stats_(std::move(listener_stats)),
      stats_(*hcm_->stats),
      stream_timer_(worker.reactor(), [this] { onStreamTimer(); }),
      idle_timer_(worker.reactor(), [this] {
        stats_.inc(HcmStats::downstream_cx_idle_timeout);
        closeConnection();
      }) {
  info_.request_headers.resize(hcm_->capture.request.size());
  info_.response_headers.resize(hcm_->capture.response.size());
  info_.downstream_remote = &conn_->remoteAddress();
  info_.downstream_local = &conn_->localAddress();
}

HttpConnection::~HttpConnection() = default;

void HttpConnection::start() {
  stats_.inc(HcmStats::downstream_cx_total);
  stats_.inc(HcmStats::downstream_cx_http1_total);
  stats_.inc(HcmStats::downstream_cx_active);
  conn_->setCallbacks(this);
  last_activity_ = worker_.reactor().now();
  if (hcm_->idle_timeout.count() > 0) idle_timer_.arm(hcm_->idle_timeout);
}

// ---- downstream input -----------------------------------------------------------------

void HttpConnection::onData(net::Connection&) {
  last_activity_ = worker_.reactor().now();
  process();
  flushBoth();
}

void HttpConnection::process() {
  if (in_process_) {
    process_again_ = true;
    return;
  }
  in_process_ = true;
  do {
    process_again_ = false;
    while (!destroyed_ && processOnce()) {
    }
  } while (process_again_ && !destroyed_);
  in_process_ = false;
}

// One step of the request state machine; false when it must wait for more input or for
// the current response.
bool HttpConnection::processOnce() {
  if (relay_ || !conn_ || conn_->closed()) return false;
  Buffer& in = conn_->input();
  switch (req_state_) {
    case RequestState::Headers: {
      if (stream_active_ || in.empty()) return false;
      if (!headComplete(in.view(), head_scanned_)) {
        // Too big, or big enough to fill the buffer we read into: it will never complete.
        if (in.size() > hcm_->max_request_headers_bytes || in.size() >= conn_->readLimit()) {
          protocolError(431, "request_headers_too_large");
        }
        return false;
      }
      if (!parser_) {
        req_.clear();
        parser_.emplace(req_, *this, hcm_->max_request_headers_bytes);
      }
      ParseError ec;
      size_t n = parser_->feed(in.data(), in.size(), ec);
      if (ec == beast_http::error::need_more) {
        protocolError(400, "incomplete_request_head");
        return false;
      }
      if (ec) {
        bool too_large = ec == beast_http::error::header_limit;
        protocolError(too_large ? 431 : 400, too_large ? "request_headers_too_large" : ec.message());
        return false;
      }
      if (!parser_->is_header_done()) {
        in.drain(n);
        return n > 0;
      }
      onRequestHeaders();  // reads views into `in`
      if (destroyed_ || !conn_) return false;
      in.drain(n);
      if (req_state_ == RequestState::Done) onRequestComplete();
      return true;
    }
    case RequestState::Body: {
      if (in.empty()) {
        conn_->resumeReading();
        return false;
      }
      if (upstream_ && upstream_->aboveWriteLimit()) return false;  // resumes in onUpstreamWriteDrained
      ParseError ec;
      size_t n = parser_->feed(in.data(), in.size(), ec);
      if (ec == beast_http::error::need_more) {
        in.drain(n);
        return false;
      }
      if (ec) {
        protocolError(400, ec.message());
        return false;
      }
      in.drain(n);
      if (destroyed_) return false;
      if (parser_->is_done()) {
        onRequestComplete();
        return true;
      }
      return n > 0;
    }
    case RequestState::Done:
      if (stream_active_) return false;
      req_state_ = RequestState::Headers;
      return !in.empty();
  }
  return false;
}

void HttpConnection::onRequestHeaders() {
  auto now = worker_.reactor().now();
  stream_active_ = true;
  response_started_ = response_done_ = false;
  response_chunked_ = response_close_delimited_ = false;
  route_ = nullptr;
  vhost_ = nullptr;
  target_ = nullptr;
  cluster_ = nullptr;
  response_mutations_ = MutationChain{};
  info_.reset();
  info_.start = now;
  info_.start_time = std::chrono::system_clock::now();
  idle_timer_.disarm();
  stats_.inc(HcmStats::downstream_rq_total);
  stats_.inc(HcmStats::downstream_rq_http1_total);
  stats_.inc(HcmStats::downstream_rq_active);
  keep_alive_ = req_.keep_alive;
  request_version_ = req_.version;
  info_.protocol = req_.version == 10 ? "HTTP/1.0" : "HTTP/1.1";
  is_head_ = req_.method == "HEAD";
  parser_->eager(true);
  req_state_ = parser_->is_done() ? RequestState::Done : RequestState::Body;
  if (!info_.request_headers.empty()) captureRequestHeaders();

  request_deadline_ = hcm_->request_timeout.count() > 0 ? now + hcm_->request_timeout : event::TimePoint{};
  route_deadline_ = {};
  armStreamTimer();

  if (req_.version == 10 && !hcm_->accept_http_10) {
    close_after_response_ = true;
    localReply(426, "", 0, "low_version");
    return;
  }
  if (parser_->unsupportedTransferEncoding()) {
    protocolError(501, "unsupported_transfer_encoding");
    return;
  }
  if (req_.host.empty() && req_.version == 11) {
    protocolError(400, "missing_host_header");
    return;
  }
  if (req_.expect_continue && req_state_ == RequestState::Body) {
    conn_->output().append("HTTP/1.1 100 Continue\r\n\r\n");
  }
  generateRequestId();
  std::string_view host = req_.host;
  if (hcm_->strip_port != HcmConfig::StripPort::None && !host.empty() && host.back() != ']') {
    auto colon = host.rfind(':');
    if (colon != std::string_view::npos) {
      std::string_view port = host.substr(colon + 1);
      bool strip = hcm_->strip_port == HcmConfig::StripPort::Any ||
                   port == std::to_string(conn_->localAddress().port());
      if (strip) host = host.substr(0, colon);
    }
  }
  routeRequest(host);
}

void HttpConnection::routeRequest(std::string_view host) {
  std::string_view saved_host = req_.host;
  req_.host = host;
  // An RDS table is held for the stream: a route update must not free the route in use.
  if (!hcm_->routes) rds_table_ = worker_.routeTable(hcm_->rds_name);
  const RouteTable* table = hcm_->routes ? hcm_->routes.get() : rds_table_.get();
  route_ = table ? table->route(req_, "http", &vhost_) : nullptr;
  req_.host = saved_host;
  if (route_ == nullptr) {
    stats_.inc(HcmStats::no_route);
    localReply(404, "", kNoRouteFound, "route_not_found");
    return;
  }
  info_.route_name = route_->name;
  MutationChain req_mutations;
  req_mutations.sets[1] = &route_->request_mutations;
  req_mutations.sets[2] = &vhost_->request_mutations;
  req_mutations.sets[3] = &table->requestMutations();
  response_mutations_.sets[1] = &route_->response_mutations;
  response_mutations_.sets[2] = &vhost_->response_mutations;
  response_mutations_.sets[3] = &table->responseMutations();

  if (route_->action == Route::ActionKind::DirectResponse) {
    stats_.inc(HcmStats::rq_direct_response);
    localReply(route_->direct_status, route_->direct_body, 0, "direct_response", &response_mutations_);
    return;
  }
  if (route_->action == Route::ActionKind::Redirect) {
    stats_.inc(HcmStats::rq_redirect);
    sendRedirect(*route_, response_mutations_);
    return;
  }

  // Weighted split: a uniform draw over the total weight picks the cluster.
  if (route_->targets.size() == 1) {
    target_ = &route_->targets[0];
  } else {
    uint64_t r = worker_.random().below(route_->total_weight);
    for (const auto& t : route_->targets) {
      if (r < t.weight) {
        target_ = &t;
        break;
      }
      r -= t.weight;
    }
  }
  req_mutations.sets[0] = &target_->request_mutations;
  response_mutations_.sets[0] = &target_->response_mutations;
  cluster_ = worker_.cluster(target_->cluster);
  upstream::WorkerCluster* cluster = cluster_.get();
  info_.upstream_cluster = target_->cluster;
  if (cluster == nullptr) {
    stats_.inc(HcmStats::no_cluster);
    localReply(503, "", kNoClusterFound, "cluster_not_found");
    return;
  }
  std::string_view upgrade;
  if (req_.upgrade) {
    const std::string_view* u = req_.find("upgrade");
    if (u == nullptr || !hcm_->upgradeAllowed(*u)) {
      localReply(403, "", 0, "upgrade_failed");
      return;
    }
    upgrade = *u;
  }
  std::string_view override_host;
  if (!cluster->config().original_dst_header.empty()) {
    if (const auto* v = req_.find(cluster->config().original_dst_header)) override_host = *v;
  }
  auto chosen = cluster->chooseHost(&conn_->localAddress(), override_host);
  if (!chosen) {
    cluster->stats().inc(upstream::ClusterStats::upstream_cx_none_healthy);
    localReply(503, "no healthy upstream", kNoHealthyUpstream, "no_healthy_upstream");
    return;
  }
  info_.upstream_host = chosen->address_string;
  info_.upstream_start = worker_.reactor().now();

  UpstreamHead head;
  head.req = &req_;
  head.hcm = hcm_.get();
  head.remote = &conn_->remoteAddress();
  head.mutations = req_mutations;
  head.upgrade = upgrade;
  head.timeout = route_->timeout;
  head.chunked_body = req_.chunked;
  request_chunked_out_ = req_.chunked;
  std::string rewritten;
  head.path = req_.target;
  if (route_->has_prefix_rewrite) {
    size_t matched = route_->path_value.size();
    if (route_->path_kind == Route::PathKind::Path) matched = req_.path.size();
    rewritten.reserve(route_->prefix_rewrite.size() + req_.target.size());
    rewritten.append(route_->prefix_rewrite);
    rewritten.append(req_.target.substr(std::min(matched, req_.target.size())));
    if (rewritten.empty() || rewritten[0] != '/') rewritten.insert(0, "/");
    head.path = rewritten;
    head.path_rewritten = true;
  }
  head.host = route_->host_rewrite.empty() ? std::string_view(req_.host) : std::string_view(route_->host_rewrite);
  head.generated_request_id = generated_request_id_;

  upstream_ = std::make_unique<UpstreamRequest>(*this, *cluster, std::move(chosen), worker_.reactor(), is_head_, response_head_);
  upstream_->start();
  encodeRequestHead(upstream_->output(), head);
  upstream_->headWritten(req_.hasBody());
}

// Envoy's x-request-id rules: keep the client's id unless there is none, or this is the edge
// (use_remote_address) and external ids are not preserved.
void HttpConnection::generateRequestId() {
  generated_request_id_ = {};
  if (!hcm_->generate_request_id) return;
  const std::string_view* client_id = req_.find("x-request-id");
  bool regenerate = hcm_->use_remote_address && !hcm_->preserve_external_request_id;
  if (client_id != nullptr && !client_id->empty() && !regenerate) return;
  generated_request_id_ = uuid4(worker_.random(), request_id_buf_);
  for (size_t i = 0; i < hcm_->capture.request.size(); ++i) {
    if (hcm_->capture.request[i] == "x-request-id") {
      info_.request_headers[i].present = true;
      info_.request_headers[i].value.assign(generated_request_id_);
    }
  }
}

void HttpConnection::onBodyData(std::string_view data) {
  info_.bytes_received += data.size();
  if (upstream_) appendBody(upstream_->output(), data, request_chunked_out_);
}

void HttpConnection::onRequestComplete() {
  req_state_ = RequestState::Done;
  parser_.reset();
  if (!stream_active_) return;  // answered locally already
  request_deadline_ = {};
  if (upstream_) {
    if (request_chunked_out_) upstream_->output().append("0\r\n\r\n");
    if (route_ && route_->timeout.count() > 0 && !response_done_) {
      route_deadline_ = worker_.reactor().now() + route_->timeout;
    }
  }
  armStreamTimer();
  if (response_done_) finishStream();
}

// ---- local replies --------------------------------------------------------------------

void HttpConnection::protocolError(int status, std::string_view details) {
  stats_.inc(HcmStats::downstream_cx_protocol_error);
  close_after_response_ = true;
  if (!stream_active_) {
    stream_active_ = true;
    info_.reset();
    info_.start = worker_.reactor().now();
    info_.start_time = std::chrono::system_clock::now();
    stats_.inc(HcmStats::downstream_rq_total);
    stats_.inc(HcmStats::downstream_rq_active);
  }
  req_state_ = RequestState::Done;
  parser_.reset();
  if (upstream_) {
    upstream_->abort();
    worker_.reactor().deferDelete(std::move(upstream_));
  }
  if (response_started_) {
    abortStream(kDownstreamProtocolError);
    return;
  }
  localReply(status, status == 431 ? "" : "Bad Request", kDownstreamProtocolError, details);
}

void HttpConnection::localReply(int status, std::string_view body, uint32_t flag, std::string_view details,
                                const MutationChain* mutations, std::string_view location) {
  if (response_started_) {
    abortStream(flag);
    return;
  }
  info_.response_flags |= flag;
  info_.response_code = status;
  info_.response_code_details = details;
  response_started_ = true;
  Buffer& out = conn_->output();
  out.append("HTTP/1.1 ");
  out.appendDecimal(static_cast<unsigned>(status));
  out.append(' ');
  out.append(reasonPhrase(status));
  out.append("\r\n");
  if (!location.empty()) appendHeader(out, "location", location);
  out.append("content-length: ");
  out.appendDecimal(body.size());
  out.append("\r\n");
  if (!body.empty()) out.append("content-type: text/plain\r\n");
  appendHeader(out, "date", worker_.httpDate());
  appendHeader(out, "server", hcm_->server_name);
  if (mutations) mutations->appendAdditions(out, [](std::string_view) { return false; });
  // The request body has not been read when we answer early: closing is the only safe way
  // to find the next request's start.
  if (req_state_ != RequestState::Done) close_after_response_ = true;
  if (closingAfterResponse()) out.append("connection: close\r\n");
  out.append("\r\n");
  if (!is_head_) out.append(body);
  info_.bytes_sent += body.size();
  countResponse(status);
  response_done_ = true;
  if (upstream_) {
    upstream_->abort();
    worker_.reactor().deferDelete(std::move(upstream_));
  }
  if (req_state_ != RequestState::Done) {
    req_state_ = RequestState::Done;
    parser_.reset();
  }
  finishStream();
}

void HttpConnection::sendRedirect(const Route& route, const MutationChain& mutations) {
  const Redirect& r = route.redirect;
  std::string_view orig_host = req_.host;
  std::string scheme = r.scheme.empty() ? "http" : r.scheme;
  std::string host = r.host.empty() ? std::string(orig_host) : r.host;
  // Ports: an explicit port_redirect replaces any port; a scheme change drops a default port.
  auto strip_port = [](std::string& h) {
    if (!h.empty() && h.back() != ']') {
      auto c = h.rfind(':');
      if (c != std::string::npos) h.resize(c);
    }
  };
  if (r.port != 0) {
    strip_port(host);
    host += ":" + std::to_string(r.port);
  } else if (!r.scheme.empty()) {
    auto c = host.rfind(':');
    if (c != std::string::npos && host.back() != ']') {
      std::string port = host.substr(c + 1);
      if (port == "80" || port == "443") strip_port(host);
    }
  }
  std::string path;
  if (!r.path.empty()) {
    path = r.path;
    if (path.find('?') == std::string::npos && !r.strip_query && !req_.query.empty()) {
      path += "?";
      path += req_.query;
    }
  } else if (r.has_prefix_rewrite) {
    size_t matched = route.path_kind == Route::PathKind::Path ? req_.path.size() : route.path_value.size();
    path = r.prefix_rewrite + std::string(req_.target.substr(std::min(matched, req_.target.size())));
  } else {
    path = std::string(req_.target);
  }
  if (r.strip_query) {
    auto q = path.find('?');
    if (q != std::string::npos) path.resize(q);
  }
  std::string location = scheme + "://" + host + path;
  localReply(r.status, "", 0, "redirect", &mutations, location);
}

// ---- upstream response ----------------------------------------------------------------

void HttpConnection::onUpstreamFailure(uint32_t flag, std::string_view reason) {
  if (upstream_) worker_.reactor().deferDelete(std::move(upstream_));
  std::string body(kUpstreamFailurePrefix);
  body += reason;
  info_.transport_failure = reason;
  localReply(503, body, flag, flag == kUpstreamConnectionFailure ? "upstream_reset_before_response_started{connection_failure}"
                                                                 : "upstream_reset_before_response_started{connection_termination}");
  flushBoth();
}

void HttpConnection::onUpstreamHeaders(const ResponseHead& head) {
  info_.first_upstream_byte = worker_.reactor().now();
  response_started_ = true;
  info_.response_code = head.status;
  info_.response_code_details = "via_upstream";
  encodeResponseHead(head);
  countResponse(head.status);
  int cls = head.status / 100;
  if (auto* cluster = cluster_.get()) {
    static constexpr size_t kClass[] = {upstream::ClusterStats::upstream_rq_1xx, upstream::ClusterStats::upstream_rq_1xx,
                                        upstream::ClusterStats::upstream_rq_2xx, upstream::ClusterStats::upstream_rq_3xx,
                                        upstream::ClusterStats::upstream_rq_4xx, upstream::ClusterStats::upstream_rq_5xx};
    if (cls >= 1 && cls <= 5) cluster->stats().inc(kClass[cls]);
  }
}

bool HttpConnection::closingAfterResponse() const {
  return close_after_response_ || !keep_alive_ || draining_ || worker_.drainClose();
}

void HttpConnection::encodeResponseHead(const ResponseHead& head) {
  Buffer& out = conn_->output();
  bool no_body = is_head_ || head.status == 204 || head.status == 304 || head.status < 200;
  if (!no_body && !head.content_length) {
    if (request_version_ == 11) {
      response_chunked_ = true;
    } else {
      response_close_delimited_ = true;
      close_after_response_ = true;
    }
  }
  bool has_date = false;
  out.reserve(512 + head.headers.size() * 48);
  out.append(request_version_ == 10 ? "HTTP/1.0 " : "HTTP/1.1 ");
  out.appendDecimal(static_cast<unsigned>(head.status));
  out.append(' ');
  out.append(reasonPhrase(head.status));
  out.append("\r\n");
  for (const Header& h : head.headers) {
    std::string_view n = h.name;
    if (isHopByHop(n) || equalsIgnoreCase(n, "content-length") || equalsIgnoreCase(n, "server")) continue;
    if (response_mutations_.replaces(n)) continue;
    if (!has_date && equalsIgnoreCase(n, "date")) has_date = true;
    appendHeader(out, n, h.value);
  }
  appendHeader(out, "server", hcm_->server_name);
  if (!has_date) appendHeader(out, "date", worker_.httpDate());
  if (!hcm_->suppress_envoy_headers) {
    out.append("x-envoy-upstream-service-time: ");
    auto ms = std::chrono::duration_cast<milliseconds>(worker_.reactor().now() - info_.upstream_start).count();
    out.appendDecimal(static_cast<unsigned long long>(ms));
    out.append("\r\n");
  }
  response_mutations_.appendAdditions(out, [&](std::string_view name) { return head.find(name) != nullptr; });
  if (closingAfterResponse()) {
    out.append("connection: close\r\n");
  } else if (request_version_ == 10) {
    out.append("connection: keep-alive\r\n");
  }
  if (head.content_length && !(head.status == 204 || head.status == 304)) {
    out.append("content-length: ");
    out.appendDecimal(*head.content_length);
    out.append("\r\n");
  } else if (response_chunked_) {
    out.append("transfer-encoding: chunked\r\n");
  }
  out.append("\r\n");
  if (!info_.response_headers.empty()) {
    for (size_t i = 0; i < hcm_->capture.response.size(); ++i) {
      const std::string_view* v = head.find(hcm_->capture.response[i]);
      if (v) {
        info_.response_headers[i].present = true;
        info_.response_headers[i].value.assign(*v);
      }
    }
  }
}

void HttpConnection::onUpstreamBody(std::string_view data) {
  last_activity_ = worker_.reactor().now();
  info_.bytes_sent += data.size();
  appendBody(conn_->output(), data, response_chunked_);
  if (conn_->aboveWriteLimit() || conn_->output().size() >= 64 * 1024) {
    conn_->flush();
    if (conn_->aboveWriteLimit() && upstream_) upstream_->readDisable(true);
  }
}

void HttpConnection::onUpstreamComplete() {
  if (response_chunked_) conn_->output().append("0\r\n\r\n");
  response_done_ = true;
  route_deadline_ = {};
  releaseUpstream(req_state_ == RequestState::Done);
  if (req_state_ != RequestState::Done) {
    // The upstream answered before the whole request arrived: the rest of the body
    // cannot be skipped reliably, so the connection closes after this response.
    close_after_response_ = true;
    req_state_ = RequestState::Done;
    parser_.reset();
  }
  finishStream();
  process();  // a pipelined request may be waiting
  flushBoth();
}

void HttpConnection::releaseUpstream(bool reusable) {
  if (!upstream_) return;
  upstream_->release(reusable);
  worker_.reactor().deferDelete(std::move(upstream_));
}

void HttpConnection::onUpstreamResetAfterHeaders() {
  if (upstream_) worker_.reactor().deferDelete(std::move(upstream_));
  abortStream(kUpstreamConnectionTermination);
}

void HttpConnection::onUpstreamDataDone() { flushBoth(); }

void HttpConnection::onUpstreamWriteDrained() {
  process();
  flushBoth();
}

void HttpConnection::onWriteDrained(net::Connection&) {
  if (upstream_) upstream_->readDisable(false);
}

void HttpConnection::onUpstreamUpgraded(const ResponseHead& head) {
  response_started_ = true;
  info_.response_code = head.status;
  info_.first_upstream_byte = worker_.reactor().now();
  Buffer& out = conn_->output();
  out.append("HTTP/1.1 101 Switching Protocols\r\n");
  for (const Header& h : head.headers) {
    if (equalsIgnoreCase(h.name, "connection") || equalsIgnoreCase(h.name, "upgrade") ||
        !isHopByHop(h.name)) {
      appendHeader(out, h.name, h.value);
    }
  }
  out.append("\r\n");
  countResponse(101);
  stats_.inc(HcmStats::downstream_cx_upgrades_total);
  stats_.inc(HcmStats::downstream_cx_upgrades_active);
  stream_timer_.disarm();
  route_deadline_ = request_deadline_ = {};
  conn_->flush();
  relay_ = std::make_unique<network::Relay>(*conn_, upstream_->connection(), *this);
  relay_->start();
}

void HttpConnection::onRelayActivity() { last_activity_ = worker_.reactor().now(); }

void HttpConnection::onRelayDone() {
  stats_.dec(HcmStats::downstream_cx_upgrades_active);
  info_.bytes_received += relay_->bytesFromDownstream();
  info_.bytes_sent += relay_->bytesFromUpstream();
  response_done_ = true;
  close_after_response_ = true;
  finishStream();
}

// ---- stream end -----------------------------------------------------------------------

void HttpConnection::countResponse(int status) {
  static constexpr size_t kClass[] = {HcmStats::downstream_rq_1xx, HcmStats::downstream_rq_1xx,
                                      HcmStats::downstream_rq_2xx, HcmStats::downstream_rq_3xx,
                                      HcmStats::downstream_rq_4xx, HcmStats::downstream_rq_5xx};
  int cls = status / 100;
  if (cls >= 1 && cls <= 5) stats_.inc(kClass[cls]);
}

void HttpConnection::captureRequestHeaders() {
  const auto& names = hcm_->capture.request;
  for (size_t i = 0; i < names.size(); ++i) {
    const std::string_view* v = requestHeader(req_, names[i], "http");
    auto& slot = info_.request_headers[i];
    slot.present = v != nullptr;
    if (v) slot.value.assign(*v);
  }
}

void HttpConnection::finishStream() {
  if (!stream_active_) return;
  stream_active_ = false;
  info_.end = worker_.reactor().now();
  stats_.dec(HcmStats::downstream_rq_active);
  stats_.inc(HcmStats::downstream_rq_completed);
  for (const auto& logger : hcm_->access_logs) worker_.writeAccessLog(*logger, info_);
  stream_timer_.disarm();
  route_deadline_ = request_deadline_ = {};
  if (closingAfterResponse()) {
    if (draining_ || worker_.drainClose()) stats_.inc(HcmStats::downstream_cx_drain_close);
    closeConnection();
    return;
  }
  if (hcm_->idle_timeout.count() > 0) idle_timer_.arm(hcm_->idle_timeout);
}

void HttpConnection::abortStream(uint32_t flag) {
  info_.response_flags |= flag;
  if (flag == kDownstreamConnectionTermination) stats_.inc(HcmStats::downstream_rq_rx_reset);
  else stats_.inc(HcmStats::downstream_rq_tx_reset);
  if (upstream_) {
    upstream_->abort();
    worker_.reactor().deferDelete(std::move(upstream_));
  }
  if (stream_active_) {
    response_done_ = true;
    close_after_response_ = true;
    finishStream();
  }
  closeConnection();
}

// ---- timers ---------------------------------------------------------------------------

void HttpConnection::armStreamTimer() {
  event::TimePoint next{};
  auto consider = [&](event::TimePoint t) {
    if (t != event::TimePoint{} && (next == event::TimePoint{} || t < next)) next = t;
  };
  consider(route_deadline_);
  consider(request_deadline_);
  if (hcm_->stream_idle_timeout.count() > 0) consider(last_activity_ + hcm_->stream_idle_timeout);
  if (next == event::TimePoint{}) {
    stream_timer_.disarm();
  } else if (!stream_timer_.armed() || stream_timer_.deadline() != next) {
    stream_timer_.armAt(next);
  }
}

void HttpConnection::onStreamTimer() {
  if (!stream_active_) return;
  auto now = worker_.reactor().now();
  if (route_deadline_ != event::TimePoint{} && now >= route_deadline_) {
    stats_.inc(HcmStats::downstream_rq_timeout);
    if (cluster_) cluster_->stats().inc(upstream::ClusterStats::upstream_rq_timeout);
    if (upstream_) {
      upstream_->abort();
      worker_.reactor().deferDelete(std::move(upstream_));
    }
    localReply(504, "upstream request timeout", kUpstreamRequestTimeout, "response_timeout");
  } else if (request_deadline_ != event::TimePoint{} && now >= request_deadline_) {
    stats_.inc(HcmStats::downstream_rq_timeout);
    localReply(408, "request timeout", 0, "request_overall_timeout");
  } else if (hcm_->stream_idle_timeout.count() > 0 && now >= last_activity_ + hcm_->stream_idle_timeout) {
    stats_.inc(HcmStats::downstream_rq_idle_timeout);
    localReply(408, "stream timeout", kStreamIdleTimeout, "stream_idle_timeout");
  } else {
    armStreamTimer();
    return;
  }
  flushBoth();
}

// ---- connection lifecycle ---------------------------------------------------------------

void HttpConnection::onEvent(net::Connection&, net::ConnectionEvent event) {
  if (event == net::ConnectionEvent::RemoteHalfClosed && stream_active_ && req_state_ == RequestState::Done &&
      !response_done_) {
    close_after_response_ = true;  // the client half-closed after its request: answer, then close
    return;
  }
  if (stream_active_ && !response_done_) {
    abortStream(kDownstreamConnectionTermination);
    return;
  }
  closeConnection();
}

void HttpConnection::flushBoth() {
  if (upstream_ && !relay_) upstream_->flush();
  if (conn_) conn_->flush();
}

void HttpConnection::drain() {
  draining_ = true;
  if (!stream_active_) closeConnection();
}

void HttpConnection::closeNow() {
  if (stream_active_ && !response_done_) info_.response_flags |= kLocalReset;
  if (upstream_) {
    upstream_->abort();
    worker_.reactor().deferDelete(std::move(upstream_));
  }
  if (conn_) conn_->output().clear();
  if (stream_active_) {
    response_done_ = true;
    close_after_response_ = true;
    finishStream();
  }
  closeConnection();
}

void HttpConnection::closeConnection() {
  if (destroyed_) return;
  destroyed_ = true;
  idle_timer_.disarm();
  stream_timer_.disarm();
  if (relay_ && upstream_) {
    upstream_->abort();
  }
  if (upstream_) {
    upstream_->abort();
    worker_.reactor().deferDelete(std::move(upstream_));
  }
  stats_.dec(HcmStats::downstream_cx_active);
  stats_.inc(HcmStats::downstream_cx_destroy);
  listener_stats_->dec(network::ListenerStats::downstream_cx_active);
  listener_stats_->inc(network::ListenerStats::downstream_cx_destroy);
  stats_.add(HcmStats::downstream_cx_rx_bytes_total, conn_->bytesRead());
  stats_.add(HcmStats::downstream_cx_tx_bytes_total, conn_->bytesWritten());
  conn_->setCallbacks(nullptr);
  worker_.lingerClose(std::move(conn_));
  if (relay_) worker_.reactor().deferDelete(std::move(relay_));
  worker_.removeSession(this);
}

}  // namespace weft::proxy::http
