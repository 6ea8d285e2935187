// envoy.filters.network.http_connection_manager: an HTTP/1.1 or HTTP/2 connection (by
// codec_type; AUTO starts as HTTP/1.1 and hands over on the HTTP/2 preface or ALPN h2).
#include "common/config/error.h"
#include "proxy/http/hcm_config.h"
#include "proxy/http/http2_connection.h"
#include "proxy/http/http_connection.h"
#include "proxy/network/network_filter.h"

namespace weft::proxy::network {

namespace {
namespace hcmv3 = envoy::extensions::filters::network::http_connection_manager::v3;

class HcmFilter final : public NetworkFilter {
 public:
  explicit HcmFilter(std::shared_ptr<const http::HcmConfig> hcm) : hcm_(std::move(hcm)) {}

  void startSession(WorkerContext& worker, std::unique_ptr<net::Connection> conn,
                    std::shared_ptr<stats::Scope> listener_stats, const void* listener) const override {
    if (hcm_->codec == http::HcmConfig::Codec::Http2) {
      auto* session = new http::Http2ServerConnection(worker, std::move(conn), hcm_, std::move(listener_stats));
      session->listener = listener;
      worker.addSession(session);
      session->start(false);
      return;
    }
    auto* session = new http::HttpConnection(worker, std::move(conn), hcm_, std::move(listener_stats));
    session->listener = listener;
    worker.addSession(session);
    session->start();
  }
  std::string_view rdsName() const override { return hcm_->rds_name; }
  std::vector<std::pair<std::string, std::string>> referencedClusters(const std::string&) const override {
    return hcm_->routes ? hcm_->routes->referencedClusters() : std::vector<std::pair<std::string, std::string>>{};
  }

 private:
  std::shared_ptr<const http::HcmConfig> hcm_;
};

class HcmFactory final : public NetworkFilterFactory {
 public:
  std::string_view name() const override { return "envoy.filters.network.http_connection_manager"; }
  std::vector<std::string_view> configTypes() const override {
    return {"envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"};
  }
  config::FieldTable supportedFields() const override {
    return {
        {"envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
         {"codec_type",
          "stat_prefix",
          "route_config",
          "rds",
          "http_filters",
          "access_log",
          "use_remote_address",
          "skip_xff_append",
          "stream_idle_timeout",
          "request_timeout",
          "local_reply_config",
          "common_http_protocol_options",
          "http_protocol_options",
          "max_request_headers_kb",
          "generate_request_id",
          "preserve_external_request_id",
          "upgrade_configs",
          "server_name",
          "strip_matching_host_port",
          "strip_any_host_port",
          "drain_timeout",
          "delayed_close_timeout",
          "http2_protocol_options",
          "request_headers_timeout",
          "tracing"}},
        {"envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager.Tracing",
         {"client_sampling", "random_sampling", "overall_sampling", "verbose", "max_path_tag_length", "custom_tags",
          "provider", "spawn_upstream_span"}},
        {"envoy.type.v3.Percent", {"value"}},
        {"envoy.type.tracing.v3.CustomTag", {"tag", "literal", "environment", "request_header", "metadata"}},
        {"envoy.type.tracing.v3.CustomTag.Literal", {"value"}},
        {"envoy.type.tracing.v3.CustomTag.Environment", {"name", "default_value"}},
        {"envoy.type.tracing.v3.CustomTag.Header", {"name", "default_value"}},
        {"envoy.config.trace.v3.Tracing.Http", {"name", "typed_config"}},
        {"envoy.config.trace.v3.ZipkinConfig",
         {"collector_cluster", "collector_endpoint", "trace_id_128bit", "shared_span_context",
          "collector_endpoint_version", "collector_hostname", "split_spans_for_request", "trace_context_option"}},
        {"envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager.UpgradeConfig",
         {"upgrade_type", "enabled"}},
        {"envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter",
         {"name", "typed_config", "is_optional"}},
        {"envoy.extensions.filters.network.http_connection_manager.v3.Rds", {"config_source", "route_config_name"}},
        {"envoy.extensions.filters.network.http_connection_manager.v3.LocalReplyConfig", {"mappers", "body_format"}},
        {"envoy.extensions.filters.network.http_connection_manager.v3.ResponseMapper",
         {"filter", "status_code", "body", "body_format_override", "headers_to_add"}},
        {"envoy.config.accesslog.v3.AccessLogFilter",
         {"status_code_filter", "header_filter", "response_flag_filter", "runtime_filter", "not_health_check_filter",
          "and_filter", "or_filter"}},
        {"envoy.config.accesslog.v3.StatusCodeFilter", {"comparison"}},
        {"envoy.config.accesslog.v3.ComparisonFilter", {"op", "value"}},
        {"envoy.config.core.v3.RuntimeUInt32", {"default_value", "runtime_key"}},
        {"envoy.config.accesslog.v3.HeaderFilter", {"header"}},
        {"envoy.config.accesslog.v3.ResponseFlagFilter", {"flags"}},
        {"envoy.config.accesslog.v3.RuntimeFilter", {"runtime_key", "percent_sampled"}},
        {"envoy.config.accesslog.v3.NotHealthCheckFilter", {}},
        {"envoy.config.accesslog.v3.AndFilter", {"filters"}},
        {"envoy.config.accesslog.v3.OrFilter", {"filters"}},
    };
  }
  std::shared_ptr<const NetworkFilter> compile(const google::protobuf::Any& any, const std::string& path,
                                               const NetworkFilterContext& ctx) const override {
    hcmv3::HttpConnectionManager hcm;
    if (!any.UnpackTo(&hcm)) throw ConfigError(path + ": cannot decode an HttpConnectionManager");
    if (!ctx.observers.empty())
      throw ConfigError(path +
                        ": network filters that watch TCP sessions (istio.stats) go before tcp_proxy; on "
                        "HTTP chains use the HTTP filter istio.stats");
    return std::make_shared<HcmFilter>(http::compileHcm(hcm, path, ctx.store, ctx.inbound));
  }
};
}  // namespace

WEFT_REGISTER_NETWORK_FILTER(HcmFactory);

}  // namespace weft::proxy::network
