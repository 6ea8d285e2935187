#include "proxy/http/hcm_config.h"

#include "common/config/error.h"
#include "common/strings.h"

namespace weft::proxy::http {

namespace hcmv3 = envoy::extensions::filters::network::http_connection_manager::v3;
using std::chrono::milliseconds;

namespace {
// Each HttpFilter by its config type (or, without typed_config, its name), through the filter
// registry; the router must come last.
void compileHttpFilters(const hcmv3::HttpConnectionManager& hcm, const std::string& path, stats::Store& store,
                        HcmConfig& c) {
  if (hcm.http_filters_size() == 0) throw ConfigError(path + ".http_filters: must end with envoy.filters.http.router");
  for (int i = 0; i < hcm.http_filters_size(); ++i) {
    const auto& f = hcm.http_filters(i);
    std::string fpath = path + ".http_filters[" + std::to_string(i) + "]";
    const HttpFilterFactory* factory =
        f.has_typed_config() ? findHttpFilter(f.typed_config()) : findHttpFilter(f.name());
    if (factory == nullptr) {
      if (f.is_optional()) continue;  // Envoy skips an optional filter it does not know
      throw ConfigError(fpath + ": HTTP filter '" + f.name() + "' (" + f.typed_config().type_url() +
                        ") is not supported by weft-proxy");
    }
    bool last = i == hcm.http_filters_size() - 1;
    if (factory->terminal() && !last) throw ConfigError(fpath + ": the router must be the last HTTP filter");
    if (!factory->terminal() && last) {
      throw ConfigError(fpath + ": the last HTTP filter must be envoy.filters.http.router, not '" + f.name() + "'");
    }
    FilterFactoryContext ctx{store, c.stat_prefix, f.name(), c.inbound};
    c.filter_factories.push_back(factory->compile(f.typed_config(), fpath + ".typed_config", ctx));
  }
}
}  // namespace

std::shared_ptr<const HcmConfig> compileHcm(const hcmv3::HttpConnectionManager& hcm, const std::string& path,
                                            stats::Store& store, bool inbound) {
  auto c = std::make_shared<HcmConfig>();
  c->inbound = inbound;
  c->rq_time = store.family("envoy_http_downstream_rq_time", {"envoy_http_conn_manager_prefix"},
                            stats::Family::Type::Histogram, 20000);
  if (hcm.stat_prefix().empty()) throw ConfigError(path + ".stat_prefix: must not be empty");
  c->stat_prefix = hcm.stat_prefix();
  c->stats = store.scope("http." + c->stat_prefix + ".", HcmStats::kDefs, HcmStats::kCount,
                         {{"envoy_http_conn_manager_prefix", c->stat_prefix}});
  c->http2_stats = store.scope("http." + c->stat_prefix + ".http2.", Http2Stats::kDefs, Http2Stats::kCount,
                               {{"envoy_http_conn_manager_prefix", c->stat_prefix}});
  switch (hcm.codec_type()) {
    case hcmv3::HttpConnectionManager::AUTO:
      c->codec = HcmConfig::Codec::Auto;
      break;
    case hcmv3::HttpConnectionManager::HTTP1:
      c->codec = HcmConfig::Codec::Http1;
      break;
    case hcmv3::HttpConnectionManager::HTTP2:
      c->codec = HcmConfig::Codec::Http2;
      break;
    default:
      throw ConfigError(path + ".codec_type: " + hcmv3::HttpConnectionManager::CodecType_Name(hcm.codec_type()) +
                        " is not supported by weft-proxy (AUTO, HTTP1 and HTTP2 are)");
  }
  c->http2 = compileHttp2Options(hcm.http2_protocol_options(), path + ".http2_protocol_options");
  if (hcm.has_rds()) {
    if (hcm.rds().route_config_name().empty()) throw ConfigError(path + ".rds.route_config_name: must not be empty");
    if (!hcm.rds().config_source().has_ads()) {
      throw ConfigError(path + ".rds.config_source: only ads is supported by weft-proxy");
    }
    c->rds_name = hcm.rds().route_config_name();
  } else if (hcm.has_route_config()) {
    c->routes = RouteTable::compile(hcm.route_config(), path + ".route_config", &store);
  } else {
    throw ConfigError(path + ": route_config or rds is required");
  }

  compileHttpFilters(hcm, path, store, *c);

  c->use_remote_address = hcm.has_use_remote_address() && hcm.use_remote_address().value();
  c->skip_xff_append = hcm.skip_xff_append();
  c->generate_request_id = !hcm.has_generate_request_id() || hcm.generate_request_id().value();
  c->preserve_external_request_id = hcm.preserve_external_request_id();
  c->accept_http_10 = hcm.http_protocol_options().accept_http_10();
  if (!hcm.server_name().empty()) c->server_name = hcm.server_name();
  if (hcm.strip_matching_host_port()) c->strip_port = HcmConfig::StripPort::Matching;
  if (hcm.strip_any_host_port()) c->strip_port = HcmConfig::StripPort::Any;
  if (hcm.has_stream_idle_timeout()) c->stream_idle_timeout = weft::toMillis(hcm.stream_idle_timeout());
  if (hcm.has_request_timeout()) c->request_timeout = weft::toMillis(hcm.request_timeout());
  if (hcm.common_http_protocol_options().has_idle_timeout()) {
    c->idle_timeout = weft::toMillis(hcm.common_http_protocol_options().idle_timeout());
  }
  if (hcm.has_request_headers_timeout()) c->request_headers_timeout = weft::toMillis(hcm.request_headers_timeout());
  if (hcm.common_http_protocol_options().has_max_requests_per_connection()) {
    throw ConfigError(path +
                      ".common_http_protocol_options.max_requests_per_connection: not supported by weft-proxy for "
                      "downstream connections (clusters take it)");
  }
  if (hcm.common_http_protocol_options().has_max_headers_count()) {
    uint32_t n = hcm.common_http_protocol_options().max_headers_count().value();
    if (n == 0) throw ConfigError(path + ".common_http_protocol_options.max_headers_count: must be at least 1");
    c->max_headers_count = n;
  }
  if (hcm.has_drain_timeout()) c->drain_timeout = weft::toMillis(hcm.drain_timeout());
  if (hcm.has_max_request_headers_kb()) {
    uint32_t kb = hcm.max_request_headers_kb().value();
    if (kb == 0 || kb > 8192) throw ConfigError(path + ".max_request_headers_kb: must be in [1, 8192]");
    c->max_request_headers_bytes = kb * 1024;
  }
  for (int i = 0; i < hcm.upgrade_configs_size(); ++i) {
    const auto& u = hcm.upgrade_configs(i);
    if (u.upgrade_type().empty()) {
      throw ConfigError(path + ".upgrade_configs[" + std::to_string(i) + "].upgrade_type: must not be empty");
    }
    if (!u.has_enabled() || u.enabled().value()) c->upgrade_types.push_back(u.upgrade_type());
  }
  c->access_logs = access_log::compileAccessLogs(hcm.access_log(), path + ".access_log", store.rows(), c->capture);
  if (hcm.has_tracing()) c->tracing = tracing::compileTracing(hcm.tracing(), path + ".tracing", inbound, store);
  if (hcm.has_local_reply_config()) {
    c->local_reply = LocalReplyConfig::compile(hcm.local_reply_config(), path + ".local_reply_config", c->capture);
  }
  return c;
}

}  // namespace weft::proxy::http
