#pragma once
// xxHash64 as Envoy's HashUtil::xxHash64 (seed 0 unless given): the hash of consistent-hash
// load balancing, so a request maps to the same point of the ring as it would in Envoy.
#include <cstdint>
#include <string_view>

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace weft {

inline uint64_t xxHash64(std::string_view s, uint64_t seed = 0) { return XXH64(s.data(), s.size(), seed); }

}  // namespace weft
