#include "control/xds/telemetry_gen.h"
#include "control/xds/pack.h"

#include <google/protobuf/util/json_util.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>

#include "control/model/telemetry_policy.h"
#include "control/xds/generator.h"
#include "envoy/config/trace/v3/zipkin.pb.h"
#include "envoy/extensions/access_loggers/file/v3/file.pb.h"
#include "envoy/extensions/access_loggers/filters/cel/v3/cel.pb.h"
#include "envoy/extensions/stats/config.pb.h"
#include "xds/type/v3/typed_struct.pb.h"

namespace weft::control::xds {

namespace hcmv3 = envoy::extensions::filters::network::http_connection_manager::v3;

hcmv3::HttpFilter peerMetadataFilter(bool inbound) {
  // Istio's SidecarInboundMetadataFilter / SidecarOutboundMetadataFilterSkipHeaders.
  const char* config = inbound ? R"({"downstream_discovery": [{"istio_headers": {}}, {"workload_discovery": {}}],
                                     "downstream_propagation": [{"istio_headers": {}}]})"
                               : R"({"upstream_discovery": [{"istio_headers": {}}, {"workload_discovery": {}}],
                                     "upstream_propagation": [{"istio_headers": {"skip_external_clusters": true}}]})";
  ::xds::type::v3::TypedStruct ts;
  ts.set_type_url("type.googleapis.com/io.istio.http.peer_metadata.Config");
  (void)google::protobuf::util::JsonStringToMessage(config, ts.mutable_value());
  hcmv3::HttpFilter f;
  f.set_name("istio.metadata_exchange");
  pack(*f.mutable_typed_config(), ts);
  return f;
}

namespace {

// Istio's generateStatsConfig for the prometheus provider; null when the side's metrics are off.
std::optional<::stats::PluginConfig> statsConfig(const MeshModel& model, const ProxyInfo& proxy, bool inbound) {
  const std::vector<Telemetry> none;
  MetricsPolicy policy =
      telemetryMetrics(model.config ? model.config->telemetries : none, *model.mesh, proxy.ns, proxy.labels, inbound);
  if (!policy.enabled) return std::nullopt;
  ::stats::PluginConfig p;
  p.set_disable_host_header_fallback(inbound);
  if (policy.reporting_interval_ms) {
    p.mutable_tcp_reporting_duration()->set_seconds(*policy.reporting_interval_ms / 1000);
    p.mutable_tcp_reporting_duration()->set_nanos(static_cast<int32_t>(*policy.reporting_interval_ms % 1000) * 1000000);
  }
  for (const auto& o : policy.overrides) {
    auto* m = p.add_metrics();
    m->set_name(o.name);
    m->set_drop(o.drop);
    for (const auto& t : o.remove_tags) m->add_tags_to_remove(t);
    for (const auto& [tag, value] : o.dimensions) (*m->mutable_dimensions())[tag] = value;
  }
  return p;
}

envoy::config::accesslog::v3::AccessLog fileLog(const std::string& path, const std::string& text,
                                                const std::string& json) {
  envoy::extensions::access_loggers::file::v3::FileAccessLog f;
  f.set_path(path);
  auto* format = f.mutable_log_format();
  if (!json.empty()) {
    (void)google::protobuf::util::JsonStringToMessage(json, format->mutable_json_format());
    format->mutable_json_format_options()->set_sort_properties(false);
  } else {
    // "Istio will insert a newline on all formats (if missing)."
    std::string t = text.empty() ? istioTextLogFormat() : text;
    if (t.back() != '\n') t += '\n';
    format->mutable_text_format_source()->set_inline_string(t);
  }
  envoy::config::accesslog::v3::AccessLog log;
  log.set_name("envoy.access_loggers.file");
  pack(*log.mutable_typed_config(), f);
  return log;
}

}  // namespace

std::optional<hcmv3::HttpFilter> istioStatsFilter(const MeshModel& model, const ProxyInfo& proxy, bool inbound) {
  auto p = statsConfig(model, proxy, inbound);
  if (!p) return std::nullopt;
  hcmv3::HttpFilter f;
  f.set_name("istio.stats");
  pack(*f.mutable_typed_config(), *p);
  return f;
}

