#include "proxy/network/tcp_proxy_config.h"

#include "common/config/error.h"
#include "common/strings.h"

namespace weft::proxy::network {

std::shared_ptr<const TcpProxyConfig> compileTcpProxy(
    const envoy::extensions::filters::network::tcp_proxy::v3::TcpProxy& t, const std::string& path,
    stats::Store& store) {
  auto c = std::make_shared<TcpProxyConfig>();
  if (t.stat_prefix().empty()) throw ConfigError(path + ".stat_prefix: must not be empty");
  c->stat_prefix = t.stat_prefix();
  c->stats = store.scope("tcp." + c->stat_prefix + ".", TcpProxyStats::kDefs, TcpProxyStats::kCount,
                         {{"envoy_tcp_prefix", c->stat_prefix}});
  if (t.has_weighted_clusters()) {
    for (int i = 0; i < t.weighted_clusters().clusters_size(); ++i) {
      const auto& w = t.weighted_clusters().clusters(i);
      std::string p = path + ".weighted_clusters.clusters[" + std::to_string(i) + "]";
      if (w.name().empty()) throw ConfigError(p + ".name: must not be empty");
      c->targets.push_back({w.name(), w.weight()});
      c->total_weight += w.weight();
    }
    if (c->total_weight == 0) throw ConfigError(path + ".weighted_clusters: the weights must not all be zero");
  } else if (!t.cluster().empty()) {
    c->targets.push_back({t.cluster(), 1});
    c->total_weight = 1;
  } else {
    throw ConfigError(path + ": one of cluster or weighted_clusters is required");
  }
  if (t.has_idle_timeout()) {
    c->idle_timeout = weft::toMillis(t.idle_timeout());
  }
  c->access_logs = access_log::compileAccessLogs(t.access_log(), path + ".access_log", store.rows(), c->capture);
  return c;
}

}  // namespace weft::proxy::network
