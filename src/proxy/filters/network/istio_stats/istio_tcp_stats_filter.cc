// istio.stats (network): Istio's standard TCP metrics for the tcp_proxy sessions of its chain
// (see proxy/telemetry/istio_metrics.h): istio_tcp_connections_opened_total when a session
// opens; istio_tcp_sent_bytes_total and istio_tcp_received_bytes_total every
// tcp_reporting_duration (5 s) while it is open and when it closes;
// istio_tcp_connections_closed_total when it closes. The peer is what Istio's TCP metadata exchange
// found (istio.metadata_exchange; unknown without it); the destination service comes from the
// cluster's istio metadata.
#include "common/config/error.h"
#include "envoy/extensions/stats/config.pb.h"
#include "proxy/cel/stream_attributes.h"
#include "proxy/network/network_filter.h"
#include "proxy/telemetry/istio_metrics.h"
#include "proxy/upstream/worker_cluster.h"

namespace weft::proxy::network {

namespace {

using telemetry::MetricSet;

class TcpStatsObserver final : public SessionObserver {
 public:
  explicit TcpStatsObserver(std::shared_ptr<const MetricSet> m) : m_(std::move(m)) {}
  void onOpen(WorkerContext& worker, const StreamInfo& info, net::Connection& down, bool inbound) const override {
    telemetry::Labels l;
    labels(worker, info, down, inbound, l);
    m_->record(l, {{MetricSet::Value::Opened, 1}});
  }
  void onReport(WorkerContext& worker, const StreamInfo& info, net::Connection& down, bool inbound, uint64_t sent,
                uint64_t received) const override {
    telemetry::Labels l;
    labels(worker, info, down, inbound, l);
    // Sent and received as Istio counts them: to and from the downstream peer.
    m_->record(l, {{MetricSet::Value::SentBytes, static_cast<double>(sent)},
                   {MetricSet::Value::ReceivedBytes, static_cast<double>(received)}});
  }
  void onClose(WorkerContext& worker, const StreamInfo& info, net::Connection& down, bool inbound) const override {
    telemetry::Labels l;
    labels(worker, info, down, inbound, l);
    m_->record(l, {{MetricSet::Value::Closed, 1}});
  }
  std::chrono::milliseconds reportingInterval() const override { return m_->tcpReportingInterval(); }

 private:
  void labels(WorkerContext& worker, const StreamInfo& info, net::Connection& down, bool inbound,
              telemetry::Labels& out) const {
    telemetry::Observation o;
    o.inbound = inbound;
    o.peer = (inbound ? info.downstream_peer : info.upstream_peer).get();
    if (inbound) o.downstream_ssl = down.ssl();
    o.upstream_tls = info.upstream_principals.get();
    o.protocol = "tcp";
    o.response_flags = info.response_flags;
    std::shared_ptr<upstream::WorkerCluster> cluster;
    if (!info.upstream_cluster.empty()) cluster = worker.cluster(info.upstream_cluster);
    if (cluster && cluster->config().istio_service) {
      const auto& svc = *cluster->config().istio_service;
      o.service_host = &svc.host;
      o.service_name = &svc.name;
      o.service_ns = &svc.ns;
    }
    telemetry::computeLabels(o, out);
    if (m_->hasExpressions()) m_->evaluate(StreamActivation(info, kNoHeaders, kNoHeaders), out);
  }
  static inline const std::vector<StreamInfo::Captured> kNoHeaders;
  std::shared_ptr<const MetricSet> m_;
};

class IstioTcpStatsFactory final : public NetworkFilterFactory {
 public:
  std::string_view name() const override { return "istio.stats"; }
  std::vector<std::string_view> configTypes() const override { return {"stats.PluginConfig"}; }
  config::FieldTable supportedFields() const override { return MetricSet::supportedFields(); }
  bool terminal() const override { return false; }
  bool observer() const override { return true; }
  std::shared_ptr<const NetworkFilter> compile(const google::protobuf::Any&, const std::string& path,
                                               const NetworkFilterContext&) const override {
    throw ConfigError(path + ": istio.stats watches sessions (compileObserver)");
  }
  std::shared_ptr<const SessionObserver> compileObserver(const google::protobuf::Any& any, const std::string& path,
                                                         const NetworkFilterContext& ctx) const override {
    ::stats::PluginConfig p;
    if (!any.UnpackTo(&p)) throw ConfigError(path + ": cannot decode a stats.PluginConfig");
    return std::make_shared<TcpStatsObserver>(MetricSet::compile(p, MetricSet::Kind::Tcp, ctx.store, path));
  }
};

}  // namespace

WEFT_REGISTER_NETWORK_FILTER(IstioTcpStatsFactory);

}  // namespace weft::proxy::network
