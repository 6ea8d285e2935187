#pragma once
// Envoy's priority levels: how much of the load each priority gets from the share of its hosts
// that are healthy (times the overprovisioning factor), and which priorities run in panic mode.
// Pure arithmetic, rebuilt by a worker only when membership or health changes.
#include <cstdint>
#include <vector>

namespace weft::proxy::upstream {

struct PriorityCounts {
  uint32_t hosts = 0;
  uint32_t healthy = 0;
};

struct PriorityLoad {
  std::vector<uint32_t> health;  // percent per priority: overprovisioned healthy share, capped at 100
  std::vector<uint32_t> load;    // percent of requests per priority; sums to 100
  std::vector<bool> panic;       // per priority: pick among all its hosts, healthy or not
};

// `overprovisioning` in percent (Envoy's default 140); `panic_threshold` in percent (0: never).
PriorityLoad computePriorityLoad(const std::vector<PriorityCounts>& counts, uint32_t overprovisioning,
                                 double panic_threshold);

// The load with the priorities in `excluded` (a bit per priority) taking none, as Envoy's
// previous_priorities retry plugin does; false when that would leave no healthy priority.
bool excludePriorities(const std::vector<uint32_t>& health, uint64_t excluded, std::vector<uint32_t>& load);

// The priority a value in [0, 2^64) falls on, as Envoy's choosePriority (value % 100 + 1).
uint32_t choosePriority(const std::vector<uint32_t>& load, uint64_t value);

// A locality's weight scaled by its overprovisioned healthy share (Envoy's effective weight).
double effectiveLocalityWeight(uint32_t weight, uint32_t healthy, uint32_t hosts, uint32_t overprovisioning);

}  // namespace weft::proxy::upstream
