// Access logs, metric overrides and tracing as istiod derives them from the mesh config and the
// Telemetry API, checked in the generated listeners and routes and compiled by weft-proxy.
#include <gtest/gtest.h>

#include "common/stats/stats.h"
#include "control/control_test_support.h"
#include "control/xds/generator.h"
#include "control/xds/telemetry_gen.h"
#include "envoy/config/listener/v3/listener.pb.h"
#include "envoy/config/route/v3/route.pb.h"
#include "envoy/config/trace/v3/zipkin.pb.h"
#include "envoy/extensions/access_loggers/file/v3/file.pb.h"
#include "envoy/extensions/access_loggers/filters/cel/v3/cel.pb.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h"
#include "envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.pb.h"
#include "envoy/extensions/stats/config.pb.h"
#include "proxy/access_log/access_logger.h"
#include "proxy/network/network_filter.h"
#include "proxy/telemetry/istio_metrics.h"
#include "proxy/tracing/http_tracing.h"

namespace weft::control::xds {
namespace {

using envoy::config::listener::v3::Listener;
using envoy::extensions::access_loggers::file::v3::FileAccessLog;
using HCM = envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager;
using envoy::extensions::filters::network::tcp_proxy::v3::TcpProxy;
using testing::proxyIn;
using testing::rejectedText;
using testing::snapshotFrom;
using testing::unpack;
using testing::unpackNamed;
using testing::withBase;

std::shared_ptr<const MeshModel> modelWith(const std::string& yaml, const std::string& mesh_yaml = "") {
  auto snap = std::make_shared<ConfigSnapshot>(snapshotFrom(withBase(yaml)));
  EXPECT_TRUE(snap->rejected.empty()) << rejectedText(*snap);
  std::vector<std::string> errors;
  auto mesh = std::make_shared<MeshConfig>(parseMeshConfig(mesh_yaml, errors));
  EXPECT_TRUE(errors.empty()) << errors.front();
  return buildModel(snap, mesh);
}

// reviews-v1's sidecar.
ProxyInfo reviewsV1() {
  ProxyInfo p = proxyIn("default", {{"app", "reviews"}, {"version", "v1"}});
  p.ip = "10.1.0.1";
  return p;
}

FileAccessLog fileLog(const envoy::config::accesslog::v3::AccessLog& log) {
  EXPECT_EQ(log.name(), "envoy.access_loggers.file");
  FileAccessLog f;
  EXPECT_TRUE(log.typed_config().UnpackTo(&f));
  return f;
}

// weft-proxy must take what weftd generates.
void compilesInTheProxy(const std::vector<envoy::config::accesslog::v3::AccessLog>& logs) {
  google::protobuf::RepeatedPtrField<envoy::config::accesslog::v3::AccessLog> field(logs.begin(), logs.end());
  proxy::access_log::CaptureList capture;
  EXPECT_NO_THROW(proxy::access_log::compileAccessLogs(field, "access_log", 1, capture));
}

TEST(AccessLogGenTest, OffUnlessTheMeshOrATelemetryTurnsItOn) {
  auto m = modelWith("");
  EXPECT_TRUE(accessLogs(*m, reviewsV1(), true).empty());
  EXPECT_TRUE(accessLogs(*m, reviewsV1(), false).empty());
}

TEST(AccessLogGenTest, MeshAccessLogFileInIstiosTextFormat) {
  auto m = modelWith("", "accessLogFile: /dev/stdout\n");
  for (bool inbound : {true, false}) {
    auto logs = accessLogs(*m, reviewsV1(), inbound);
    ASSERT_EQ(logs.size(), 1u);
    FileAccessLog f = fileLog(logs[0]);
    EXPECT_EQ(f.path(), "/dev/stdout");
    EXPECT_EQ(f.log_format().text_format_source().inline_string(), istioTextLogFormat());
    compilesInTheProxy(logs);
  }
  // In the listeners: the inbound HCM and the outbound HTTP and TCP chains.
  auto listeners = generateListeners(*m, reviewsV1(), {});
  auto vi = unpackNamed<Listener>(listeners, "virtualInbound");
  bool http_seen = false;
  for (const auto& chain : vi.filter_chains()) {
    const auto& last = chain.filters(chain.filters_size() - 1);
    if (last.name() != "envoy.filters.network.http_connection_manager") continue;
    http_seen = true;
    EXPECT_EQ(unpack<HCM>(last.typed_config()).access_log_size(), 1);
  }
  EXPECT_TRUE(http_seen);
  auto passthrough = vi.default_filter_chain();
  EXPECT_EQ(unpack<TcpProxy>(passthrough.filters(passthrough.filters_size() - 1).typed_config()).access_log_size(), 1);
  auto out = unpackNamed<Listener>(listeners, "0.0.0.0_9080");
  EXPECT_EQ(unpack<HCM>(out.filter_chains(0).filters(0).typed_config()).access_log_size(), 1);
  auto db = unpackNamed<Listener>(listeners, "10.96.0.20_3306");
  const auto& db_chain = db.filter_chains(0);
  EXPECT_EQ(unpack<TcpProxy>(db_chain.filters(db_chain.filters_size() - 1).typed_config()).access_log_size(), 1);
}

TEST(AccessLogGenTest, MeshJsonEncodingAndCustomFormats) {
  auto m = modelWith("", "accessLogFile: /tmp/x.log\naccessLogEncoding: JSON\n");
  auto logs = accessLogs(*m, reviewsV1(), true);
  ASSERT_EQ(logs.size(), 1u);
  const FileAccessLog f = fileLog(logs[0]);
  const auto& json = f.log_format().json_format().fields();
  EXPECT_EQ(json.size(), 24u);
  EXPECT_EQ(json.at("upstream_cluster").string_value(), "%UPSTREAM_CLUSTER_RAW%");
  EXPECT_EQ(json.at("request_id").string_value(), "%REQ(X-REQUEST-ID)%");
  compilesInTheProxy(logs);

  // A text format gets its newline; a JSON format is the user's object.
  m = modelWith("", "accessLogFile: /dev/stdout\naccessLogFormat: '%RESPONSE_CODE% %UPSTREAM_LOCAL_ADDRESS%'\n");
  logs = accessLogs(*m, reviewsV1(), false);
  EXPECT_EQ(fileLog(logs[0]).log_format().text_format_source().inline_string(),
            "%RESPONSE_CODE% %UPSTREAM_LOCAL_ADDRESS%\n");
  m = modelWith(
      "", "accessLogFile: /dev/stdout\naccessLogEncoding: JSON\naccessLogFormat: '{\"code\": \"%RESPONSE_CODE%\"}'\n");
  logs = accessLogs(*m, reviewsV1(), false);
  EXPECT_EQ(fileLog(logs[0]).log_format().json_format().fields().at("code").string_value(), "%RESPONSE_CODE%");
}

const char* kRootLogs = R"(
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: mesh-default, namespace: istio-system}
spec:
  accessLogging:
  - providers: [{name: envoy}]
)";

