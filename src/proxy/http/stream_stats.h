#pragma once
// Stats both HTTP codecs count the same way: response classes (downstream_rq_2xx ...,
// upstream_rq_2xx ...) and the accounting of a closed downstream connection.
#include "common/net/connection.h"
#include "proxy/http/hcm_config.h"
#include "proxy/network/listener_config.h"
#include "proxy/upstream/worker_cluster.h"

namespace weft::proxy::http {

inline void countDownstreamResponse(stats::Scope& hcm_stats, int status) {
  static constexpr size_t kClass[] = {HcmStats::downstream_rq_1xx, HcmStats::downstream_rq_1xx,
                                      HcmStats::downstream_rq_2xx, HcmStats::downstream_rq_3xx,
                                      HcmStats::downstream_rq_4xx, HcmStats::downstream_rq_5xx};
  int cls = status / 100;
  if (cls >= 1 && cls <= 5) hcm_stats.inc(kClass[cls]);
}

inline void countUpstreamResponse(upstream::WorkerCluster* cluster, int status) {
  static constexpr size_t kClass[] = {upstream::ClusterStats::upstream_rq_1xx, upstream::ClusterStats::upstream_rq_1xx,
                                      upstream::ClusterStats::upstream_rq_2xx, upstream::ClusterStats::upstream_rq_3xx,
                                      upstream::ClusterStats::upstream_rq_4xx, upstream::ClusterStats::upstream_rq_5xx};
  int cls = status / 100;
  if (cluster && cls >= 1 && cls <= 5) cluster->stats().inc(kClass[cls]);
}

inline void countConnectionClosed(stats::Scope& hcm_stats, stats::Scope& listener_stats, const net::Connection& conn) {
  hcm_stats.dec(HcmStats::downstream_cx_active);
  hcm_stats.inc(HcmStats::downstream_cx_destroy);
  listener_stats.dec(network::ListenerStats::downstream_cx_active);
  listener_stats.inc(network::ListenerStats::downstream_cx_destroy);
  hcm_stats.add(HcmStats::downstream_cx_rx_bytes_total, conn.bytesRead());
  hcm_stats.add(HcmStats::downstream_cx_tx_bytes_total, conn.bytesWritten());
}

}  // namespace weft::proxy::http
