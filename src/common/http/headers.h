#pragma once
// A parsed HTTP/1 message head as views into the connection's input buffer: no copies on
// the hot path. The views are valid until the input buffer is drained past the head.
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace weft::http {

struct Header {
  std::string_view name;
  std::string_view value;
};

inline bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x + 32);
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y + 32);
    if (x != y) return false;
  }
  return true;
}

inline bool startsWithIgnoreCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && equalsIgnoreCase(s.substr(0, prefix.size()), prefix);
}

struct RequestHead {
  std::string_view method;
  std::string_view target;  // as sent: path and query
  std::string_view path;    // target without the query
  std::string_view query;   // without '?'
  std::string_view host;    // Host header (":authority")
  int version = 11;         // 10 or 11
  std::vector<Header> headers;
  bool keep_alive = true;
  bool chunked = false;
  std::optional<uint64_t> content_length;
  bool upgrade = false;
  bool expect_continue = false;

  void clear() {
    headers.clear();
    method = target = path = query = host = {};
    version = 11;
    keep_alive = true;
    chunked = false;
    content_length.reset();
    upgrade = expect_continue = false;
  }
  // Case-insensitive lookup of the first header with this name ("host", ":path" ...).
  const std::string_view* find(std::string_view name) const {
    for (const auto& h : headers) {
      if (equalsIgnoreCase(h.name, name)) return &h.value;
    }
    return nullptr;
  }
  bool hasBody() const { return chunked || (content_length && *content_length > 0); }
};

struct ResponseHead {
  int status = 0;
  std::string_view reason;
  int version = 11;
  std::vector<Header> headers;
  bool keep_alive = true;
  bool chunked = false;
  std::optional<uint64_t> content_length;

  void clear() {
    headers.clear();
    status = 0;
    reason = {};
    version = 11;
    keep_alive = true;
    chunked = false;
    content_length.reset();
  }
  const std::string_view* find(std::string_view name) const {
    for (const auto& h : headers) {
      if (equalsIgnoreCase(h.name, name)) return &h.value;
    }
    return nullptr;
  }
};

// A decimal header value (content-length, :status, grpc-status): null unless all digits and
// at most 19 of them.
inline std::optional<uint64_t> parseDecimal(std::string_view v) {
  if (v.empty() || v.size() > 19) return std::nullopt;
  uint64_t n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  return n;
}

// Hop-by-hop headers a proxy never forwards as they came (RFC 9110 7.6.1).
inline bool isHopByHop(std::string_view name) {
  switch (name.size()) {
    case 2:
      return equalsIgnoreCase(name, "te");
    case 7:
      return equalsIgnoreCase(name, "upgrade") || equalsIgnoreCase(name, "trailer");
    case 10:
      return equalsIgnoreCase(name, "connection") || equalsIgnoreCase(name, "keep-alive");
    case 16:
      return equalsIgnoreCase(name, "proxy-connection");
    case 17:
      return equalsIgnoreCase(name, "transfer-encoding");
    default:
      return false;
  }
}

}  // namespace weft::http
