#include "proxy/tracing/trace_context.h"

#include <cstring>

namespace weft::proxy::tracing {

namespace {

bool parseHex(std::string_view s, uint64_t& out) {
  if (s.empty() || s.size() > 16) return false;
  uint64_t v = 0;
  for (char c : s) {
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      d = c - 'A' + 10;
    } else {
      return false;
    }
    v = (v << 4) | static_cast<uint64_t>(d);
  }
  out = v;
  return true;
}

std::optional<bool> sampledFlag(std::string_view v) {
  if (v == "1" || v == "d" || v == "true") return true;
  if (v == "0" || v == "false") return false;
  return std::nullopt;
}

IncomingContext fromB3(const weft::http::RequestHead& req) {
  IncomingContext c;
  const std::string_view* trace = req.find("x-b3-traceid");
  const std::string_view* span = req.find("x-b3-spanid");
  const std::string_view* sampled = req.find("x-b3-sampled");
  const std::string_view* flags = req.find("x-b3-flags");
  if (flags && *flags == "1")
    c.sampled = true;  // debug
  else if (sampled)
    c.sampled = sampledFlag(*sampled);
  if (trace && span) {
    c.found = parseTraceId(*trace, c.ids.trace_high, c.ids.trace) && parseSpanId(*span, c.ids.span);
    if (const std::string_view* parent = req.find("x-b3-parentspanid"); c.found && parent)
      c.found = parseSpanId(*parent, c.ids.parent);
  }
  if (c.found || c.sampled) return c;
  // The single header: {trace}-{span}[-{sampled}[-{parent}]], or just a sampling flag.
  const std::string_view* b3 = req.find("b3");
  if (b3 == nullptr) return c;
  std::string_view v = *b3;
  if (v.size() == 1) {
    c.sampled = sampledFlag(v);
    return c;
  }
  std::string_view parts[4];
  size_t n = 0;
  while (n < 4) {
    size_t dash = v.find('-');
    parts[n++] = v.substr(0, dash);
    if (dash == std::string_view::npos) break;
    v.remove_prefix(dash + 1);
  }
  if (n < 2) return c;
  c.found = parseTraceId(parts[0], c.ids.trace_high, c.ids.trace) && parseSpanId(parts[1], c.ids.span);
  if (c.found && n >= 3) c.sampled = sampledFlag(parts[2]);
  if (c.found && n == 4) c.found = parseSpanId(parts[3], c.ids.parent);
  return c;
}

}  // namespace

void hex16(uint64_t v, char* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (int i = 15; i >= 0; --i) {
    out[i] = kHex[v & 0xf];
    v >>= 4;
  }
}

bool parseTraceId(std::string_view s, uint64_t& high, uint64_t& low) {
  high = 0;
  if (s.size() == 32) {
    if (!parseHex(s.substr(0, 16), high) || !parseHex(s.substr(16), low)) return false;
  } else if (s.size() == 16) {
    if (!parseHex(s, low)) return false;
  } else {
    return false;
  }
  return high != 0 || low != 0;
}

bool parseSpanId(std::string_view s, uint64_t& out) { return s.size() == 16 && parseHex(s, out) && out != 0; }

bool parseTraceparent(std::string_view v, IncomingContext& out) {
  // version-traceid-parentid-flags; version ff is invalid, 00 has exactly these four fields.
  if (v.size() < 55 || v[2] != '-' || v[35] != '-' || v[52] != '-') return false;
  uint64_t version = 0, flags = 0;
  if (!parseHex(v.substr(0, 2), version) || version == 0xff) return false;
  if (version == 0 ? v.size() != 55 : (v.size() > 55 && v[55] != '-')) return false;
  IncomingContext c;
  if (!parseTraceId(v.substr(3, 32), c.ids.trace_high, c.ids.trace) || !parseSpanId(v.substr(36, 16), c.ids.span) ||
      !parseHex(v.substr(53, 2), flags))
    return false;
  c.found = true;
  c.sampled = (flags & 1) != 0;
  out = c;
  return true;
}

IncomingContext extractContext(const weft::http::RequestHead& req, bool w3c) {
  IncomingContext c = fromB3(req);
  if (c.found || !w3c) return c;
  if (const std::string_view* tp = req.find("traceparent")) parseTraceparent(*tp, c);
  return c;
}

bool OutgoingContext::replaces(std::string_view n) const {
  return weft::http::startsWithIgnoreCase(n, "x-b3-") || weft::http::equalsIgnoreCase(n, "b3") ||
         (w3c_ && weft::http::equalsIgnoreCase(n, "traceparent"));
}

size_t traceIdHex(const TraceIds& ids, char (&out)[32]) {
  if (ids.trace_high == 0) {
    hex16(ids.trace, out);
    return 16;
  }
  hex16(ids.trace_high, out);
  hex16(ids.trace, out + 16);
  return 32;
}

void OutgoingContext::set(const TraceIds& ids, bool sampled, bool w3c) {
  trace_len_ = traceIdHex(ids, trace_);
  hex16(ids.span, span_);
  has_parent_ = ids.parent != 0;
  if (has_parent_) hex16(ids.parent, parent_);
  sampled_ = sampled;
  w3c_ = w3c;
  if (!w3c) return;
  char* p = traceparent_;
  std::memcpy(p, "00-", 3);
  hex16(ids.trace_high, p + 3);  // a 64-bit trace id is zero-padded to W3C's 128 bits
  hex16(ids.trace, p + 19);
  p[35] = '-';
  std::memcpy(p + 36, span_, 16);
  std::memcpy(p + 52, sampled ? "-01" : "-00", 3);
}

}  // namespace weft::proxy::tracing