std::optional<envoy::config::listener::v3::Filter> istioTcpStatsFilter(const MeshModel& model, const ProxyInfo& proxy,
                                                                       bool inbound) {
  auto p = statsConfig(model, proxy, inbound);
  if (!p) return std::nullopt;
  envoy::config::listener::v3::Filter f;
  f.set_name("istio.stats");
  pack(*f.mutable_typed_config(), *p);
  return f;
}

void setTracing(hcmv3::HttpConnectionManager& hcm, const MeshModel& model, const ProxyInfo& proxy, bool inbound) {
  const MeshConfig& mesh = *model.mesh;
  const std::vector<Telemetry> none;
  auto policy =
      telemetryTracing(model.config ? model.config->telemetries : none, mesh, proxy.ns, proxy.labels, inbound);
  if (!policy && !mesh.enable_tracing) return;
  if (policy && policy->disabled) return;
  auto* t = hcm.mutable_tracing();
  if (policy) {
    const ExtensionProvider& p = *policy->provider;
    if (p.kind != ExtensionProvider::Kind::Zipkin) {
      hcm.clear_tracing();  // Istio: a provider it cannot configure means no tracing
      return;
    }
    const MeshService* svc = model.service(p.service);
    if (svc == nullptr || svc->port(p.port) == nullptr) {
      spdlog::warn("tracing provider '{}': no service {} with port {} in the mesh; no tracing for {}", p.name,
                   p.service, p.port, proxy.id);
      hcm.clear_tracing();
      return;
    }
    envoy::config::trace::v3::ZipkinConfig z;
    z.set_collector_cluster(ClusterName{"outbound", p.port, "", svc->hostname}.str());
    z.set_collector_endpoint(p.zipkin_path.empty() ? "/api/v2/spans" : p.zipkin_path);
    z.set_collector_endpoint_version(envoy::config::trace::v3::ZipkinConfig::HTTP_JSON);
    z.set_collector_hostname(svc->hostname);
    z.set_trace_id_128bit(!p.trace_id_64bit);
    z.mutable_shared_span_context()->set_value(false);
    if (p.w3c) z.set_trace_context_option(envoy::config::trace::v3::ZipkinConfig::USE_B3_WITH_W3C_PROPAGATION);
    t->mutable_provider()->set_name("envoy.tracers.zipkin");
    pack(*t->mutable_provider()->mutable_typed_config(), z);
    if (p.max_tag_length != 0) t->mutable_max_path_tag_length()->set_value(p.max_tag_length);
  }
  t->mutable_client_sampling()->set_value(100);
  t->mutable_overall_sampling()->set_value(100);
  t->mutable_random_sampling()->set_value(policy && policy->sampling ? *policy->sampling : mesh.trace_sampling);
  // Istio's service tags, then the Telemetry's own, sorted by name as istiod sorts them.
  auto label = [&](const char* key, const char* fallback_key, const char* otherwise) {
    auto it = proxy.labels.find(key);
    if (it == proxy.labels.end() && fallback_key) it = proxy.labels.find(fallback_key);
    return it == proxy.labels.end() || it->second.empty() ? std::string(otherwise) : it->second;
  };
  std::vector<envoy::type::tracing::v3::CustomTag> tags;
  auto literal = [&](const std::string& name, const std::string& value) {
    auto& tag = tags.emplace_back();
    tag.set_tag(name);
    tag.mutable_literal()->set_value(value);
  };
  // Injection sets canonical-name from the app label; pods weftctl runs are not injected.
  literal("istio.canonical_service", label("service.istio.io/canonical-name", "app", "unknown"));
  literal("istio.canonical_revision", label("service.istio.io/canonical-revision", "version", "latest"));
  literal("istio.mesh_id", proxy.mesh_id.empty() ? "unknown" : proxy.mesh_id);
  literal("istio.namespace", proxy.ns.empty() ? "default" : proxy.ns);
  literal("istio.cluster_id", proxy.cluster_id.empty() ? "unknown" : proxy.cluster_id);
  if (policy) {
    for (const auto& ct : policy->custom_tags) {
      auto& tag = tags.emplace_back();
      tag.set_tag(ct.name);
      switch (ct.kind) {
        case TelemetryCustomTag::Kind::Literal:
          tag.mutable_literal()->set_value(ct.value);
          break;
        case TelemetryCustomTag::Kind::Environment:
          tag.mutable_environment()->set_name(ct.value);
          tag.mutable_environment()->set_default_value(ct.default_value);
          break;
        case TelemetryCustomTag::Kind::Header:
          tag.mutable_request_header()->set_name(ct.value);
          tag.mutable_request_header()->set_default_value(ct.default_value);
          break;
      }
    }
  }
  std::stable_sort(tags.begin(), tags.end(), [](const auto& a, const auto& b) { return a.tag() < b.tag(); });
  for (auto& tag : tags) *t->add_custom_tags() = std::move(tag);
}