TEST(AccessLogGenTest, TelemetryTurnsTheEnvoyProviderOn) {
  auto m = modelWith(kRootLogs);
  for (bool inbound : {true, false}) {
    auto logs = accessLogs(*m, reviewsV1(), inbound);
    ASSERT_EQ(logs.size(), 1u);
    EXPECT_EQ(fileLog(logs[0]).path(), "/dev/stdout");
    EXPECT_EQ(fileLog(logs[0]).log_format().text_format_source().inline_string(), istioTextLogFormat());
  }
}

TEST(AccessLogGenTest, LowerLevelsDisableByModeAndOverrideTheMeshFile) {
  // The workload turns its server side off; the namespace of another workload turns all off,
  // which also silences the mesh's accessLogFile for it.
  auto m = modelWith(std::string(kRootLogs) + R"(---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: quiet-server, namespace: default}
spec:
  selector: {matchLabels: {app: reviews}}
  accessLogging:
  - match: {mode: SERVER}
    disabled: true
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: none, namespace: prod}
spec:
  accessLogging:
  - disabled: true
)",
                     "accessLogFile: /dev/stdout\n");
  EXPECT_TRUE(accessLogs(*m, reviewsV1(), true).empty());
  EXPECT_EQ(accessLogs(*m, reviewsV1(), false).size(), 1u);
  EXPECT_TRUE(accessLogs(*m, proxyIn("prod"), true).empty());
  EXPECT_TRUE(accessLogs(*m, proxyIn("prod"), false).empty());
  // Other namespaces: the root Telemetry's envoy provider.
  EXPECT_EQ(accessLogs(*m, proxyIn("other"), true).size(), 1u);
}

TEST(AccessLogGenTest, ExtensionProvidersWithTheirFormat) {
  auto m = modelWith(R"(
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: logs, namespace: default}
spec:
  accessLogging:
  - providers: [{name: json-file}, {name: undefined}]
)",
                     R"(
