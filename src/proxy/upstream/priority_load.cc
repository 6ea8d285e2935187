#include "proxy/upstream/priority_load.h"

#include <algorithm>

namespace weft::proxy::upstream {

namespace {

uint32_t normalizedTotal(const std::vector<uint32_t>& health) {
  uint32_t total = 0;
  for (uint32_t h : health) total += h;
  return std::min<uint32_t>(100, total);
}

// Gives each priority its health's share of 100 in order, the rounding remainder to the first
// priority with any health. `total` must not be 0.
void distribute(const std::vector<uint32_t>& health, uint32_t total, std::vector<uint32_t>& load) {
  load.assign(health.size(), 0);
  uint32_t left = 100;
  int first = -1;
  for (size_t i = 0; i < health.size(); ++i) {
    if (first < 0 && health[i] > 0) first = static_cast<int>(i);
    load[i] = std::min(left, health[i] * 100 / total);
    left -= load[i];
  }
  if (left > 0 && first >= 0) load[static_cast<size_t>(first)] += left;
}

}  // namespace

PriorityLoad computePriorityLoad(const std::vector<PriorityCounts>& counts, uint32_t overprovisioning,
                                 double panic_threshold) {
  PriorityLoad out;
  size_t n = std::max<size_t>(1, counts.size());
  out.health.assign(n, 0);
  out.load.assign(n, 0);
  out.panic.assign(n, false);
  for (size_t i = 0; i < counts.size(); ++i) {
    if (counts[i].hosts == 0) continue;
    uint64_t h = uint64_t{overprovisioning} * counts[i].healthy / counts[i].hosts;
    out.health[i] = static_cast<uint32_t>(std::min<uint64_t>(100, h));
  }
  uint32_t total = normalizedTotal(out.health);
  if (total > 0) distribute(out.health, total, out.load);
  if (panic_threshold <= 0 && total == 0) {
    out.load[0] = 100;  // nothing is healthy and panic is off: no host will be picked
    return out;
  }
  // Enough healthy hosts overall means no priority panics, however few it has itself.
  bool total_panic = true;
  for (size_t i = 0; i < n; ++i) {
    uint32_t hosts = i < counts.size() ? counts[i].hosts : 0;
    double healthy_percent = hosts == 0 ? 0.0 : 100.0 * (i < counts.size() ? counts[i].healthy : 0) / hosts;
    out.panic[i] = total != 100 && healthy_percent < panic_threshold;
    total_panic = total_panic && out.panic[i];
  }
  if (total_panic) {
    // Every priority in panic: load in proportion to host counts, health aside.
    uint64_t all = 0;
    for (const auto& c : counts) all += c.hosts;
    out.load.assign(n, 0);
    if (all == 0) {
      out.load[0] = 100;
      return out;
    }
    uint32_t left = 100;
    int first = -1;
    for (size_t i = 0; i < counts.size(); ++i) {
      if (first < 0 && counts[i].hosts > 0) first = static_cast<int>(i);
      out.load[i] = static_cast<uint32_t>(100 * uint64_t{counts[i].hosts} / all);
      left -= out.load[i];
    }
    out.load[static_cast<size_t>(first)] += left;
  }
  return out;
}

bool excludePriorities(const std::vector<uint32_t>& health, uint64_t excluded, std::vector<uint32_t>& load) {
  std::vector<uint32_t> adjusted = health;
  for (size_t i = 0; i < adjusted.size() && i < 64; ++i) {
    if (excluded & (uint64_t{1} << i)) adjusted[i] = 0;
  }
  uint32_t total = normalizedTotal(adjusted);
  if (total == 0) return false;
  distribute(adjusted, total, load);
  return true;
}

uint32_t choosePriority(const std::vector<uint32_t>& load, uint64_t value) {
  uint64_t v = value % 100 + 1;
  uint64_t sum = 0;
  for (size_t i = 0; i < load.size(); ++i) {
    sum += load[i];
    if (v <= sum) return static_cast<uint32_t>(i);
  }
  return 0;
}

double effectiveLocalityWeight(uint32_t weight, uint32_t healthy, uint32_t hosts, uint32_t overprovisioning) {
  if (hosts == 0 || weight == 0) return 0;
  double availability = std::min(1.0, overprovisioning / 100.0 * healthy / hosts);
  return weight * availability;
}

}  // namespace weft::proxy::upstream