std::string routeOperation(const std::string& host, uint32_t port) { return host + ":" + std::to_string(port) + "/*"; }

std::vector<envoy::config::accesslog::v3::AccessLog> accessLogs(const MeshModel& model, const ProxyInfo& proxy,
                                                                bool inbound) {
  const MeshConfig& mesh = *model.mesh;
  const std::vector<Telemetry> none;
  std::vector<envoy::config::accesslog::v3::AccessLog> out;
  std::map<std::string, std::string> filters;
  auto providers = telemetryAccessLogProviders(model.config ? model.config->telemetries : none, mesh, proxy.ns,
                                               proxy.labels, inbound, &filters);
  if (!providers) {
    if (mesh.access_log_file.empty()) return out;
    if (mesh.access_log_json) {
      const std::string& json = mesh.access_log_format.empty() ? istioJsonLogFormat() : mesh.access_log_format;
      out.push_back(fileLog(mesh.access_log_file, "", json));
    } else {
      out.push_back(fileLog(mesh.access_log_file, mesh.access_log_format, ""));
    }
    return out;
  }
  for (const auto& name : *providers) {
    const ExtensionProvider* p = mesh.provider(name);
    // Istio skips a provider the mesh does not define (and logs it at debug level).
    if (p == nullptr || p->kind != ExtensionProvider::Kind::EnvoyFileAccessLog) continue;
    out.push_back(fileLog(p->path, p->text_format, p->json_labels));
    // Istio's buildAccessLogFilterFromTelemetry: the Telemetry's filter as Envoy's CEL filter.
    if (const std::string& expr = filters[name]; !expr.empty()) {
      envoy::extensions::access_loggers::filters::cel::v3::ExpressionFilter cel;
      cel.set_expression(expr);
      auto* ext = out.back().mutable_filter()->mutable_extension_filter();
      ext->set_name("envoy.access_loggers.extension_filters.cel");
      pack(*ext->mutable_typed_config(), cel);
    }
  }
  return out;
}

namespace {
::xds::type::v3::TypedStruct mxConfig() {
  ::xds::type::v3::TypedStruct ts;
  ts.set_type_url("type.googleapis.com/envoy.tcp.metadataexchange.config.MetadataExchange");
  (*ts.mutable_value()->mutable_fields())["protocol"].set_string_value("istio-peer-exchange");
  return ts;
}
}  // namespace

envoy::config::listener::v3::Filter tcpMetadataExchangeFilter() {
  envoy::config::listener::v3::Filter f;
  f.set_name("istio.metadata_exchange");
  pack(*f.mutable_typed_config(), mxConfig());
  return f;
}

envoy::config::cluster::v3::Filter tcpClusterMetadataExchange() {
  envoy::config::cluster::v3::Filter f;
  f.set_name("istio.metadata_exchange");
  pack(*f.mutable_typed_config(), mxConfig());
  return f;
}

void setIstioServiceMetadata(envoy::config::cluster::v3::Cluster& c, const MeshService& svc) {
  auto& istio = (*c.mutable_metadata()->mutable_filter_metadata())["istio"];
  auto* entry = (*istio.mutable_fields())["services"].mutable_list_value()->add_values()->mutable_struct_value();
  (*entry->mutable_fields())["host"].set_string_value(svc.hostname);
  (*entry->mutable_fields())["name"].set_string_value(svc.name.empty() ? svc.hostname : svc.name);
  (*entry->mutable_fields())["namespace"].set_string_value(svc.ns);
  if (svc.external) (*istio.mutable_fields())["external"].set_bool_value(true);
}

}  // namespace weft::control::xds
