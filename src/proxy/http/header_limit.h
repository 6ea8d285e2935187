#pragma once
// The running size of one header block as it is decoded, checked against the limits
// (max_request_headers_kb / max_headers_count, or the response ones) before anything is kept:
// HPACK lets a few bytes on the wire stand for kilobytes of headers.
#include <cstddef>
#include <cstdint>

namespace weft::proxy::http {

struct HeaderLimit {
  size_t bytes = 0;
  uint32_t count = 0;
  // Counts one more field of `field_bytes` (name + value); false when it would pass a limit.
  bool add(size_t field_bytes, size_t max_bytes, uint32_t max_count) {
    if (count + 1 > max_count || bytes + field_bytes > max_bytes) return false;
    ++count;
    bytes += field_bytes;
    return true;
  }
};

}  // namespace weft::proxy::http
