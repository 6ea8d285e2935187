#include "proxy/http/active_stream.h"

#include <cstring>

#include "common/uuid.h"
#include "proxy/http/grpc.h"
#include "proxy/http/route_action.h"
#include "proxy/http/stream_stats.h"

namespace weft::proxy::http {

namespace {
// Bytes the stream holds for a stopped filter (Envoy's per_connection_buffer_limit_bytes
// default). Codecs stop reading body while a filter holds the request, so this is rarely met.
constexpr size_t kMaxHeldBytes = 1024 * 1024;

int grpcStatusOf(std::string_view v) {
  auto n = v.size() <= 3 ? parseDecimal(v) : std::nullopt;
  return n ? static_cast<int>(*n) : -1;
}
}  // namespace

ActiveStream::ActiveStream(WorkerContext& worker, const HcmConfig& hcm, StreamCodec& codec, net::Connection& downstream,
                           bool http2)
    : worker_(worker),
      hcm_(hcm),
      codec_(codec),
      downstream_(downstream),
      http2_(http2),
      timer_(worker.reactor(), [this] { onTimer(); }) {
  info_.request_headers.resize(hcm.capture.request.size());
  info_.response_headers.resize(hcm.capture.response.size());
  info_.downstream_remote = &downstream.remoteAddress();
  info_.downstream_local = &downstream.localAddress();
  info_.downstream = &downstream;
}

ActiveStream::~ActiveStream() {
  timer_.disarm();
  destroyFilters();
}

void ActiveStream::begin(event::TimePoint start) {
  info_.reset();
  info_.start = start;
  info_.start_time = std::chrono::system_clock::now();
  info_.protocol = http2_ ? "HTTP/2" : "HTTP/1.1";
  req_ = nullptr;
  active_ = true;
  is_grpc_ = is_head_ = upgrade_ = false;
  request_complete_ = response_started_ = response_complete_ = local_reply_sent_ = reset_ = false;
  grpc_status_ = -1;
  generated_request_id_ = {};
  span_.clear();
  table_.reset();
  route_ = nullptr;
  vhost_ = nullptr;
  target_ = nullptr;
  decode_.reset();
  encode_.reset();
  request_trailers_ = response_trailers_ = nullptr;
  response_head_ = nullptr;
  kept_.clear();
  stats::Scope& stats = *hcm_.stats;
  stats.inc(HcmStats::downstream_rq_total);
  stats.inc(http2_ ? HcmStats::downstream_rq_http2_total : HcmStats::downstream_rq_http1_total);
  stats.inc(HcmStats::downstream_rq_active);
  last_activity_ = worker_.reactor().now();
  request_deadline_ = hcm_.request_timeout.count() > 0 ? start + hcm_.request_timeout : event::TimePoint{};
  armTimer();
}

// ---- request --------------------------------------------------------------------------------

void ActiveStream::decodeHeaders(RequestHead& req, bool end_stream) {
  req_ = &req;
  last_activity_ = worker_.reactor().now();
  if (!http2_) info_.protocol = req.version == 10 ? "HTTP/1.0" : "HTTP/1.1";
  is_head_ = req.method == "HEAD";
  is_grpc_ = grpc::isGrpc(req);
  captureRequestHeaders();
  generateRequestId();
  stream_random_ = worker_.random().next();
  resolveRoute();
  if (hcm_.tracing) startTracing();
  for (const FilterFactoryCb& factory : hcm_.filter_factories) factory(*this);
  if (end_stream) {
    request_complete_ = true;
    request_deadline_ = {};
  }
  decode_.headers_end = end_stream;
  runDecodeHeaders(0);
  armTimer();
}

void ActiveStream::decodeData(std::string_view data, bool end_stream) {
  if (!active_) return;
  last_activity_ = worker_.reactor().now();
  info_.bytes_received += data.size();
  if (end_stream) {
    request_complete_ = true;
    request_deadline_ = {};
  }
  if (local_reply_sent_ || reset_) return;  // answered already: the rest is dropped
  runDecodeData(0, data, end_stream);
}

void ActiveStream::decodeTrailers(std::vector<Header>& trailers) {
  if (!active_) return;
  last_activity_ = worker_.reactor().now();
  request_complete_ = true;
  request_deadline_ = {};
  if (local_reply_sent_ || reset_) return;
  request_trailers_ = &trailers;
  runDecodeTrailers(0);
}

bool ActiveStream::wantsRequestBody() const {
  if (decode_.stopped_at != kNone) return false;
  for (const StreamDecoderFilter* f : decoders_) {
    if (f->decoderAboveWriteLimit()) return false;
  }
  return true;
}

void ActiveStream::rejectRequest(int status, std::string_view body, std::string_view details, uint32_t flag,
                                 RequestHead* req) {
  if (req != nullptr) {
    req_ = req;
    is_head_ = req->method == "HEAD";
    is_grpc_ = grpc::isGrpc(*req);
    if (!http2_) info_.protocol = req->version == 10 ? "HTTP/1.0" : "HTTP/1.1";
    captureRequestHeaders();
  }
  LocalReply r;
  r.status = status;
  r.body = body;
  r.details = details;
  r.flag = flag;
  sendLocalReply(r);
}

void ActiveStream::resolveRoute() {
  table_ = hcm_.routes ? hcm_.routes : worker_.routeTable(hcm_.rds_name);
  if (!table_) return;
  // Routing uses the Host with strip_*_host_port applied; the request keeps its own.
  std::string_view saved = req_->host;
  req_->host = hostForRouting(hcm_, req_->host, downstream_.localAddress().port());
  route_ = table_->route(*req_, "http", &vhost_, worker_.runtime(), stream_random_);
  req_->host = saved;
  if (route_ == nullptr || route_->action != Route::ActionKind::Cluster) {
    if (route_) info_.route_name = route_->name;
    return;
  }
  info_.route_name = route_->name;
  // Weighted split: a uniform draw over the total weight picks the cluster, once per request,
  // so every filter sees the cluster the router will use.
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
  info_.upstream_cluster = target_->cluster;
}

const RouteSpecificFilterConfig* ActiveStream::perRouteConfig(std::string_view filter_name) const {
  if (route_) {
    if (auto* c = route_->per_filter_config.find(filter_name)) return c;
  }
  if (vhost_) {
    if (auto* c = vhost_->per_filter_config.find(filter_name)) return c;
  }
  if (table_) return table_->perFilterConfig().find(filter_name);
  return nullptr;
}

// Envoy's x-request-id rules: keep the client's id unless there is none, or this is the edge
// (use_remote_address) and external ids are not preserved.
void ActiveStream::generateRequestId() {
  if (!hcm_.generate_request_id) return;
  const std::string_view* client_id = req_->find("x-request-id");
  bool regenerate = hcm_.use_remote_address && !hcm_.preserve_external_request_id;
  if (client_id != nullptr && !client_id->empty() && !regenerate) return;
  generated_request_id_ = uuid4(worker_.random(), request_id_buf_);
  for (size_t i = 0; i < hcm_.capture.request.size(); ++i) {
    if (hcm_.capture.request[i] == "x-request-id") {
      info_.request_headers[i].present = true;
      info_.request_headers[i].value.assign(generated_request_id_);
    }
  }
}

// Envoy's trace decision lives in the request id: a changed id goes upstream (and into the
// access log) in place of the client's.
void ActiveStream::startTracing() {
  std::string_view rid = generated_request_id_;
  if (rid.empty()) {
    const std::string_view* client_id = req_->find("x-request-id");
    if (client_id != nullptr && client_id->size() == sizeof(request_id_buf_)) {
      std::memcpy(request_id_buf_, client_id->data(), sizeof(request_id_buf_));
      rid = *client_id;
    }
  }
  bool traced = false;
  if (!rid.empty() && tracing::decideFromRequestId(*hcm_.tracing, request_id_buf_, traced)) {
    generated_request_id_ = rid = std::string_view(request_id_buf_, sizeof(request_id_buf_));
    for (size_t i = 0; i < hcm_.capture.request.size(); ++i) {
      if (hcm_.capture.request[i] == "x-request-id") info_.request_headers[i].value.assign(rid);
    }
  }
  span_.start(*hcm_.tracing, *req_, rid, downstream_.tls() ? "https" : "http", traced, worker_.random());
}

void ActiveStream::captureRequestHeaders() {
  const auto& names = hcm_.capture.request;
  for (size_t i = 0; i < names.size(); ++i) {
    const std::string_view* v = requestHeader(*req_, names[i], "http");
    auto& slot = info_.request_headers[i];
    slot.present = v != nullptr;
    if (v) slot.value.assign(*v);
  }
}

// ---- the filter chain -----------------------------------------------------------------------

void ActiveStream::addDecoderFilter(std::unique_ptr<StreamFilterBase> owner, StreamDecoderFilter* filter) {
  filter->setDecoderFilterCallbacks(*this);
  decoders_.push_back(filter);
  filters_.push_back(std::move(owner));
}

void ActiveStream::addEncoderFilter(std::unique_ptr<StreamFilterBase> owner, StreamEncoderFilter* filter) {
  filter->setEncoderFilterCallbacks(*this);
  encoders_.push_back(filter);
  filters_.push_back(std::move(owner));
}

void ActiveStream::addStreamFilter(std::unique_ptr<StreamFilterBase> owner, StreamDecoderFilter* decoder,
                                   StreamEncoderFilter* encoder) {
  decoder->setDecoderFilterCallbacks(*this);
  encoder->setEncoderFilterCallbacks(*this);
  decoders_.push_back(decoder);
  encoders_.push_back(encoder);
  filters_.push_back(std::move(owner));
}

void ActiveStream::destroyFilters() {
  for (auto& f : filters_) {
    f->onDestroy();
    worker_.reactor().deferDelete(std::move(f));  // a filter may be on the call stack
  }
  filters_.clear();
  decoders_.clear();
  encoders_.clear();
}

// Decoding: filters in configured order. A stop at filter i holds what follows (after it went
// through filters 0..i-1) until continueDecoding(); `held_from` is the first filter that has
// not seen the held body.
void ActiveStream::runDecodeHeaders(size_t from) {
  for (size_t i = from; i < decoders_.size(); ++i) {
    FilterStatus s = decoders_[i]->decodeHeaders(*req_, decode_.headers_end);
    if (local_reply_sent_ || reset_ || !active_) return;
    if (s == FilterStatus::StopIteration) {
      decode_.stopped_at = i;
      decode_.held_from = i;
      return;
    }
  }
  decode_.headers_passed = true;
}

void ActiveStream::runDecodeData(size_t from, std::string_view data, bool end_stream) {
  for (size_t i = from; i < decoders_.size(); ++i) {
    if (i == decode_.stopped_at && !decode_.headers_passed) {
      holdRequest(data, end_stream);  // filter i holds the headers: it sees the body when it continues
      return;
    }
    FilterStatus s = decoders_[i]->decodeData(data, end_stream);
    if (local_reply_sent_ || reset_ || !active_) return;
    if (s == FilterStatus::StopIteration || i == decode_.stopped_at) {
      if (decode_.stopped_at == kNone) {
        decode_.stopped_at = i;
        decode_.held_from = i + 1;
      }
      holdRequest(data, end_stream);
      return;
    }
  }
}

void ActiveStream::runDecodeTrailers(size_t from) {
  for (size_t i = from; i < decoders_.size(); ++i) {
    if (i == decode_.stopped_at) {
      decode_.trailers_held = true;
      return;
    }
    FilterStatus s = decoders_[i]->decodeTrailers(*request_trailers_);
    if (local_reply_sent_ || reset_ || !active_) return;
    if (s == FilterStatus::StopIteration) {
      decode_.stopped_at = i;
      decode_.held_from = i + 1;
      decode_.headers_passed = true;
      return;
    }
  }
}

bool ActiveStream::holdRequest(std::string_view data, bool end_stream) {
  decode_.held_data = true;
  decode_.held_end = decode_.held_end || end_stream;
  if (decode_.held.size() + data.size() > kMaxHeldBytes) {
    LocalReply r;
    r.status = 413;
    r.body = "Payload Too Large";
    r.details = "request_payload_too_large";
    sendLocalReply(r);
    return false;
  }
  decode_.held.append(data);
  return true;
}

void ActiveStream::continueDecoding() {
  if (decode_.stopped_at == kNone || local_reply_sent_ || reset_ || !active_) return;
  size_t at = decode_.stopped_at;
  decode_.stopped_at = kNone;
  if (!decode_.headers_passed) {
    runDecodeHeaders(at + 1);
    if (decode_.stopped_at != kNone || local_reply_sent_ || reset_ || !active_) return;
  }
  if (decode_.held_data) {
    Buffer held(std::move(decode_.held));
    bool end = decode_.held_end;
    decode_.held_data = decode_.held_end = false;
    runDecodeData(decode_.held_from, held.view(), end);
    if (decode_.stopped_at != kNone || local_reply_sent_ || reset_ || !active_) return;
  }
  if (decode_.trailers_held) {
    decode_.trailers_held = false;
    runDecodeTrailers(at);
  }
  if (active_) codec_.resumeRequestBody();
}

// Encoding: filters in reverse configured order, then the codec.
// A response replaced by a local reply takes nothing more from its producer.
bool ActiveStream::encodeRefused() const { return !active_ || reset_ || (local_reply_sent_ && !in_local_reply_); }

void ActiveStream::encodeHeaders(ResponseHead& head, bool end_stream) {
  if (encodeRefused()) return;
  response_head_ = &head;
  encode_.headers_end = end_stream;
  runEncodeHeaders(0);
}

void ActiveStream::encodeData(std::string_view data, bool end_stream) {
  if (encodeRefused()) return;
  last_activity_ = worker_.reactor().now();
  if (encode_.stopped_at != kNone && !encode_.headers_passed) {
    holdResponse(data, end_stream);
    return;
  }
  runEncodeData(0, data, end_stream);
}

void ActiveStream::encodeTrailers(std::vector<Header>& trailers) {
  if (encodeRefused()) return;
  response_trailers_ = &trailers;
  runEncodeTrailers(0);
}

void ActiveStream::runEncodeHeaders(size_t from) {
  size_t n = encoders_.size();
  for (size_t i = from; i < n; ++i) {
    FilterStatus s = encoders_[n - 1 - i]->encodeHeaders(*response_head_, encode_.headers_end);
    if (reset_ || !active_ || response_started_) return;  // reset, or a local reply replaced it
    if (s == FilterStatus::StopIteration) {
      encode_.stopped_at = i;
      encode_.held_from = i;
      return;
    }
  }
  encode_.headers_passed = true;
  writeHeaders(*response_head_, encode_.headers_end);
}

void ActiveStream::runEncodeData(size_t from, std::string_view data, bool end_stream) {
  size_t n = encoders_.size();
  for (size_t i = from; i < n; ++i) {
    if (i == encode_.stopped_at && !encode_.headers_passed) {
      holdResponse(data, end_stream);
      return;
    }
    FilterStatus s = encoders_[n - 1 - i]->encodeData(data, end_stream);
    if (reset_ || !active_) return;
    if (s == FilterStatus::StopIteration || i == encode_.stopped_at) {
      if (encode_.stopped_at == kNone) {
        encode_.stopped_at = i;
        encode_.held_from = i + 1;
      }
      holdResponse(data, end_stream);
      return;
    }
  }
  writeData(data, end_stream);
}

void ActiveStream::runEncodeTrailers(size_t from) {
  size_t n = encoders_.size();
  for (size_t i = from; i < n; ++i) {
    if (i == encode_.stopped_at) {
      encode_.trailers_held = true;
      return;
    }
    FilterStatus s = encoders_[n - 1 - i]->encodeTrailers(*response_trailers_);
    if (reset_ || !active_) return;
    if (s == FilterStatus::StopIteration) {
      encode_.stopped_at = i;
      encode_.held_from = i + 1;
      encode_.headers_passed = true;
      return;
    }
  }
  writeTrailers(*response_trailers_);
}

bool ActiveStream::holdResponse(std::string_view data, bool end_stream) {
  encode_.held_data = true;
  encode_.held_end = encode_.held_end || end_stream;
  if (encode_.held.size() + data.size() > kMaxHeldBytes) {
    if (!response_started_) {
      LocalReply r;
      r.status = 500;
      r.body = "Internal Server Error";
      r.details = "response_payload_too_large";
      sendLocalReply(r);
    } else {
      resetStream(0);
    }
    return false;
  }
  encode_.held.append(data);
  return true;
}

void ActiveStream::continueEncoding() {
  if (encode_.stopped_at == kNone || reset_ || !active_) return;
  size_t at = encode_.stopped_at;
  encode_.stopped_at = kNone;
  if (!encode_.headers_passed) {
    runEncodeHeaders(at + 1);
    if (encode_.stopped_at != kNone || reset_ || !active_) return;
  }
  if (encode_.held_data) {
    Buffer held(std::move(encode_.held));
    bool end = encode_.held_end;
    encode_.held_data = encode_.held_end = false;
    runEncodeData(encode_.held_from, held.view(), end);
    if (encode_.stopped_at != kNone || reset_ || !active_) return;
  }
  if (encode_.trailers_held) {
    encode_.trailers_held = false;
    runEncodeTrailers(at);
  }
  codec_.flush();
}

// ---- to the codec ---------------------------------------------------------------------------

void ActiveStream::writeHeaders(ResponseHead& head, bool end_stream) {
  // The connection manager's own headers, as Envoy adds them after the filters.
  bool has_date = false;
  for (const Header& h : head.headers) {
    if (h.name.size() == 4 && equalsIgnoreCase(h.name, "date")) {
      has_date = true;
      break;
    }
  }
  head.headers.push_back({"server", hcm_.server_name});
  if (!has_date) head.headers.push_back({"date", worker_.httpDate()});
  response_started_ = true;
  response_complete_ = end_stream;
  info_.response_code = head.status;
  countDownstreamResponse(*hcm_.stats, head.status);
  for (size_t i = 0; i < hcm_.capture.response.size(); ++i) {
    if (const std::string_view* v = head.find(hcm_.capture.response[i])) {
      info_.response_headers[i].present = true;
      info_.response_headers[i].value.assign(*v);
    }
  }
  if (is_grpc_) {
    if (const std::string_view* g = head.find("grpc-status")) grpc_status_ = grpcStatusOf(*g);
  }
  codec_.encodeHeaders(head, end_stream);
}

void ActiveStream::writeData(std::string_view data, bool end_stream) {
  info_.bytes_sent += data.size();
  if (end_stream) response_complete_ = true;
  codec_.encodeData(data, end_stream);
}

void ActiveStream::writeTrailers(std::vector<Header>& trailers) {
  if (is_grpc_) {
    for (const Header& t : trailers) {
      if (t.name == "grpc-status") grpc_status_ = grpcStatusOf(t.value);
    }
  }
  response_complete_ = true;
  codec_.encodeTrailers(trailers);
}

// ---- local replies and resets ---------------------------------------------------------------

void ActiveStream::sendLocalReply(const LocalReply& r) {
  if (!active_ || reset_) return;
  for (auto& f : filters_) f->onLocalReply();
  if (response_started_) {
    resetStream(r.flag);
    return;
  }
  local_reply_sent_ = true;
  info_.response_flags |= r.flag;
  info_.response_code_details = r.details;
  encode_.reset();
  ResponseHead& head = local_head_;
  head.clear();
  bool end_stream = true;
  std::string_view body;
  // local_reply_config may change the status, the body and its content type, and add headers.
  int status = r.status;
  std::string_view reply_body = r.body;
  std::string_view content_type = "text/plain";
  const HeaderMutations* reply_headers = nullptr;
  if (hcm_.local_reply) {
    auto rw = hcm_.local_reply->rewrite(req_, info_, r.status, r.body, worker_.runtime(), worker_.random());
    status = rw.status;
    local_body_ = std::move(rw.body);
    local_content_type_ = std::move(rw.content_type);
    reply_body = local_body_;
    content_type = local_content_type_;
    reply_headers = rw.headers;
  }
  if (is_grpc_) {
    // Trailers-only: HTTP 200 and the error in grpc-status / grpc-message, as gRPC clients expect.
    head.status = 200;
    head.headers.push_back({"content-type", "application/grpc"});
    int grpc_status = r.grpc_status >= 0 ? r.grpc_status : grpc::statusForHttp(status);
    head.headers.push_back({"grpc-status", keep(std::to_string(grpc_status))});
    // A body format's trailing newline is not part of the message (as Envoy).
    std::string_view message = reply_body;
    while (!message.empty() && (message.back() == '\n' || message.back() == '\r')) message.remove_suffix(1);
    head.headers.push_back({"grpc-message", message.empty() ? r.details : message});
  } else {
    head.status = status;
    if (!r.location.empty()) head.headers.push_back({"location", r.location});
    if (!reply_body.empty()) head.headers.push_back({"content-type", content_type});
    head.content_length = reply_body.size();
    body = is_head_ ? std::string_view() : reply_body;
    end_stream = body.empty();
  }
  for (const Header& h : r.headers) head.headers.push_back(h);
  if (reply_headers) {
    for (const auto& a : reply_headers->add) head.headers.push_back({a.name, a.value});
  }
  if (r.mutations) {
    r.mutations->forEachAddition([](std::string_view) { return false; },
                                 [&](std::string_view n, std::string_view v) {
                                   head.headers.push_back({n, v});
                                 });
  }
  in_local_reply_ = true;
  encodeHeaders(head, end_stream);
  if (!end_stream && active_ && !reset_) encodeData(body, true);
  in_local_reply_ = false;
  codec_.flush();
}

void ActiveStream::resetStream(uint32_t flag) {
  if (!active_ || reset_) return;
  reset_ = true;
  info_.response_flags |= flag;
  hcm_.stats->inc(HcmStats::downstream_rq_tx_reset);
  for (auto& f : filters_) f->onLocalReply();
  codec_.resetStream();
}

void ActiveStream::onDownstreamReset(uint32_t flag) {
  if (!active_ || reset_) return;
  reset_ = true;
  info_.response_flags |= flag;
  if (flag == kDownstreamConnectionTermination) hcm_.stats->inc(HcmStats::downstream_rq_rx_reset);
  for (auto& f : filters_) f->onLocalReply();
}

void ActiveStream::onDownstreamWriteDrained() {
  for (StreamDecoderFilter* f : decoders_) f->onDownstreamAboveWriteLimit(false);
}

void ActiveStream::onDecoderDrained() {
  if (wantsRequestBody()) codec_.resumeRequestBody();
}

void ActiveStream::upgradeTunnel(const ResponseHead& head, net::Connection& upstream) {
  response_started_ = true;
  info_.response_code = head.status;
  countDownstreamResponse(*hcm_.stats, head.status);
  timer_.disarm();
  request_deadline_ = {};
  upgrade_ = true;
  codec_.upgradeTunnel(head, upstream);
}

std::string_view ActiveStream::keep(std::string value) {
  kept_.push_back(std::move(value));
  return kept_.back();
}

// ---- timers and the end ---------------------------------------------------------------------

void ActiveStream::armTimer() {
  if (!active_ || upgrade_) return;
  event::TimePoint next = request_deadline_;
  if (hcm_.stream_idle_timeout.count() > 0) {
    event::TimePoint idle = last_activity_ + hcm_.stream_idle_timeout;
    if (next == event::TimePoint{} || idle < next) next = idle;
  }
  if (next == event::TimePoint{}) {
    timer_.disarm();
  } else if (!timer_.armed() || timer_.deadline() > next) {
    timer_.armAt(next);  // a later deadline is checked when the earlier one fires
  }
}

void ActiveStream::onTimer() {
  // Before the request head is complete its codec keeps the time (HTTP/2 closes the connection).
  if (!active_ || upgrade_ || reset_ || req_ == nullptr) return;
  auto now = worker_.reactor().now();
  LocalReply r;
  if (request_deadline_ != event::TimePoint{} && !request_complete_ && now >= request_deadline_) {
    hcm_.stats->inc(HcmStats::downstream_rq_timeout);
    r.status = 408;
    r.body = "request timeout";
    r.details = "request_overall_timeout";
  } else if (hcm_.stream_idle_timeout.count() > 0 && now >= last_activity_ + hcm_.stream_idle_timeout &&
             !response_complete_) {
    hcm_.stats->inc(HcmStats::downstream_rq_idle_timeout);
    r.status = 408;
    r.body = "stream timeout";
    r.flag = kStreamIdleTimeout;
    r.details = "stream_idle_timeout";
  } else {
    timer_.disarm();
    armTimer();
    return;
  }
  sendLocalReply(r);
}

void ActiveStream::finish() {
  if (!active_) return;
  active_ = false;
  timer_.disarm();
  info_.end = worker_.reactor().now();
  if (hcm_.rq_time)
    hcm_.rq_time->observe(hcm_.rq_time->series(hcm_.stat_prefix),
                          std::chrono::duration<double, std::milli>(info_.end - info_.start).count());
  hcm_.stats->dec(HcmStats::downstream_rq_active);
  hcm_.stats->inc(HcmStats::downstream_rq_completed);
  for (auto& f : filters_) f->onStreamComplete();
  for (const auto& logger : hcm_.access_logs) worker_.writeAccessLog(*logger, info_);
  if (span_.started())
    span_.finish(*hcm_.tracing, worker_, info_, route_ ? std::string_view(route_->decorator_operation) : "",
                 is_grpc_ ? grpc_status_ : -1);
  destroyFilters();
  decode_.held.clear();
  encode_.held.clear();
}

}  // namespace weft::proxy::http
