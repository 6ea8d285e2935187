#pragma once
// Envoy's active health checking (a cluster's health_checks) on the main thread: each host is
// checked every interval (plus jitter; no_traffic_interval while the cluster has carried no
// request) over HTTP (a GET whose status must be expected) or TCP (connect, optionally send a
// payload and expect one back). unhealthy_threshold failures in a row set the host's
// FAILED_ACTIVE_HC flag, healthy_threshold successes clear it; a new host is pending, and
// unhealthy, until its first check passes. Stats are cluster.<name>.health_check.*.
#include <chrono>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/event/reactor.h"
#include "common/net/connection.h"
#include "common/random.h"
#include "envoy/config/core/v3/health_check.pb.h"
#include "proxy/upstream/cluster_config.h"

namespace weft::proxy::upstream {

#define WEFT_HEALTH_CHECK_STATS(COUNTER, GAUGE) \
  COUNTER(attempt)                              \
  COUNTER(success) COUNTER(failure) COUNTER(network_failure) GAUGE(healthy)
WEFT_STATS_STRUCT(HealthCheckStats, WEFT_HEALTH_CHECK_STATS)

struct HealthCheckConfig {
  std::chrono::milliseconds timeout{0}, interval{0}, interval_jitter{0}, initial_jitter{0};
  std::chrono::milliseconds no_traffic_interval{60000};
  uint32_t interval_jitter_percent = 0;
  uint32_t unhealthy_threshold = 1, healthy_threshold = 1;
  enum class Kind { Http, Tcp, Grpc } kind = Kind::Http;
  // gRPC: grpc.health.v1 Check of `service_name`, with :authority `host` (else the cluster's name).
  std::string service_name;
  // HTTP
  std::string path, host;                                                    // host empty: the cluster's name
  std::vector<std::pair<uint32_t, uint32_t>> expected_statuses{{200, 201}};  // [start, end)
  // TCP: bytes to send, and those that must come back (in order, anywhere in the reply).
  std::string send;
  std::vector<std::string> receive;

  // Throws ConfigError naming `path`.
  static std::shared_ptr<const HealthCheckConfig> compile(const envoy::config::core::v3::HealthCheck& hc,
                                                          const std::string& path);
};

class GrpcHealthProbe;

class HealthChecker {
 public:
  HealthChecker(std::shared_ptr<const ClusterConfig> cluster, event::Reactor& reactor);
  ~HealthChecker();
  // The cluster's hosts now: new ones are checked (pending, unhealthy until they pass).
  void setHosts(const HostSet& hosts);
  const ClusterConfig& cluster() const { return *cluster_; }

 private:
  class Session;
  std::chrono::milliseconds nextInterval();
  void onResult(Session& s, bool ok, bool network);

  std::shared_ptr<const ClusterConfig> cluster_;
  const HealthCheckConfig& config_;
  event::Reactor& reactor_;
  std::shared_ptr<stats::Scope> stats_;
  std::unordered_map<const Host*, std::unique_ptr<Session>> sessions_;
  Random random_;
};

}  // namespace weft::proxy::upstream
