#pragma once
// A cluster's circuit breakers (Envoy's circuit_breakers.thresholds for the DEFAULT priority):
// how many connections, pending requests, requests and retries it may have at once. One instance is
// shared by every worker's view of the cluster, so the counts are process-wide, as Envoy's.
// Envoy's defaults apply when the cluster sets none.
#include <algorithm>
#include <atomic>
#include <cstdint>

namespace weft::proxy::upstream {

class ResourceCount {
 public:
  explicit ResourceCount(uint64_t max) : max_(max) {}
  ResourceCount(const ResourceCount&) = delete;
  ResourceCount& operator=(const ResourceCount&) = delete;

  bool canCreate() const { return count_.load(std::memory_order_relaxed) < max_; }
  // Takes one unit if the limit allows it.
  bool tryAcquire() {
    if (count_.fetch_add(1, std::memory_order_relaxed) < max_) return true;
    count_.fetch_sub(1, std::memory_order_relaxed);
    return false;
  }
  // Takes one unit if fewer than `max` are taken (a limit computed per call: retry_budget).
  bool tryAcquireUpTo(uint64_t max) {
    if (count_.fetch_add(1, std::memory_order_relaxed) < max) return true;
    count_.fetch_sub(1, std::memory_order_relaxed);
    return false;
  }
  // Takes one unit whatever the limit (the caller checked canCreate()).
  void acquire() { count_.fetch_add(1, std::memory_order_relaxed); }
  void release() { count_.fetch_sub(1, std::memory_order_relaxed); }
  uint64_t max() const { return max_; }
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }

 private:
  const uint64_t max_;
  std::atomic<uint64_t> count_{0};
};

struct ResourceLimits {
  ResourceLimits(uint64_t cx, uint64_t pending, uint64_t rq, uint64_t retries = 3, uint64_t pools = UINT64_MAX)
      : connections(cx), pending_requests(pending), requests(rq), retries(retries), connection_pools(pools) {}
  ResourceCount connections;
  ResourceCount pending_requests;
  ResourceCount requests;
  ResourceCount retries;  // retries in flight (max_retries), across workers
  // max_connection_pools: pools (a host and server name, on one worker) with a connection.
  ResourceCount connection_pools;
  bool limitsPools() const { return connection_pools.max() != UINT64_MAX; }
  bool track_remaining = false;  // publish circuit_breakers.default.remaining_*
  // retry_budget (replaces max_retries when set): retries in flight may be budget_percent of
  // the requests and pending requests in flight, and at least min_retry_concurrency.
  bool has_retry_budget = false;
  double budget_percent = 20;
  uint32_t min_retry_concurrency = 3;

  uint64_t maxRetries() const {
    if (!has_retry_budget) return retries.max();
    auto active = static_cast<double>(requests.count() + pending_requests.count());
    return std::max<uint64_t>(min_retry_concurrency, static_cast<uint64_t>(active * budget_percent / 100.0));
  }
  bool tryAcquireRetry() { return retries.tryAcquireUpTo(maxRetries()); }
};

}  // namespace weft::proxy::upstream
