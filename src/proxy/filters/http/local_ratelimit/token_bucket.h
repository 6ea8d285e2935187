#pragma once
// A token bucket shared by every worker (Envoy's local rate limit is per proxy, not per
// thread): `max_tokens` to start, `tokens_per_fill` more each `fill_interval`, never above
// `max_tokens`. Lock-free: the refill is claimed with a compare-and-swap on its time.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>

namespace weft::proxy::http::local_ratelimit {

class TokenBucket {
 public:
  using Clock = std::chrono::steady_clock;
  TokenBucket(uint32_t max_tokens, uint32_t tokens_per_fill, std::chrono::nanoseconds fill_interval,
              Clock::time_point now)
      : max_(max_tokens),
        per_fill_(tokens_per_fill),
        interval_(fill_interval.count()),
        tokens_(max_tokens),
        last_fill_(now.time_since_epoch().count()) {}

  // Takes one token; false when there is none. `remaining`: tokens left after this one.
  bool consume(Clock::time_point now, uint32_t& remaining) {
    refill(now);
    int64_t t = tokens_.load(std::memory_order_relaxed);
    while (t > 0) {
      if (tokens_.compare_exchange_weak(t, t - 1, std::memory_order_relaxed)) {
        remaining = static_cast<uint32_t>(t - 1);
        return true;
      }
    }
    remaining = 0;
    return false;
  }
  // Whole seconds until the next fill (at least 1 while one is due), for x-ratelimit-reset.
  uint64_t secondsToNextFill(Clock::time_point now) const {
    int64_t next = last_fill_.load(std::memory_order_relaxed) + interval_;
    int64_t left = std::max<int64_t>(0, next - now.time_since_epoch().count());
    return static_cast<uint64_t>((left + 999999999) / 1000000000);
  }
  uint32_t maxTokens() const { return max_; }

 private:
  void refill(Clock::time_point now) {
    int64_t n = now.time_since_epoch().count();
    int64_t last = last_fill_.load(std::memory_order_relaxed);
    if (n - last < interval_) return;
    int64_t periods = (n - last) / interval_;
    if (!last_fill_.compare_exchange_strong(last, last + periods * interval_, std::memory_order_relaxed)) return;
    int64_t add = periods * static_cast<int64_t>(per_fill_);
    int64_t t = tokens_.load(std::memory_order_relaxed);
    while (!tokens_.compare_exchange_weak(t, std::min<int64_t>(max_, t + add), std::memory_order_relaxed)) {
    }
  }

  const uint32_t max_;
  const uint32_t per_fill_;
  const int64_t interval_;  // ns
  std::atomic<int64_t> tokens_;
  std::atomic<int64_t> last_fill_;  // ns on the steady clock
};

}  // namespace weft::proxy::http::local_ratelimit
