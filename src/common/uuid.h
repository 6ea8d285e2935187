#pragma once
// Random (version 4) UUIDs for x-request-id.
#include <string_view>

#include "common/random.h"

namespace weft {

// Writes 36 characters into `out` and returns a view of them.
inline std::string_view uuid4(Random& random, char (&out)[36]) {
  static constexpr char kHex[] = "0123456789abcdef";
  uint64_t hi = random.next(), lo = random.next();
  hi = (hi & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;  // version 4
  lo = (lo & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // RFC 4122 variant
  int pos = 0;
  for (int i = 0; i < 32; ++i) {
    if (i == 8 || i == 12 || i == 16 || i == 20) out[pos++] = '-';
    uint64_t word = i < 16 ? hi : lo;
    int shift = 60 - 4 * (i % 16);
    out[pos++] = kHex[(word >> shift) & 0xf];
  }
  return {out, 36};
}

}  // namespace weft
