#include "proxy/tracing/http_tracing.h"

#include <cstdlib>
#include <map>
#include <mutex>

#include <nlohmann/json.hpp>

#include "common/config/error.h"
#include "proxy/stream_info.h"
#include "proxy/telemetry/peer_metadata.h"
#include "proxy/worker_context.h"

namespace weft::proxy::tracing {

namespace hcmv3 = envoy::extensions::filters::network::http_connection_manager::v3;

namespace {

double percent(const envoy::type::v3::Percent& p, const std::string& path) {
  if (p.value() < 0 || p.value() > 100) throw ConfigError(path + ".value: must be between 0 and 100");
  return p.value();
}

// One tracer (and reporter thread) per distinct Zipkin config, shared by every listener.
std::shared_ptr<ZipkinTracer> sharedZipkin(const envoy::config::trace::v3::ZipkinConfig& c, const std::string& path,
                                           stats::Store& store) {
  static std::mutex mu;
  static std::map<std::string, std::weak_ptr<ZipkinTracer>> tracers;
  std::string key = c.SerializeAsString();
  std::lock_guard<std::mutex> lock(mu);
  if (auto t = tracers[key].lock()) return t;
  auto t = std::make_shared<ZipkinTracer>(c, path, store);
  tracers[key] = t;
  return t;
}

// Envoy's UUID request id: the version digit carries the trace status.
constexpr size_t kTraceByte = 14;
enum class Status { NoTrace, Sampled, Forced, Client };

Status statusOf(char c) {
  switch (c) {
    case '9':
      return Status::Sampled;
    case 'a':
      return Status::Forced;
    case 'b':
      return Status::Client;
    default:
      return Status::NoTrace;
  }
}

char byteOf(Status s) {
  switch (s) {
    case Status::Sampled:
      return '9';
    case Status::Forced:
      return 'a';
    case Status::Client:
      return 'b';
    default:
      return '4';
  }
}

bool isUuid(const char* s) {
  for (size_t i = 0; i < 36; ++i) {
    char c = s[i];
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) return false;
  }
  return true;
}

void appendTag(nlohmann::json& tags, const char* name, std::string_view value) { tags[name] = std::string(value); }

}  // namespace

std::shared_ptr<const TracingConfig> compileTracing(const hcmv3::HttpConnectionManager::Tracing& t,
                                                    const std::string& path, bool ingress, stats::Store& store) {
  auto c = std::make_shared<TracingConfig>();
  c->ingress = ingress;
  if (t.has_client_sampling()) c->client_sampling = percent(t.client_sampling(), path + ".client_sampling");
  if (t.has_random_sampling()) c->random_sampling = percent(t.random_sampling(), path + ".random_sampling");
  if (t.has_overall_sampling()) c->overall_sampling = percent(t.overall_sampling(), path + ".overall_sampling");
  if (t.has_max_path_tag_length()) c->max_path_tag_length = t.max_path_tag_length().value();
  if (t.verbose()) throw ConfigError(path + ".verbose: not supported by weft-proxy");
  if (t.has_spawn_upstream_span() && t.spawn_upstream_span().value())
    throw ConfigError(path + ".spawn_upstream_span: not supported by weft-proxy");
  for (int i = 0; i < t.custom_tags_size(); ++i) {
    const auto& ct = t.custom_tags(i);
    const std::string p = path + ".custom_tags[" + std::to_string(i) + "]";
    CustomTag tag;
    tag.tag = ct.tag();
    if (tag.tag.empty()) throw ConfigError(p + ".tag: must not be empty");
    if (ct.has_literal()) {
      tag.value = ct.literal().value();
    } else if (ct.has_environment()) {
      const char* v = std::getenv(ct.environment().name().c_str());
      tag.value = v ? v : ct.environment().default_value();
    } else if (ct.has_request_header()) {
      tag.header = ct.request_header().name();
      tag.default_value = ct.request_header().default_value();
      if (tag.header.empty()) throw ConfigError(p + ".request_header.name: must not be empty");
    } else {
      throw ConfigError(p + ": only literal, environment and request_header tags are supported by weft-proxy");
    }
    c->custom_tags.push_back(std::move(tag));
  }
  if (t.has_provider()) {
    const auto& any = t.provider().typed_config();
    envoy::config::trace::v3::ZipkinConfig z;
    if (!any.UnpackTo(&z) || !any.Is<envoy::config::trace::v3::ZipkinConfig>())
      throw ConfigError(path + ".provider: tracer '" + t.provider().name() + "' (" + any.type_url() +
                        ") is not supported by weft-proxy (envoy.tracers.zipkin is)");
    c->tracer = sharedZipkin(z, path + ".provider.typed_config", store);
  }
  return c;
}

