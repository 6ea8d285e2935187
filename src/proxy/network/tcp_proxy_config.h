#pragma once
// A compiled envoy.filters.network.tcp_proxy.
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "common/stats/stats.h"
#include "envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.pb.h"
#include "proxy/access_log/access_logger.h"

namespace weft::proxy::network {

#define WEFT_TCP_STATS(COUNTER, GAUGE)                                                                    \
  COUNTER(downstream_cx_total)                                                                            \
  GAUGE(downstream_cx_active) COUNTER(downstream_cx_rx_bytes_total) COUNTER(downstream_cx_tx_bytes_total) \
      COUNTER(downstream_cx_no_route) COUNTER(upstream_flush_total) COUNTER(idle_timeout)                 \
          COUNTER(downstream_cx_no_healthy_upstream)
WEFT_STATS_STRUCT(TcpProxyStats, WEFT_TCP_STATS)

struct TcpProxyConfig {
  std::string stat_prefix;
  std::shared_ptr<stats::Scope> stats;
  struct Target {
    std::string cluster;
    uint32_t weight;
  };
  std::vector<Target> targets;
  uint64_t total_weight = 0;
  std::chrono::milliseconds idle_timeout{3600000};  // 0: none
  access_log::CaptureList capture;
  access_log::AccessLoggers access_logs;
};

std::shared_ptr<const TcpProxyConfig> compileTcpProxy(
    const envoy::extensions::filters::network::tcp_proxy::v3::TcpProxy& t, const std::string& path,
    stats::Store& store);

}  // namespace weft::proxy::network