extensionProviders:
- name: json-file
  envoyFileAccessLog:
    path: /tmp/access.json
    logFormat:
      labels: {code: "%RESPONSE_CODE%", peer: "%DOWNSTREAM_REMOTE_ADDRESS%"}
)");
  auto logs = accessLogs(*m, reviewsV1(), true);
  ASSERT_EQ(logs.size(), 1u);  // an undefined provider is skipped, as istiod does
  FileAccessLog f = fileLog(logs[0]);
  EXPECT_EQ(f.path(), "/tmp/access.json");
  EXPECT_EQ(f.log_format().json_format().fields().at("peer").string_value(), "%DOWNSTREAM_REMOTE_ADDRESS%");
  compilesInTheProxy(logs);
}

// Istio's buildAccessLogFilterFromTelemetry: the filter becomes Envoy's CEL extension filter,
// which the proxy compiles (and so resolves the attributes it names).
TEST(AccessLogGenTest, TelemetryFilterBecomesEnvoysCelFilter) {
  auto m = modelWith(R"(
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: mesh-default, namespace: istio-system}
spec:
  accessLogging:
  - providers: [{name: envoy}]
    filter: {expression: "response.code >= 400 || xds.cluster_name == 'BlackHoleCluster'"}
)");
  auto logs = accessLogs(*m, reviewsV1(), true);
  ASSERT_EQ(logs.size(), 1u);
  const auto& ext = logs[0].filter().extension_filter();
  EXPECT_EQ(ext.name(), "envoy.access_loggers.extension_filters.cel");
  envoy::extensions::access_loggers::filters::cel::v3::ExpressionFilter cel;
  ASSERT_TRUE(ext.typed_config().UnpackTo(&cel));
  EXPECT_EQ(cel.expression(), "response.code >= 400 || xds.cluster_name == 'BlackHoleCluster'");
  compilesInTheProxy(logs);
}

::stats::PluginConfig statsOf(const MeshModel& m, bool inbound) {
  auto f = istioStatsFilter(m, reviewsV1(), inbound);
  EXPECT_TRUE(f.has_value());
  ::stats::PluginConfig p;
  if (f) {
    EXPECT_TRUE(f->typed_config().UnpackTo(&p));
  }
  return p;
}

TEST(MetricsGenTest, TelemetryOverridesBecomeTheStatsConfig) {
  auto m = modelWith(R"(
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: mesh-default, namespace: istio-system}
spec:
  metrics:
  - providers: [{name: prometheus}]
    overrides:
    - match: {metric: REQUEST_COUNT, mode: CLIENT}
      disabled: true
    - match: {metric: ALL_METRICS}
      tagOverrides:
        request_protocol: {operation: REMOVE}
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: reviews, namespace: default}
spec:
  selector: {matchLabels: {app: reviews}}
  metrics:
  - overrides:
    - match: {metric: REQUEST_DURATION, mode: SERVER}
      tagOverrides:
        response_flags: {operation: REMOVE}
)");
  ::stats::PluginConfig client = statsOf(*m, false);
  ASSERT_EQ(client.metrics_size(), 10);  // ALL_METRICS flattened into each, as istiod does
  for (const auto& mc : client.metrics()) {
    EXPECT_EQ(mc.drop(), mc.name() == "requests_total") << mc.name();
    ASSERT_EQ(mc.tags_to_remove_size(), 1) << mc.name();
    EXPECT_EQ(mc.tags_to_remove(0), "request_protocol");
  }
  ::stats::PluginConfig server = statsOf(*m, true);
  for (const auto& mc : server.metrics()) {
    EXPECT_FALSE(mc.drop()) << mc.name();
    if (mc.name() == "request_duration_milliseconds") {
      ASSERT_EQ(mc.tags_to_remove_size(), 2);
      EXPECT_EQ(mc.tags_to_remove(0), "request_protocol");
      EXPECT_EQ(mc.tags_to_remove(1), "response_flags");
    }
  }
}

TEST(MetricsGenTest, TagOverrideValuesBecomeDimensions) {
  auto m = modelWith(R"yaml(
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: namespace-metrics, namespace: default}
spec:
  metrics:
  - providers: [{name: prometheus}]
    overrides:
    - match: {metric: REQUEST_COUNT}
      tagOverrides:
        destination_port: {value: "string(destination.port)"}
        request_host: {value: "request.host"}
)yaml");
  ::stats::PluginConfig p = statsOf(*m, true);
  ASSERT_EQ(p.metrics_size(), 1);
  EXPECT_EQ(p.metrics(0).name(), "requests_total");
  std::map<std::string, std::string> dims(p.metrics(0).dimensions().begin(), p.metrics(0).dimensions().end());
  EXPECT_EQ(dims, (std::map<std::string, std::string>{{"destination_port", "string(destination.port)"},
                                                      {"request_host", "request.host"}}));
  stats::Store store(1);
  EXPECT_NO_THROW(
      proxy::telemetry::MetricSet::compile(p, proxy::telemetry::MetricSet::Kind::Http, store, "istio.stats"));
}