bool decideFromRequestId(const TracingConfig& config, char (&rid)[36], bool& traced) {
  if (!isUuid(rid)) return false;
  // The id's first 32 bits, as a number in [0, 10000): the same answer on every hop.
  uint64_t n = 0;
  for (size_t i = 0; i < 8; ++i) {
    char c = rid[i];
    n = n * 16 + static_cast<uint64_t>(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
  }
  const double slot = static_cast<double>(n % 10000);
  auto within = [&](double pct) { return slot < pct * 100.0; };
  Status s = statusOf(static_cast<char>(rid[kTraceByte] | 0x20));
  if (s == Status::Client && !within(config.client_sampling)) {
    s = Status::NoTrace;
  } else if (s == Status::NoTrace && within(config.random_sampling)) {
    s = Status::Sampled;
  }
  if (s != Status::NoTrace && !within(config.overall_sampling)) s = Status::NoTrace;
  rid[kTraceByte] = byteOf(s);
  traced = s != Status::NoTrace;
  return true;
}

void ActiveSpan::start(const TracingConfig& config, const weft::http::RequestHead& req, std::string_view request_id,
                       std::string_view scheme, bool traced, Random& random) {
  started_ = false;
  if (!config.tracer) return;
  IncomingContext in = extractContext(req, config.tracer->w3c());
  sampled_ = in.sampled.value_or(traced);
  shared_ = false;
  if (in.found) {
    ids_.trace_high = in.ids.trace_high;
    ids_.trace = in.ids.trace;
    if (config.ingress && config.tracer->sharedSpanContext()) {
      ids_.span = in.ids.span;  // the client's span, reported by both sides (Zipkin's shared span)
      ids_.parent = in.ids.parent;
      shared_ = true;
    } else {
      ids_.span = random.next() | 1;
      ids_.parent = in.ids.span;
    }
  } else {
    ids_.trace_high = config.tracer->traceId128() ? (random.next() | 1) : 0;
    ids_.trace = random.next() | 1;
    ids_.span = ids_.trace;  // Envoy's root span: its id is the trace id's low half
    ids_.parent = 0;
  }
  outgoing_.set(ids_, sampled_, config.tracer->w3c());
  started_ = true;
  if (!sampled_) return;
  auto header = [&](std::string_view name, std::string_view fallback) {
    const std::string_view* v = req.find(name);
    return std::string(v ? *v : fallback);
  };
  request_id_.assign(request_id);
  method_.assign(req.method);
  host_.assign(req.host);
  url_.assign(scheme);
  url_ += "://";
  url_ += req.host;
  url_ += req.target;
  if (url_.size() > config.max_path_tag_length) url_.resize(config.max_path_tag_length);
  user_agent_ = header("user-agent", "-");
  downstream_cluster_ = header("x-envoy-downstream-service-cluster", "-");
  header_tags_.clear();
  for (const auto& t : config.custom_tags)
    if (!t.header.empty()) header_tags_.push_back(header(t.header, t.default_value));
}

void ActiveSpan::finish(const TracingConfig& config, WorkerContext& worker, const StreamInfo& info,
                        std::string_view operation, int grpc_status) {
  if (!started_ || !sampled_) return;
  started_ = false;
  using namespace std::chrono;
  const auto& local = telemetry::localPeer();
  char id[16], trace[32], parent[16];
  hex16(ids_.span, id);
  size_t trace_len = traceIdHex(ids_, trace);
  nlohmann::json span = {{"traceId", std::string(trace, trace_len)},
                         {"id", std::string(id, 16)},
                         {"kind", config.ingress ? "SERVER" : "CLIENT"},
                         {"timestamp", duration_cast<microseconds>(info.start_time.time_since_epoch()).count()},
                         {"duration", duration_cast<microseconds>(info.end - info.start).count()}};
  if (ids_.parent != 0) {
    hex16(ids_.parent, parent);
    span["parentId"] = std::string(parent, 16);
  }
  if (shared_) span["shared"] = true;
  std::string name;
  if (!operation.empty()) {
    name = operation;
  } else if (config.ingress) {
    name = "ingress";
  } else {
    name = "egress " + host_;
  }
  span["name"] = name;
  nlohmann::json endpoint = {{"serviceName", local.cluster.empty() ? "unknown" : local.cluster}};
  if (info.downstream_local) {
    std::string ip = info.downstream_local->ip();
    endpoint[ip.find(':') == std::string::npos ? "ipv4" : "ipv6"] = ip;
  }
  span["localEndpoint"] = endpoint;
  nlohmann::json tags = nlohmann::json::object();
  appendTag(tags, "component", "proxy");
  appendTag(tags, "node_id", local.id);
  if (!local.zone.empty()) appendTag(tags, "zone", local.zone);
  appendTag(tags, "guid:x-request-id", request_id_);
  appendTag(tags, "http.url", url_);
  appendTag(tags, "http.method", method_);
  appendTag(tags, "downstream_cluster", downstream_cluster_);
  appendTag(tags, "user_agent", user_agent_);
  appendTag(tags, "http.protocol", info.protocol);
  if (info.downstream_remote) appendTag(tags, "peer.address", info.downstream_remote->ip());
  appendTag(tags, "request_size", std::to_string(info.bytes_received));
  appendTag(tags, "response_size", std::to_string(info.bytes_sent));
  appendTag(tags, "response_flags", responseFlagsString(info.response_flags));
  appendTag(tags, "http.status_code", std::to_string(info.response_code));
  if (!info.upstream_cluster.empty()) {
    appendTag(tags, "upstream_cluster", info.upstream_cluster);
    appendTag(tags, "upstream_cluster.name", info.upstream_cluster);
  }
  if (!info.upstream_host.empty()) appendTag(tags, "upstream_address", info.upstream_host);
  if (grpc_status >= 0) appendTag(tags, "grpc.status_code", std::to_string(grpc_status));
  if (info.response_code == 0 || info.response_code >= 500 || (grpc_status > 0)) appendTag(tags, "error", "true");
  size_t h = 0;
  for (const auto& t : config.custom_tags) {
    const std::string& v = t.header.empty() ? t.value : header_tags_[h++];
    if (!v.empty()) appendTag(tags, t.tag.c_str(), v);
  }
  span["tags"] = std::move(tags);
  config.tracer->report(worker, span.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

}  // namespace weft::proxy::tracing
