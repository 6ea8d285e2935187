// istio.stats (HTTP): Istio's standard request metrics, counted when a stream ends (see
// proxy/telemetry/istio_metrics.h). The reporter follows the listener: an inbound listener
// reports as `destination` (the peer is the client, from the request's exchange headers), an
// outbound one as `source` (the peer is the server, from the response's).
#include <chrono>

#include "common/config/error.h"
#include "envoy/extensions/stats/config.pb.h"
#include "proxy/cel/stream_attributes.h"
#include "proxy/http/filter_registry.h"
#include "proxy/http/grpc_frame_counter.h"
#include "proxy/http/hcm_config.h"
#include "proxy/http/matchers.h"
#include "proxy/stream_info.h"
#include "proxy/telemetry/istio_metrics.h"
#include "proxy/upstream/worker_cluster.h"
#include "proxy/worker_context.h"

namespace weft::proxy::http::istio_stats {

namespace {

using telemetry::MetricSet;

class IstioStatsFilter final : public StreamFilterBase, public StreamDecoderFilter, public StreamEncoderFilter {
 public:
  explicit IstioStatsFilter(const MetricSet& m) : m_(m) {}
  void setDecoderFilterCallbacks(StreamDecoderFilterCallbacks& cb) override { dec_ = &cb; }
  void setEncoderFilterCallbacks(StreamEncoderFilterCallbacks&) override {}
  FilterStatus decodeHeaders(RequestHead& head, bool) override {
    if (!m_.disableHostHeaderFallback()) host_ = std::string(head.host);
    if (m_.hasExpressions()) {
      const auto& names = m_.capture().request;
      request_.resize(names.size());
      std::string_view scheme = dec_->downstreamConnection().tls() ? "https" : "http";
      for (size_t i = 0; i < names.size(); ++i) capture(request_[i], requestHeader(head, names[i], scheme));
    }
    return FilterStatus::Continue;
  }
  // gRPC messages each way, for istio_request_messages_total / istio_response_messages_total.
  FilterStatus decodeData(std::string_view data, bool) override {
    if (dec_->isGrpc()) requests_.feed(data);
    return FilterStatus::Continue;
  }
  FilterStatus encodeHeaders(ResponseHead& head, bool) override {
    if (m_.hasExpressions()) {
      const auto& names = m_.capture().response;
      response_.resize(names.size());
      for (size_t i = 0; i < names.size(); ++i) capture(response_[i], head.find(names[i]));
    }
    return FilterStatus::Continue;
  }
  FilterStatus encodeData(std::string_view data, bool) override {
    if (dec_->isGrpc()) responses_.feed(data);
    return FilterStatus::Continue;
  }

  void onStreamComplete() override {
    const StreamInfo& info = dec_->streamInfo();
    telemetry::Observation o;
    o.inbound = dec_->hcm().inbound;
    o.peer = o.inbound ? info.downstream_peer.get() : info.upstream_peer.get();
    if (o.inbound) o.downstream_ssl = dec_->downstreamConnection().ssl();
    o.upstream_tls = info.upstream_principals.get();
    std::shared_ptr<upstream::WorkerCluster> cluster;
    if (!info.upstream_cluster.empty()) cluster = dec_->worker().cluster(info.upstream_cluster);
    if (cluster && cluster->config().istio_service) {
      const auto& svc = *cluster->config().istio_service;
      o.service_host = &svc.host;
      o.service_name = &svc.name;
      o.service_ns = &svc.ns;
    }
    o.host = host_;
    bool grpc = dec_->isGrpc();
    o.protocol = grpc ? "grpc" : "http";
    o.response_code = info.response_code;
    o.grpc_status = grpc ? dec_->grpcStatus() : -1;
    o.response_flags = info.response_flags;
    telemetry::Labels labels;
    telemetry::computeLabels(o, labels);
    if (m_.hasExpressions()) m_.evaluate(StreamActivation(info, request_, response_, o.grpc_status), labels);
    double duration_ms = std::chrono::duration<double, std::milli>(info.end - info.start).count();
    m_.record(labels, {{MetricSet::Value::Requests, 1},
                       {MetricSet::Value::Duration, duration_ms},
                       {MetricSet::Value::RequestBytes, static_cast<double>(info.bytes_received)},
                       {MetricSet::Value::ResponseBytes, static_cast<double>(info.bytes_sent)}});
    if (grpc) {
      m_.record(labels, {{MetricSet::Value::RequestMessages, static_cast<double>(requests_.count())},
                         {MetricSet::Value::ResponseMessages, static_cast<double>(responses_.count())}});
    }
  }

 private:
  static void capture(StreamInfo::Captured& slot, const std::string_view* v) {
    slot.present = v != nullptr;
    if (v) slot.value.assign(*v);
  }

  const MetricSet& m_;
  StreamDecoderFilterCallbacks* dec_ = nullptr;
  std::string host_;
  std::vector<StreamInfo::Captured> request_, response_;  // the header values CEL dimensions read
  GrpcFrameCounter requests_, responses_;
};

class IstioStatsFactory final : public HttpFilterFactory {
 public:
  std::string_view name() const override { return "istio.stats"; }
  std::vector<std::string_view> configTypes() const override { return {"stats.PluginConfig"}; }
  config::FieldTable supportedFields() const override { return MetricSet::supportedFields(); }
  FilterFactoryCb compile(const google::protobuf::Any& any, const std::string& path,
                          FilterFactoryContext& ctx) const override {
    ::stats::PluginConfig p;
    if (!any.UnpackTo(&p)) throw ConfigError(path + ": cannot decode a stats.PluginConfig");
    auto m = MetricSet::compile(p, MetricSet::Kind::Http, ctx.store, path);
    return [m](FilterChainBuilder& chain) { chain.addBoth<IstioStatsFilter>(*m); };
  }
};

}  // namespace

WEFT_REGISTER_HTTP_FILTER(IstioStatsFactory);

}  // namespace weft::proxy::http::istio_stats