TEST(MetricsGenTest, ReportingIntervalBecomesTcpReportingDuration) {
  auto m = modelWith(R"(
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: tcp-reports, namespace: default}
spec:
  metrics:
  - providers: [{name: prometheus}]
    reportingInterval: 1.5s
)");
  auto tcp = istioTcpStatsFilter(*m, reviewsV1(), true);
  ASSERT_TRUE(tcp.has_value());
  ::stats::PluginConfig p;
  ASSERT_TRUE(tcp->typed_config().UnpackTo(&p));
  EXPECT_EQ(p.tcp_reporting_duration().seconds(), 1);
  EXPECT_EQ(p.tcp_reporting_duration().nanos(), 500000000);
  // weft-proxy takes it.
  stats::Store store(1);
  const auto* network = proxy::network::findNetworkFilter(tcp->typed_config());
  ASSERT_NE(network, nullptr);
  proxy::network::NetworkFilterContext nctx{store, true, nullptr, {}};
  auto observer = network->compileObserver(tcp->typed_config(), "filters[0]", nctx);
  ASSERT_NE(observer, nullptr);
  EXPECT_EQ(observer->reportingInterval(), std::chrono::milliseconds(1500));
}

TEST(MetricsGenTest, AllMetricsDisabledRemovesTheFilter) {
  auto m = modelWith(R"(
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: no-server-metrics, namespace: default}
spec:
  metrics:
  - providers: [{name: prometheus}]
    overrides:
    - match: {mode: SERVER}
      disabled: true
)");
  EXPECT_FALSE(istioStatsFilter(*m, reviewsV1(), true).has_value());
  EXPECT_FALSE(istioTcpStatsFilter(*m, reviewsV1(), true).has_value());
  EXPECT_TRUE(istioStatsFilter(*m, reviewsV1(), false).has_value());
  // The inbound HCM then has no istio.stats at all.
  auto vi = unpackNamed<Listener>(generateListeners(*m, reviewsV1(), {}), "virtualInbound");
  for (const auto& chain : vi.filter_chains()) {
    for (const auto& f : chain.filters()) {
      EXPECT_NE(f.name(), "istio.stats");
      if (f.name() != "envoy.filters.network.http_connection_manager") continue;
      const HCM hcm = unpack<HCM>(f.typed_config());
      for (const auto& hf : hcm.http_filters()) EXPECT_NE(hf.name(), "istio.stats");
    }
  }
  // No metrics provider in the mesh: no stats filter anywhere.
  m = modelWith("", "defaultProviders: {metrics: []}\n");
  EXPECT_FALSE(istioStatsFilter(*m, reviewsV1(), false).has_value());
}

const char* kZipkinMesh = R"(
extensionProviders:
- name: zipkin
  zipkin: {service: zipkin.istio-system.svc.cluster.local, port: 9411, maxTagLength: 99}
)";
const char* kZipkinService = R"(
apiVersion: v1
kind: Service
metadata: {name: zipkin, namespace: istio-system}
spec:
  clusterIP: 10.96.0.99
  ports: [{name: http-query, port: 9411}]
---
)";

HCM tracingOf(const MeshModel& m, bool inbound) {
  HCM hcm;
  setTracing(hcm, m, reviewsV1(), inbound);
  return hcm;
}

TEST(TracingGenTest, LegacyMeshTracingSamplesWithoutAProvider) {
  // No Telemetry tracing, no default provider: enableTracing (on by default) gives Istio's 1%
  // and its service tags, and no tracer, as istiod without a bootstrap tracer.
  HCM hcm = tracingOf(*modelWith(""), false);
  ASSERT_TRUE(hcm.has_tracing());
  EXPECT_FALSE(hcm.tracing().has_provider());
  EXPECT_DOUBLE_EQ(hcm.tracing().random_sampling().value(), 1.0);
  EXPECT_DOUBLE_EQ(hcm.tracing().client_sampling().value(), 100.0);
  std::map<std::string, std::string> tags;
  for (const auto& t : hcm.tracing().custom_tags()) tags[t.tag()] = t.literal().value();
  EXPECT_EQ(tags, (std::map<std::string, std::string>{{"istio.canonical_revision", "v1"},
                                                      {"istio.canonical_service", "reviews"},
                                                      {"istio.cluster_id", "unknown"},
                                                      {"istio.mesh_id", "unknown"},
                                                      {"istio.namespace", "default"}}));
  EXPECT_FALSE(tracingOf(*modelWith("", "enableTracing: false\n"), false).has_tracing());
  EXPECT_DOUBLE_EQ(
      tracingOf(*modelWith("", "defaultConfig: {tracing: {sampling: 25}}\n"), true).tracing().random_sampling().value(),
      25.0);
}

