#pragma once
// A compiled envoy.filters.network.http_connection_manager.
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "common/stats/stats.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h"
#include "proxy/access_log/access_logger.h"
#include "proxy/http/filter_registry.h"
#include "proxy/http/http2_options.h"
#include "proxy/http/local_reply.h"
#include "proxy/http/route_table.h"
#include "proxy/tracing/http_tracing.h"

namespace weft::proxy::http {

#define WEFT_HCM_STATS(COUNTER, GAUGE)                                                                               \
  COUNTER(downstream_cx_total)                                                                                       \
  GAUGE(downstream_cx_active)                                                                                        \
  COUNTER(downstream_cx_http1_total)                                                                                 \
  COUNTER(downstream_cx_destroy)                                                                                     \
  COUNTER(downstream_cx_protocol_error) COUNTER(downstream_cx_rx_bytes_total) COUNTER(downstream_cx_tx_bytes_total)  \
      COUNTER(downstream_cx_upgrades_total) GAUGE(downstream_cx_upgrades_active) COUNTER(downstream_cx_idle_timeout) \
          COUNTER(downstream_cx_drain_close) COUNTER(downstream_rq_total) COUNTER(downstream_rq_http1_total)         \
              GAUGE(downstream_rq_active) COUNTER(downstream_rq_completed) COUNTER(downstream_rq_1xx)                \
                  COUNTER(downstream_rq_2xx) COUNTER(downstream_rq_3xx) COUNTER(downstream_rq_4xx)                   \
                      COUNTER(downstream_rq_5xx) COUNTER(downstream_rq_timeout) COUNTER(downstream_rq_idle_timeout)  \
                          COUNTER(downstream_rq_rx_reset) COUNTER(downstream_rq_tx_reset) COUNTER(no_route)          \
                              COUNTER(no_cluster) COUNTER(rq_redirect) COUNTER(rq_direct_response)                   \
                                  COUNTER(downstream_cx_http2_total) COUNTER(downstream_rq_http2_total)              \
                                      COUNTER(downstream_rq_header_timeout)                                          \
                                          COUNTER(downstream_rq_too_many_premature_resets)
WEFT_STATS_STRUCT(HcmStats, WEFT_HCM_STATS)

// http.<prefix>.http2.*: Envoy's HTTP/2 codec stats for what a hostile peer does.
#define WEFT_HTTP2_STATS(COUNTER, GAUGE) \
  COUNTER(header_overflow)               \
  COUNTER(rx_reset)                      \
  COUNTER(tx_reset)                      \
  COUNTER(outbound_control_flood) COUNTER(too_many_header_frames) COUNTER(streams_refused) COUNTER(rx_messaging_error)
WEFT_STATS_STRUCT(Http2Stats, WEFT_HTTP2_STATS)

struct HcmConfig {
  // AUTO: HTTP/2 when TLS negotiated "h2" or the client opens with the HTTP/2 preface.
  enum class Codec { Auto, Http1, Http2 } codec = Codec::Auto;
  Http2Options http2;
  std::string stat_prefix;
  bool inbound = false;  // the listener's traffic_direction is INBOUND
  std::shared_ptr<stats::Scope> stats;
  // Envoy's histogram envoy_http_downstream_rq_time{envoy_http_conn_manager_prefix} (ms).
  std::shared_ptr<stats::Family> rq_time;
  std::shared_ptr<stats::Scope> http2_stats;
  std::shared_ptr<const RouteTable> routes;  // inline route_config, or null with RDS
  std::string rds_name;                      // RDS: the route configuration to look up
  bool use_remote_address = false;
  bool skip_xff_append = false;
  bool generate_request_id = true;
  bool preserve_external_request_id = false;
  bool accept_http_10 = false;
  enum class StripPort { None, Matching, Any } strip_port = StripPort::None;
  std::string server_name = "envoy";
  std::chrono::milliseconds stream_idle_timeout{300000};
  std::chrono::milliseconds request_timeout{0};
  std::chrono::milliseconds request_headers_timeout{0};  // 0: none (Envoy's default)
  std::chrono::milliseconds idle_timeout{3600000};
  std::chrono::milliseconds drain_timeout{5000};
  size_t max_request_headers_bytes = 60 * 1024;
  uint32_t max_headers_count = 100;        // common_http_protocol_options.max_headers_count
  std::vector<std::string> upgrade_types;  // lower case, enabled ones
  access_log::CaptureList capture;
  access_log::AccessLoggers access_logs;
  std::shared_ptr<const tracing::TracingConfig> tracing;  // null: no `tracing`
  std::shared_ptr<const LocalReplyConfig> local_reply;    // null: replies as they are
  // http_filters, the router last: each adds its filter to a new stream.
  std::vector<FilterFactoryCb> filter_factories;

  bool upgradeAllowed(std::string_view type) const {
    for (const auto& t : upgrade_types) {
      if (equalsIgnoreCase(t, type)) return true;
    }
    return false;
  }
};

// Throws ConfigError naming `path`.
std::shared_ptr<const HcmConfig> compileHcm(
    const envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager& hcm,
    const std::string& path, stats::Store& store, bool inbound = false);

}  // namespace weft::proxy::http
