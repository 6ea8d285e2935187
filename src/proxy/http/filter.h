#pragma once
// The HTTP filter API (Envoy's StreamDecoderFilter / StreamEncoderFilter model). A request
// passes the decoder filters in configured order, the router last; the response passes the
// encoder filters in reverse order. A filter may stop iteration (StopIteration) and resume it
// later with continueDecoding() / continueEncoding() from a timer or a callback; what arrives
// meanwhile is held by the stream. Any filter may answer locally with sendLocalReply().
// See docs/http-filters.md for the contract in full.
#include <memory>
#include <string_view>
#include <vector>

#include "common/event/reactor.h"
#include "common/net/connection.h"
#include "common/random.h"
#include "proxy/http/codec_util.h"
#include "proxy/http/headers.h"
#include "proxy/stream_info.h"
#include "proxy/tracing/trace_context.h"

namespace weft::proxy {
class WorkerContext;
}

namespace weft::proxy::http {

struct Route;
struct VirtualHost;
struct WeightedTarget;
class RouteTable;
struct HcmConfig;

enum class FilterStatus {
  Continue,       // pass to the next filter
  StopIteration,  // hold here; data and trailers that follow are buffered until continue
};

// Config from typed_per_filter_config (route, virtual host or route configuration).
class RouteSpecificFilterConfig {
 public:
  virtual ~RouteSpecificFilterConfig() = default;
};

struct LocalReply {
  int status = 200;
  std::string_view body;
  uint32_t flag = 0;         // ResponseFlag for the access log
  std::string_view details;  // %RESPONSE_CODE_DETAILS%
  int grpc_status = -1;      // for gRPC requests; -1: mapped from `status`
  const MutationChain* mutations = nullptr;
  std::string_view location;    // redirects
  std::vector<Header> headers;  // extra headers (values must outlive the call)
};

// What every filter may ask of its stream.
class StreamFilterCallbacks {
 public:
  virtual ~StreamFilterCallbacks() = default;
  virtual WorkerContext& worker() = 0;
  virtual const HcmConfig& hcm() const = 0;
  virtual StreamInfo& streamInfo() = 0;
  virtual const RequestHead& requestHeaders() const = 0;
  virtual bool isGrpc() const = 0;
  virtual bool isHttp2() const = 0;
  // The route picked for this request (null: none matched) and its cluster target.
  virtual const Route* route() const = 0;
  virtual const VirtualHost* virtualHost() const = 0;
  virtual const WeightedTarget* target() const = 0;
  virtual const RouteTable* routeTable() const = 0;
  // typed_per_filter_config for `filter_name`: the route's, else the virtual host's, else
  // the route configuration's; null when none sets it.
  virtual const RouteSpecificFilterConfig* perRouteConfig(std::string_view filter_name) const = 0;
  // Answers now; later filters of the request see nothing more. Resets the stream when the
  // response has already started.
  virtual void sendLocalReply(const LocalReply& reply) = 0;
  // Keeps a header value alive for the rest of the stream (headers hold views).
  virtual std::string_view keep(std::string value) = 0;
  virtual net::Connection& downstreamConnection() = 0;
  // The x-request-id made for this request; empty when the client's is kept.
  virtual std::string_view generatedRequestId() const = 0;
  // The B3 context of this proxy's span for the upstream request (null: no tracer).
  virtual const tracing::OutgoingContext* traceContext() const = 0;
  // grpc-status of the response so far (-1: none, or not gRPC).
  virtual int grpcStatus() const = 0;
};

class StreamDecoderFilterCallbacks : public virtual StreamFilterCallbacks {
 public:
  // Resumes a request this filter stopped.
  virtual void continueDecoding() = 0;
  // The router (or any filter answering with an upstream's response) starts the response;
  // it runs through the encoder filters.
  virtual void encodeHeaders(ResponseHead& head, bool end_stream) = 0;
  virtual void encodeData(std::string_view data, bool end_stream) = 0;
  virtual void encodeTrailers(std::vector<Header>& trailers) = 0;
  // The response cannot complete: reset (HTTP/2) or close (HTTP/1.1) the downstream stream.
  virtual void resetStream(uint32_t flag) = 0;
  // True while the client reads the response slower than it comes.
  virtual bool downstreamAboveWriteLimit() const = 0;
  // The request body may flow again (the upstream drained).
  virtual void onDecoderDrained() = 0;
  // Output for the downstream is ready: flush it after this event batch.
  virtual void flushDownstream() = 0;
  // HTTP/1.1 Upgrade: the response head went out and the bytes now relay over `upstream`.
  virtual void upgradeTunnel(const ResponseHead& head, net::Connection& upstream) = 0;
};

class StreamEncoderFilterCallbacks : public virtual StreamFilterCallbacks {
 public:
  // Resumes a response this filter stopped.
  virtual void continueEncoding() = 0;
};

class StreamDecoderFilter {
 public:
  virtual ~StreamDecoderFilter() = default;
  virtual void setDecoderFilterCallbacks(StreamDecoderFilterCallbacks& cb) = 0;
  virtual FilterStatus decodeHeaders(RequestHead& head, bool end_stream) = 0;
  virtual FilterStatus decodeData(std::string_view data, bool end_stream) {
    (void)data;
    (void)end_stream;
    return FilterStatus::Continue;
  }
  virtual FilterStatus decodeTrailers(std::vector<Header>& trailers) {
    (void)trailers;
    return FilterStatus::Continue;
  }
  // Downstream backpressure: stop (true) or resume reading the upstream's response.
  virtual void onDownstreamAboveWriteLimit(bool above) { (void)above; }
  // True while this filter cannot take more request body (the router's upstream backed up).
  virtual bool decoderAboveWriteLimit() const { return false; }
};

class StreamEncoderFilter {
 public:
  virtual ~StreamEncoderFilter() = default;
  virtual void setEncoderFilterCallbacks(StreamEncoderFilterCallbacks& cb) = 0;
  virtual FilterStatus encodeHeaders(ResponseHead& head, bool end_stream) = 0;
  virtual FilterStatus encodeData(std::string_view data, bool end_stream) {
    (void)data;
    (void)end_stream;
    return FilterStatus::Continue;
  }
  virtual FilterStatus encodeTrailers(std::vector<Header>& trailers) {
    (void)trailers;
    return FilterStatus::Continue;
  }
};

// Owns a filter for the life of its stream; deleted after the event batch that ends it.
class StreamFilterBase : public event::Deferrable {
 public:
  // A local reply is going out (from any filter or a stream timeout): drop pending work
  // such as an upstream request.
  virtual void onLocalReply() {}
  // The stream ended (completed or reset); the access log is written after this.
  virtual void onStreamComplete() {}
  // Before destruction: cancel timers and callbacks.
  virtual void onDestroy() {}
};

// A stream's filter chain as its factories build it.
class FilterChainBuilder {
 public:
  virtual ~FilterChainBuilder() = default;
  virtual WorkerContext& worker() = 0;
  // The filter is a StreamFilterBase and a StreamDecoderFilter, a StreamEncoderFilter or both.
  virtual void addDecoderFilter(std::unique_ptr<StreamFilterBase> owner, StreamDecoderFilter* filter) = 0;
  virtual void addEncoderFilter(std::unique_ptr<StreamFilterBase> owner, StreamEncoderFilter* filter) = 0;
  virtual void addStreamFilter(std::unique_ptr<StreamFilterBase> owner, StreamDecoderFilter* decoder,
                               StreamEncoderFilter* encoder) = 0;

  template <typename F, typename... Args>
  void addDecoder(Args&&... args) {
    auto f = std::make_unique<F>(std::forward<Args>(args)...);
    StreamDecoderFilter* d = f.get();
    addDecoderFilter(std::move(f), d);
  }
  template <typename F, typename... Args>
  void addEncoder(Args&&... args) {
    auto f = std::make_unique<F>(std::forward<Args>(args)...);
    StreamEncoderFilter* e = f.get();
    addEncoderFilter(std::move(f), e);
  }
  template <typename F, typename... Args>
  void addBoth(Args&&... args) {
    auto f = std::make_unique<F>(std::forward<Args>(args)...);
    StreamDecoderFilter* d = f.get();
    StreamEncoderFilter* e = f.get();
    addStreamFilter(std::move(f), d, e);
  }
};

}  // namespace weft::proxy::http
