// envoy.filters.network.tcp_proxy: bytes both ways to a cluster's host.
#include "common/config/error.h"
#include "proxy/network/network_filter.h"
#include "proxy/network/tcp_proxy_config.h"
#include "proxy/network/tcp_proxy_session.h"

namespace weft::proxy::network {

namespace {
namespace tcpv3 = envoy::extensions::filters::network::tcp_proxy::v3;

class TcpProxyFilter final : public NetworkFilter {
 public:
  TcpProxyFilter(std::shared_ptr<const TcpProxyConfig> config,
                 std::vector<std::shared_ptr<const SessionObserver>> observers, bool inbound)
      : config_(std::move(config)), observers_(std::move(observers)), inbound_(inbound) {}

  void startSession(WorkerContext& worker, std::unique_ptr<net::Connection> conn,
                    std::shared_ptr<stats::Scope> listener_stats, const void* listener) const override {
    auto* session =
        new TcpProxySession(worker, std::move(conn), config_, std::move(listener_stats), &observers_, inbound_);
    session->listener = listener;
    worker.addSession(session);
    session->start();
  }
  std::vector<std::pair<std::string, std::string>> referencedClusters(const std::string& path) const override {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& t : config_->targets) out.emplace_back(t.cluster, path);
    return out;
  }

 private:
  std::shared_ptr<const TcpProxyConfig> config_;
  std::vector<std::shared_ptr<const SessionObserver>> observers_;
  bool inbound_;
};

class TcpProxyFactory final : public NetworkFilterFactory {
 public:
  std::string_view name() const override { return "envoy.filters.network.tcp_proxy"; }
  std::vector<std::string_view> configTypes() const override {
    return {"envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy"};
  }
  config::FieldTable supportedFields() const override {
    return {
        {"envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy",
         {"stat_prefix", "cluster", "weighted_clusters", "idle_timeout", "access_log"}},
        {"envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy.WeightedCluster", {"clusters"}},
        {"envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy.WeightedCluster.ClusterWeight", {"name", "weight"}},
    };
  }
  std::shared_ptr<const NetworkFilter> compile(const google::protobuf::Any& any, const std::string& path,
                                               const NetworkFilterContext& ctx) const override {
    tcpv3::TcpProxy tcp;
    if (!any.UnpackTo(&tcp)) throw ConfigError(path + ": cannot decode a TcpProxy");
    return std::make_shared<TcpProxyFilter>(compileTcpProxy(tcp, path, ctx.store), ctx.observers, ctx.inbound);
  }
};
}  // namespace

WEFT_REGISTER_NETWORK_FILTER(TcpProxyFactory);

}  // namespace weft::proxy::network
