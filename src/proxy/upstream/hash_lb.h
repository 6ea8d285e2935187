#pragma once
// Consistent-hash load balancing as Envoy's: RING_HASH (a ketama ring of xxHash64 points per
// host, in proportion to weight) and MAGLEV (a lookup table filled from each host's
// permutation). Built by a worker from the hosts it picks from, and rebuilt when they change;
// a pick is one binary search or one table lookup.
#include <cstdint>
#include <memory>
#include <vector>

#include "proxy/upstream/cluster_config.h"

namespace weft::proxy::upstream {

class HashTable {
 public:
  virtual ~HashTable() = default;
  // The index in the host set for this hash; `attempt` > 0 moves retries off the first choice.
  virtual uint32_t pick(uint64_t hash, uint32_t attempt) const = 0;
};

std::unique_ptr<HashTable> buildRingHash(const HostSet& hosts, uint64_t min_size, uint64_t max_size);
std::unique_ptr<HashTable> buildMaglev(const HostSet& hosts, uint64_t table_size);

}  // namespace weft::proxy::upstream
