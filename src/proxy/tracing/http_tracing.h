#pragma once
// The HTTP connection manager's `tracing`: Envoy's trace decision kept in x-request-id (its
// UUID's version digit: 9 sampled, a forced, b client, 4 not traced; random_sampling,
// client_sampling and overall_sampling applied to the id, so every hop decides alike), and
// with a Zipkin provider one span per request: SERVER on inbound listeners ("ingress"),
// CLIENT on outbound ones ("egress <host>"), named by the route's decorator when it has one,
// a child of the caller's B3 context (or sharing its span with shared_span_context), tagged
// as Envoy tags it plus custom_tags, reported when sampled. The next hop gets this span's
// context in B3 headers, sampled or not.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/http/headers.h"
#include "common/random.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h"
#include "proxy/tracing/trace_context.h"
#include "proxy/tracing/zipkin_tracer.h"

namespace weft::proxy {
struct StreamInfo;
class WorkerContext;
}  // namespace weft::proxy

namespace weft::proxy::tracing {

struct CustomTag {
  std::string tag;
  std::string value;   // literal, or the environment variable's value (read once)
  std::string header;  // request_header: its name; empty for a literal or environment tag
  std::string default_value;
};

struct TracingConfig {
  bool ingress = false;  // the listener's traffic_direction is INBOUND
  double client_sampling = 100, random_sampling = 100, overall_sampling = 100;  // percent
  uint32_t max_path_tag_length = 256;
  std::vector<CustomTag> custom_tags;
  std::shared_ptr<ZipkinTracer> tracer;  // null: the decision only, no spans or B3 headers
};

// Throws ConfigError naming `path` for what weft-proxy does not do.
std::shared_ptr<const TracingConfig> compileTracing(
    const envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager::Tracing& t,
    const std::string& path, bool ingress, stats::Store& store);

// Envoy's decision from an x-request-id (rewritten in `rid`, a UUID, when it changes); false
// for an id that is not a UUID.
bool decideFromRequestId(const TracingConfig& config, char (&rid)[36], bool& traced);

// One request's span, reused across the requests of a stream.
class ActiveSpan {
 public:
  void clear() { started_ = false; }
  // After the request id and the route are known. A sampled span copies what its tags need
  // of the request now (the head is gone by the end of the stream).
  void start(const TracingConfig& config, const weft::http::RequestHead& req, std::string_view request_id,
             std::string_view scheme, bool traced, Random& random);
  bool started() const { return started_; }
  // The context the router sends upstream (null when no span was started).
  const OutgoingContext* outgoing() const { return started_ ? &outgoing_ : nullptr; }
  // At the end of the stream: tags the span and reports it when sampled.
  void finish(const TracingConfig& config, WorkerContext& worker, const StreamInfo& info, std::string_view operation,
              int grpc_status);

 private:
  bool started_ = false;
  bool sampled_ = false;
  bool shared_ = false;
  TraceIds ids_;
  OutgoingContext outgoing_;
  // Sampled spans only: the request's parts the tags name.
  std::string request_id_, method_, host_, url_, user_agent_, downstream_cluster_;
  std::vector<std::string> header_tags_;  // custom request_header tags, in config order
};

}  // namespace weft::proxy::tracing
