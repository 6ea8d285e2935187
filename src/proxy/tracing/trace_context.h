#pragma once
// The trace context a request carries between services: Zipkin's B3 headers (x-b3-traceid,
// x-b3-spanid, x-b3-parentspanid, x-b3-sampled, x-b3-flags, or the single `b3` header). Parsed
// from a request, and written for the next hop with this proxy's span as the parent, in fixed
// buffers (no allocation per request). W3C's traceparent/tracestate pass through untouched in
// Envoy's default USE_B3 mode; with USE_B3_WITH_W3C_PROPAGATION a request without B3 headers
// continues its traceparent, and the next hop gets a traceparent beside the B3 headers
// (tracestate still passes through, as Envoy's Zipkin tracer leaves it).
#include <cstdint>
#include <optional>
#include <string_view>

#include "common/http/headers.h"

namespace weft::proxy::tracing {

struct TraceIds {
  uint64_t trace_high = 0;  // non-zero for a 128-bit trace id
  uint64_t trace = 0;
  uint64_t span = 0;
  uint64_t parent = 0;  // 0: none
};

struct IncomingContext {
  bool found = false;  // a well-formed context (trace and span ids)
  TraceIds ids;        // ids.span is the caller's span, the parent of ours
  std::optional<bool> sampled;
};

// The multi-header form first, then the single `b3`, then (with `w3c`) `traceparent`.
// Malformed headers count as absent: Envoy's Zipkin tracer starts a new trace for them.
IncomingContext extractContext(const weft::http::RequestHead& req, bool w3c);

// W3C's `traceparent` (version 00, or a later version's first four fields); false when malformed.
bool parseTraceparent(std::string_view v, IncomingContext& out);

// The headers for the upstream request: this span's ids and the sampling decision.
class OutgoingContext {
 public:
  void set(const TraceIds& ids, bool sampled, bool w3c);
  bool empty() const { return trace_len_ == 0; }
  // True for a request header this context replaces.
  bool replaces(std::string_view name) const;
  template <typename Emit>
  void forEach(Emit&& emit) const {
    if (empty()) return;
    emit("x-b3-traceid", std::string_view(trace_, trace_len_));
    emit("x-b3-spanid", std::string_view(span_, 16));
    if (has_parent_) emit("x-b3-parentspanid", std::string_view(parent_, 16));
    emit("x-b3-sampled", sampled_ ? std::string_view("1") : std::string_view("0"));
    if (w3c_) emit("traceparent", std::string_view(traceparent_, sizeof traceparent_));
  }

 private:
  char trace_[32] = {};
  size_t trace_len_ = 0;
  char span_[16] = {};
  char parent_[16] = {};
  bool has_parent_ = false;
  bool sampled_ = false;
  bool w3c_ = false;
  char traceparent_[55] = {};  // 00-{32 hex trace id}-{16 hex span id}-{flags}
};

// Lower-case hex of `v` in exactly 16 characters.
void hex16(uint64_t v, char* out);
// The trace id as B3 and Zipkin write it: 32 hex digits for a 128-bit id, else 16. Returns the length.
size_t traceIdHex(const TraceIds& ids, char (&out)[32]);
// 16 or 32 hex digits -> ids; false when malformed or all zero.
bool parseTraceId(std::string_view s, uint64_t& high, uint64_t& low);
bool parseSpanId(std::string_view s, uint64_t& out);

}  // namespace weft::proxy::tracing
