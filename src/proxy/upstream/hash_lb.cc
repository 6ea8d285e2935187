#include "proxy/upstream/hash_lb.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "common/hash.h"

namespace weft::proxy::upstream {

namespace {

class RingHash final : public HashTable {
 public:
  RingHash(const HostSet& hosts, uint64_t min_size, uint64_t max_size) {
    if (hosts.hosts.empty()) return;
    double total = static_cast<double>(hosts.total_weight);
    double min_weight = 1.0;
    for (const auto& h : hosts.hosts) min_weight = std::min(min_weight, h->weight / total);
    // The least-weighted host gets a whole number of points; the ring is at most max_size.
    double scale =
        std::min(std::ceil(min_weight * static_cast<double>(min_size)) / min_weight, static_cast<double>(max_size));
    ring_.reserve(static_cast<size_t>(std::ceil(scale)));
    double current = 0, target = 0;
    std::string key;
    for (uint32_t i = 0; i < hosts.hosts.size(); ++i) {
      const Host& h = *hosts.hosts[i];
      target += scale * (h.weight / total);
      for (uint64_t n = 0; current < target; ++n, ++current) {
        key = h.address_string + "_" + std::to_string(n);
        ring_.push_back({xxHash64(key), i});
      }
    }
    std::sort(ring_.begin(), ring_.end(), [](const Point& a, const Point& b) { return a.hash < b.hash; });
  }

  uint32_t pick(uint64_t hash, uint32_t attempt) const override {
    // The first point at or after the hash, wrapping around (ketama).
    auto it = std::lower_bound(ring_.begin(), ring_.end(), hash, [](const Point& p, uint64_t h) { return p.hash < h; });
    size_t at = it == ring_.end() ? 0 : static_cast<size_t>(it - ring_.begin());
    if (attempt > 0) at = (at + attempt) % ring_.size();
    return ring_[at].host;
  }

 private:
  struct Point {
    uint64_t hash;
    uint32_t host;
  };
  std::vector<Point> ring_;
};

class Maglev final : public HashTable {
 public:
  Maglev(const HostSet& hosts, uint64_t size) : table_(size) {
    struct Entry {
      uint64_t offset, skip, next = 0;
      double weight, target = 0;
    };
    std::vector<Entry> entries;
    double total = static_cast<double>(hosts.total_weight), max_weight = 0;
    for (const auto& h : hosts.hosts) {
      entries.push_back({xxHash64(h->address_string, 0) % size, xxHash64(h->address_string, 1) % (size - 1) + 1, 0,
                         h->weight / total});
      max_weight = std::max(max_weight, h->weight / total);
    }
    if (entries.empty()) return;
    std::vector<bool> filled(size, false);
    uint64_t placed = 0;
    // A host of the largest weight takes a slot every round; one of a third of it, every third.
    for (uint64_t round = 0; placed < size; ++round) {
      for (uint32_t i = 0; i < entries.size() && placed < size; ++i) {
        Entry& e = entries[i];
        if (static_cast<double>(round) * e.weight < e.target) continue;
        e.target += max_weight;
        uint64_t slot = (e.offset + e.skip * e.next) % size;
        while (filled[slot]) slot = (e.offset + e.skip * ++e.next) % size;
        table_[slot] = i;
        filled[slot] = true;
        ++e.next;
        ++placed;
      }
    }
  }

  uint32_t pick(uint64_t hash, uint32_t attempt) const override {
    // As Envoy: a retry flips many bits of the hash to land far from the first choice.
    if (attempt > 0) hash ^= ~0ULL - attempt + 1;
    return table_[hash % table_.size()];
  }

 private:
  std::vector<uint32_t> table_;
};

}  // namespace

std::unique_ptr<HashTable> buildRingHash(const HostSet& hosts, uint64_t min_size, uint64_t max_size) {
  return std::make_unique<RingHash>(hosts, min_size, max_size);
}

std::unique_ptr<HashTable> buildMaglev(const HostSet& hosts, uint64_t table_size) {
  return std::make_unique<Maglev>(hosts, table_size);
}

}  // namespace weft::proxy::upstream
