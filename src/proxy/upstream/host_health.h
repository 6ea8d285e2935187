#pragma once
// Why a host gets no new requests: Envoy's Host::HealthFlag bits. The main thread sets them
// (outlier detection, active health checks, EDS health_status); workers read them when they
// rebuild their load-balancing set, which they do only when the generation has moved.
#include <atomic>
#include <cstdint>
#include <string>

namespace weft::proxy::upstream::health {

enum Flag : uint32_t {
  kFailedActiveHc = 1,
  kFailedOutlierCheck = 2,
  kFailedEdsHealth = 4,
  kPendingActiveHc = 8,
  kEdsDraining = 16,
};
// Any of these takes the host out of the load-balancing set.
constexpr uint32_t kUnhealthy = kFailedActiveHc | kFailedOutlierCheck | kFailedEdsHealth | kEdsDraining;

// Bumped on every change of any host's flags, process-wide: a relaxed load per pick tells a
// worker whether its healthy set is still current.
inline std::atomic<uint64_t>& generation() {
  static std::atomic<uint64_t> g{0};
  return g;
}

// Sets or clears `flag` in `flags`; bumps the generation when that changed anything.
inline void set(std::atomic<uint32_t>& flags, uint32_t flag, bool on) {
  uint32_t before =
      on ? flags.fetch_or(flag, std::memory_order_relaxed) : flags.fetch_and(~flag, std::memory_order_relaxed);
  if (((before & flag) != 0) != on) generation().fetch_add(1, std::memory_order_release);
}

// Envoy's /clusters health_flags text: "healthy", or each failed flag as "/name".
inline std::string flagsText(uint32_t flags) {
  if (flags == 0) return "healthy";
  std::string out;
  if (flags & kFailedActiveHc) out += "/failed_active_hc";
  if (flags & kFailedOutlierCheck) out += "/failed_outlier_check";
  if (flags & kFailedEdsHealth) out += "/failed_eds_health";
  if (flags & kPendingActiveHc) out += "/pending_active_hc";
  if (flags & kEdsDraining) out += "/eds_status_draining";
  return out;
}

}  // namespace weft::proxy::upstream::health