TEST(TracingGenTest, ZipkinW3cTraceContextOption) {
  const std::string telemetry = std::string(kZipkinService) + R"(
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: mesh-default, namespace: istio-system}
spec:
  tracing: [{providers: [{name: zipkin}]}]
)";
  auto zipkinOf = [&](const std::string& mesh) {
    HCM hcm = tracingOf(*modelWith(telemetry, mesh), false);
    envoy::config::trace::v3::ZipkinConfig z;
    EXPECT_TRUE(hcm.tracing().provider().typed_config().UnpackTo(&z));
    return z;
  };
  EXPECT_EQ(zipkinOf(kZipkinMesh).trace_context_option(), envoy::config::trace::v3::ZipkinConfig::USE_B3);
  EXPECT_EQ(zipkinOf(R"(
extensionProviders:
- name: zipkin
  zipkin: {service: zipkin.istio-system.svc.cluster.local, port: 9411, traceContextOption: USE_B3_WITH_W3C_PROPAGATION}
)")
                .trace_context_option(),
            envoy::config::trace::v3::ZipkinConfig::USE_B3_WITH_W3C_PROPAGATION);
}

TEST(TracingGenTest, TelemetryZipkinProvider) {
  auto m = modelWith(std::string(kZipkinService) + R"(
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: mesh-default, namespace: istio-system}
spec:
  tracing:
  - providers: [{name: zipkin}]
    randomSamplingPercentage: 10
    customTags:
      user: {header: {name: x-user, defaultValue: anonymous}}
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: no-server-spans, namespace: default}
spec:
  selector: {matchLabels: {app: reviews}}
  tracing:
  - match: {mode: SERVER}
    disableSpanReporting: true
)",
                     kZipkinMesh);
  EXPECT_FALSE(tracingOf(*m, true).has_tracing());
  HCM hcm = tracingOf(*m, false);
  ASSERT_TRUE(hcm.has_tracing());
  const auto& t = hcm.tracing();
  EXPECT_EQ(t.provider().name(), "envoy.tracers.zipkin");
  envoy::config::trace::v3::ZipkinConfig z;
  ASSERT_TRUE(t.provider().typed_config().UnpackTo(&z));
  EXPECT_EQ(z.collector_cluster(), "outbound|9411||zipkin.istio-system.svc.cluster.local");
  EXPECT_EQ(z.collector_endpoint(), "/api/v2/spans");
  EXPECT_EQ(z.collector_hostname(), "zipkin.istio-system.svc.cluster.local");
  EXPECT_TRUE(z.trace_id_128bit());
  EXPECT_FALSE(z.shared_span_context().value());
  EXPECT_DOUBLE_EQ(t.random_sampling().value(), 10.0);
  EXPECT_EQ(t.max_path_tag_length().value(), 99u);
  ASSERT_EQ(t.custom_tags_size(), 6);
  EXPECT_EQ(t.custom_tags(5).tag(), "user");
  EXPECT_EQ(t.custom_tags(5).request_header().default_value(), "anonymous");
  // weft-proxy takes it.
  stats::Store store(1);
  EXPECT_NO_THROW(proxy::tracing::compileTracing(t, "tracing", false, store));
  // The provider's service must exist: without it, no tracing.
  auto without = modelWith(R"(
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: t, namespace: default}
spec:
  tracing: [{providers: [{name: zipkin}]}]
)",
                           kZipkinMesh);
  EXPECT_FALSE(tracingOf(*without, false).has_tracing());
}

TEST(TracingGenTest, RoutesCarryIstiosDecorator) {
  auto m = modelWith("");
  auto routes = generateRoutes(*m, reviewsV1(), {"9080"});
  auto rc = unpackNamed<envoy::config::route::v3::RouteConfiguration>(routes, "9080");
  bool seen = false;
  for (const auto& vh : rc.virtual_hosts()) {
    if (vh.name() != "reviews.default.svc.cluster.local:9080") continue;
    seen = true;
    for (const auto& r : vh.routes()) EXPECT_EQ(r.decorator().operation(), "reviews.default.svc.cluster.local:9080/*");
  }
  EXPECT_TRUE(seen);
}

}  // namespace
}  // namespace weft::control::xds
