#pragma once
// Envoy's outlier detection (envoy.config.cluster.v3.OutlierDetection) for one cluster.
// Workers report every upstream result on the request path as relaxed atomic counts on the
// host; a host that reaches a consecutive-error threshold is posted to the main thread, which
// makes every ejection decision (max_ejection_percent, enforcing_*), and runs the interval:
// un-ejection after base_ejection_time x the host's ejection backoff, success rate and failure
// percentage. Stats are Envoy's cluster.<name>.outlier_detection.*.
#include <chrono>
#include <memory>
#include <string>
#include <unordered_map>

#include "common/event/reactor.h"
#include "common/random.h"
#include "common/stats/stats.h"
#include "envoy/config/cluster/v3/outlier_detection.pb.h"
#include "proxy/upstream/cluster_config.h"

namespace weft::proxy::upstream {

#define WEFT_OUTLIER_STATS(COUNTER, GAUGE)                                                                             \
  GAUGE(ejections_active)                                                                                              \
  COUNTER(ejections_overflow)                                                                                          \
  COUNTER(ejections_enforced_total)                                                                                    \
  COUNTER(ejections_total)                                                                                             \
  COUNTER(ejections_consecutive_5xx) COUNTER(ejections_success_rate) COUNTER(ejections_enforced_consecutive_5xx)       \
      COUNTER(ejections_detected_consecutive_5xx) COUNTER(ejections_enforced_consecutive_gateway_failure) COUNTER(     \
          ejections_detected_consecutive_gateway_failure) COUNTER(ejections_enforced_consecutive_local_origin_failure) \
          COUNTER(ejections_detected_consecutive_local_origin_failure) COUNTER(ejections_enforced_success_rate)        \
              COUNTER(ejections_detected_success_rate) COUNTER(ejections_enforced_local_origin_success_rate)           \
                  COUNTER(ejections_detected_local_origin_success_rate) COUNTER(ejections_enforced_failure_percentage) \
                      COUNTER(ejections_detected_failure_percentage)                                                   \
                          COUNTER(ejections_enforced_local_origin_failure_percentage)                                  \
                              COUNTER(ejections_detected_local_origin_failure_percentage)
WEFT_STATS_STRUCT(OutlierStats, WEFT_OUTLIER_STATS)

class OutlierDetector : public std::enable_shared_from_this<OutlierDetector> {
 public:
  // Envoy's defaults where the field is unset.
  struct Config {
    std::chrono::milliseconds interval{10000};
    std::chrono::milliseconds base_ejection_time{30000};
    std::chrono::milliseconds max_ejection_time{300000};
    std::chrono::milliseconds max_ejection_time_jitter{0};
    uint32_t consecutive_5xx = 5;
    uint32_t consecutive_gateway_failure = 5;
    uint32_t consecutive_local_origin_failure = 5;
    uint32_t max_ejection_percent = 10;
    bool always_eject_one_host = false;
    bool split_external_local_origin_errors = false;
    uint32_t success_rate_minimum_hosts = 5;
    uint32_t success_rate_request_volume = 100;
    uint32_t success_rate_stdev_factor = 1900;
    uint32_t failure_percentage_threshold = 85;
    uint32_t failure_percentage_minimum_hosts = 5;
    uint32_t failure_percentage_request_volume = 50;
    // enforcing_*: the percentage of detected ejections that are carried out.
    uint32_t enforcing_consecutive_5xx = 100;
    uint32_t enforcing_consecutive_gateway_failure = 0;
    uint32_t enforcing_consecutive_local_origin_failure = 100;
    uint32_t enforcing_success_rate = 100;
    uint32_t enforcing_local_origin_success_rate = 100;
    uint32_t enforcing_failure_percentage = 0;
    uint32_t enforcing_failure_percentage_local_origin = 0;
  };
  // What the request path saw below HTTP (Envoy's Outlier::Result).
  enum class Result { kConnectFailed, kTimeout, kConnectSuccess };
  enum class Type {
    kConsecutive5xx,
    kConsecutiveGateway,
    kConsecutiveLocalOrigin,
    kSuccessRate,
    kLocalOriginSuccessRate,
    kFailurePercentage,
    kLocalOriginFailurePercentage,
  };

  // Throws ConfigError naming `path`.
  static std::shared_ptr<OutlierDetector> compile(const envoy::config::cluster::v3::OutlierDetection& proto,
                                                  const std::string& path, std::shared_ptr<stats::Scope> stats);
  OutlierDetector(Config config, std::shared_ptr<stats::Scope> stats);

  const Config& config() const { return config_; }

  // ---- any worker, on the request path ----
  void putHttpStatus(const Host& host, uint64_t status);
  void putResult(const Host& host, Result result);

  // ---- the main thread ----
  // Where consecutive-error events are posted; set before any worker sees the detector.
  void attach(event::Reactor& main) {
    if (main_ != &main) main_ = &main;
  }
  // The cluster's hosts now: new ones are watched, gone ones forgotten.
  void setHosts(const HostSet& hosts, event::TimePoint now);
  event::TimePoint nextInterval() const { return next_interval_; }
  // The cluster was replaced: this detector lets go of its hosts, and late events are ignored.
  void detach();
  void onInterval(event::TimePoint now);
  // The host's success rate of the last interval (external or local origin), or -1.
  double successRate(const Host& host, bool local_origin) const;
  // Test hook and main-thread entry for a consecutive-error event.
  void onConsecutiveError(const std::shared_ptr<const Host>& host, Type type, event::TimePoint now);

 private:
  struct Monitor {
    std::shared_ptr<const Host> host;
    bool ejected = false;  // by this detector (the host's flag may be another's)
    uint32_t num_ejections = 0;
    uint32_t backoff = 0;  // multiplies base_ejection_time
    event::TimePoint last_ejection{};
    event::TimePoint last_unejection{};
    bool unejected_once = false;
    std::chrono::milliseconds jitter{0};
    double success_rate = -1, local_success_rate = -1;
  };
  void notify(const Host& host, Type type);
  void httpStatus(const Host& host, uint64_t status);
  void localOrigin(const Host& host, bool failed);
  void eject(Monitor& m, Type type, event::TimePoint now);
  void uneject(Monitor& m, event::TimePoint now);
  bool ejected(const Monitor& m) const;
  void processSuccessRate(bool local_origin, event::TimePoint now);
  bool enforce(Type type);

  Config config_;
  std::shared_ptr<stats::Scope> stats_;
  event::Reactor* main_ = nullptr;
  std::unordered_map<const Host*, Monitor> monitors_;
  uint32_t ejected_ = 0;
  event::TimePoint next_interval_{};
  Random random_;
};

}  // namespace weft::proxy::upstream
