// MeshConfig parsing (what weftd applies, what it refuses by name) and the Telemetry kind's
// validation as Istio's ValidateTelemetry, with weftd's refusals of what it cannot carry out.
#include "control/model/telemetry_policy.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

#include "control/control_test_support.h"

namespace weft::control {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using testing::snapshotFrom;

std::vector<std::string> meshErrors(const std::string& yaml) {
  std::vector<std::string> errors;
  parseMeshConfig(yaml, errors);
  return errors;
}

TEST(MeshConfigTest, DefaultsAreIstios) {
  std::vector<std::string> errors;
  MeshConfig m = parseMeshConfig("", errors);
  EXPECT_THAT(errors, IsEmpty());
  EXPECT_EQ(m.trust_domain, "cluster.local");
  EXPECT_EQ(m.root_namespace, "istio-system");
  EXPECT_FALSE(m.registry_only);
  EXPECT_TRUE(m.access_log_file.empty());
  EXPECT_THAT(m.default_metrics_providers, ElementsAre("prometheus"));
  ASSERT_NE(m.provider("envoy"), nullptr);
  EXPECT_EQ(m.provider("envoy")->path, "/dev/stdout");
}

TEST(MeshConfigTest, FieldsApplied) {
  std::vector<std::string> errors;
  MeshConfig m = parseMeshConfig(R"(
trustDomain: example.org
rootNamespace: mesh-root
outboundTrafficPolicy: {mode: REGISTRY_ONLY}
accessLogFile: /var/log/access.log
accessLogEncoding: JSON
defaultProviders: {accessLogging: [envoy], metrics: []}
extensionProviders:
- name: text-file
  envoyFileAccessLog: {path: /tmp/t.log, logFormat: {text: "%RESPONSE_CODE%"}}
)",
                                 errors);
  EXPECT_THAT(errors, IsEmpty());
  EXPECT_EQ(m.trust_domain, "example.org");
  EXPECT_EQ(m.root_namespace, "mesh-root");
  EXPECT_TRUE(m.registry_only);
  EXPECT_EQ(m.access_log_file, "/var/log/access.log");
  EXPECT_TRUE(m.access_log_json);
  EXPECT_THAT(m.default_access_log_providers, ElementsAre("envoy"));
  EXPECT_THAT(m.default_metrics_providers, IsEmpty());
  ASSERT_NE(m.provider("text-file"), nullptr);
  EXPECT_EQ(m.provider("text-file")->text_format, "%RESPONSE_CODE%");
}

TEST(MeshConfigTest, WhatWeftdDoesNotDoIsAnErrorNamingTheField) {
  EXPECT_THAT(meshErrors("accessLogFiles: /dev/stdout\n"),
              ElementsAre("meshConfig.accessLogFiles: not supported by weftd"));
  EXPECT_THAT(meshErrors("accessLogEncoding: XML\n"),
              ElementsAre("meshConfig.accessLogEncoding: 'XML' is not one of TEXT, JSON"));
  EXPECT_THAT(meshErrors("accessLogEncoding: JSON\naccessLogFormat: 'not json'\n"),
              ElementsAre("meshConfig.accessLogFormat: with accessLogEncoding JSON it must be a JSON object"));
  EXPECT_THAT(meshErrors("outboundTrafficPolicy: {mode: SOMETIMES}\n"),
              ElementsAre("meshConfig.outboundTrafficPolicy.mode: 'SOMETIMES' is not one of ALLOW_ANY, REGISTRY_ONLY"));
  EXPECT_THAT(meshErrors("extensionProviders:\n- name: o\n  opentelemetry: {service: otel.istio-system, port: 4317}\n"),
              ElementsAre("meshConfig.extensionProviders[0].opentelemetry: this provider type is not supported by "
                          "weftd (supported: prometheus, envoyFileAccessLog, zipkin)"));
  EXPECT_THAT(meshErrors("extensionProviders:\n- name: z\n  zipkin: {port: 9411}\n"),
              ElementsAre("meshConfig.extensionProviders[0].zipkin.service: is required"));
  EXPECT_THAT(
      meshErrors("extensionProviders:\n- name: z\n  zipkin: {service: z.ns, port: 9411, traceContextOption: W3C}\n"),
      ElementsAre("meshConfig.extensionProviders[0].zipkin.traceContextOption: 'W3C' is not one of USE_B3, "
                  "USE_B3_WITH_W3C_PROPAGATION"));
  EXPECT_THAT(meshErrors("defaultConfig: {proxyStatsMatcher: {}}\n"),
              ElementsAre("meshConfig.defaultConfig.proxyStatsMatcher: not supported by weftd"));
  EXPECT_THAT(meshErrors("defaultConfig: {discoveryAddress: weftd, concurrency: -1}\n"),
              ElementsAre("meshConfig.defaultConfig.discoveryAddress: must be HOST:PORT",
                          "meshConfig.defaultConfig.concurrency: must be >= 0"));
  EXPECT_THAT(meshErrors("defaultProviders: {accessLogging: [nowhere]}\n"),
              ElementsAre("meshConfig.defaultProviders.accessLogging: no extension provider named 'nowhere'"));
  EXPECT_THAT(meshErrors("enableAutoMtls: false\n"), ElementsAre());
  EXPECT_THAT(meshErrors("defaultDestinationRuleExportTo: [., Bad_Ns]\n"),
              ElementsAre("meshConfig.defaultDestinationRuleExportTo[1]: 'Bad_Ns' is not ., * or a namespace name"));
  EXPECT_THAT(meshErrors("- a list\n"), ElementsAre("meshConfig: must be a map"));
}

std::vector<std::string> telemetryErrors(const std::string& spec) {
  ConfigSnapshot snap = snapshotFrom(
      "apiVersion: telemetry.istio.io/v1\nkind: Telemetry\nmetadata: {name: t, namespace: default}\nspec:\n" + spec);
  return snap.rejected.empty() ? std::vector<std::string>{} : snap.rejected[0].errors;
}

TEST(TelemetryDecodeTest, ValidatedAsIstioAndRefusedWhereWeftdCannot) {
  EXPECT_THAT(telemetryErrors("  accessLogging: [{providers: [{name: envoy}]}]\n"), IsEmpty());
  EXPECT_THAT(telemetryErrors("  accessLogging: [{providers: [{}]}]\n"),
              ElementsAre("spec.accessLogging[0].providers[0].name: providers.name may not be empty"));
  EXPECT_THAT(telemetryErrors("  accessLogging: [{match: {mode: BOTH}}]\n"),
              ElementsAre("spec.accessLogging[0].match.mode: 'BOTH' is not one of CLIENT_AND_SERVER, CLIENT, SERVER"));
  EXPECT_THAT(telemetryErrors("  accessLogging: [{filter: {expression: 'response.code >= 400'}}]\n"), IsEmpty());
  EXPECT_THAT(telemetryErrors("  accessLogging: [{filter: {expression: 'response.code >='}}]\n"),
              ElementsAre("spec.accessLogging[0].filter.expression: invalid CEL expression: offset 16: unexpected end "
                          "of the expression"));
  EXPECT_THAT(telemetryErrors("  metrics: [{overrides: [{tagOverrides: {a: {operation: UPSERT}}}]}]\n"),
              ElementsAre("spec.metrics[0].overrides[0].tagOverrides[a]: tagOverrides.value must be set when "
                          "operation is UPSERT"));
  EXPECT_THAT(telemetryErrors("  metrics: [{overrides: [{tagOverrides: {a: {operation: REMOVE, value: x}}}]}]\n"),
              ElementsAre("spec.metrics[0].overrides[0].tagOverrides[a]: tagOverrides.value may only be set when "
                          "operation is UPSERT"));
  EXPECT_THAT(telemetryErrors("  metrics: [{overrides: [{tagOverrides: {a: {value: request.host}}}]}]\n"), IsEmpty());
  EXPECT_THAT(telemetryErrors("  metrics: [{overrides: [{tagOverrides: {a: {value: 'lower(request.host)'}}}]}]\n"),
              ElementsAre("spec.metrics[0].overrides[0].tagOverrides[a].value: invalid CEL expression: offset 0: "
                          "unknown function 'lower'"));
  EXPECT_THAT(telemetryErrors("  metrics: [{overrides: [{match: {metric: REQUESTS}}]}]\n"),
              ElementsAre("spec.metrics[0].overrides[0].match.metric: 'REQUESTS' is not one of Istio's metrics"));
  EXPECT_THAT(telemetryErrors("  tracing: [{randomSamplingPercentage: 10, providers: [{name: zipkin}]}]\n"), IsEmpty());
  EXPECT_THAT(telemetryErrors("  tracing: [{randomSamplingPercentage: 101}]\n"),
              ElementsAre("spec.tracing[0].randomSamplingPercentage: randomSamplingPercentage must be in range "
                          "[0.0, 100.0]"));
  EXPECT_THAT(telemetryErrors("  tracing: [{customTags: {a: {literal: {}}}}]\n"),
              ElementsAre("spec.tracing[0].customTags[a].literal: literal tag value may not be empty"));
  EXPECT_THAT(telemetryErrors("  targetRef: {group: gateway.networking.k8s.io, kind: Gateway, name: g}\n"),
              ElementsAre("spec.targetRef: policy attachment to gateways and services is not supported by weftd (it "
                          "attaches by selector)"));
  // Istio's checks come first: a Gateway of the core group is no target.
  EXPECT_THAT(telemetryErrors("  targetRef: {kind: Gateway, name: g}\n"),
              ::testing::Contains("spec.targetRef: targetRef must be to one of [core/v1/Service "
                                  "networking.istio.io/v1/ServiceEntry gateway.networking.k8s.io/v1/Gateway "
                                  "gateway.networking.k8s.io/v1/GatewayClass] but was /Gateway"));
}

// defaultConfig's ProxyConfig fields the injector gives every sidecar, in Istio's JSON names.
TEST(MeshConfigTest, DefaultProxyConfigForTheInjector) {
  std::vector<std::string> errors;
  MeshConfig m = parseMeshConfig(
      "defaultConfig:\n  discoveryAddress: weftd.weft-system.svc:15010\n  drainDuration: 45s\n  concurrency: 4\n"
      "  holdApplicationUntilProxyStarts: true\n  proxyMetadata: {ISTIO_META_DNS_CAPTURE: \"true\"}\n",
      errors);
  EXPECT_THAT(errors, IsEmpty());
  EXPECT_EQ(m.default_proxy_config, nlohmann::json::parse(R"({"discoveryAddress": "weftd.weft-system.svc:15010",
    "drainDuration": "45s", "concurrency": 4, "holdApplicationUntilProxyStarts": true,
    "proxyMetadata": {"ISTIO_META_DNS_CAPTURE": "true"}})"));
}

TEST(TelemetryPolicyTest, NoTelemetryMeansTheMeshDefaults) {
  MeshConfig mesh;
  EXPECT_FALSE(telemetryAccessLogProviders({}, mesh, "default", {}, true).has_value());
  mesh.default_access_log_providers = {"envoy"};
  auto p = telemetryAccessLogProviders({}, mesh, "default", {}, true);
  ASSERT_TRUE(p.has_value());
  EXPECT_THAT(*p, ElementsAre("envoy"));
  MetricsPolicy metrics = telemetryMetrics({}, mesh, "default", {}, false);
  EXPECT_TRUE(metrics.enabled);
  EXPECT_THAT(metrics.overrides, IsEmpty());
}

TEST(TelemetryPolicyTest, AWorkloadEntryReEnablesWhatItsNamespaceDisabled) {
  ConfigSnapshot snap = snapshotFrom(R"(
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: off, namespace: default}
spec:
  accessLogging: [{providers: [{name: envoy}], disabled: true}]
  metrics: [{overrides: [{disabled: true}]}]
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: on, namespace: default}
spec:
  selector: {matchLabels: {app: a}}
  accessLogging: [{disabled: false}]
  metrics: [{overrides: [{match: {metric: REQUEST_COUNT}, disabled: false}]}]
)");
  ASSERT_THAT(snap.rejected, IsEmpty()) << testing::rejectedText(snap);
  MeshConfig mesh;
  EXPECT_THAT(*telemetryAccessLogProviders(snap.telemetries, mesh, "default", {{"app", "b"}}, true), IsEmpty());
  EXPECT_THAT(*telemetryAccessLogProviders(snap.telemetries, mesh, "default", {{"app", "a"}}, true),
              ElementsAre("envoy"));
  EXPECT_FALSE(telemetryMetrics(snap.telemetries, mesh, "default", {{"app", "b"}}, true).enabled);
  MetricsPolicy a = telemetryMetrics(snap.telemetries, mesh, "default", {{"app", "a"}}, true);
  EXPECT_TRUE(a.enabled);
  ASSERT_EQ(a.overrides.size(), 1u);
  EXPECT_EQ(a.overrides[0].name, "requests_total");
  EXPECT_FALSE(a.overrides[0].drop);
}

// Tag overrides merge per tag, later levels winning (a REMOVE then an UPSERT upserts); a log
// filter belongs to the provider entries that name it.
TEST(TelemetryPolicyTest, TagOverridesAndLogFiltersMerge) {
  ConfigSnapshot snap = snapshotFrom(R"(
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: mesh, namespace: istio-system}
spec:
  accessLogging: [{providers: [{name: envoy}], filter: {expression: "response.code >= 400"}}]
  metrics:
  - overrides:
    - match: {metric: REQUEST_COUNT}
      tagOverrides:
        request_host: {value: request.host}
        source_principal: {operation: REMOVE}
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: ns, namespace: default}
spec:
  metrics:
  - overrides:
    - tagOverrides:
        source_principal: {value: "'hidden'"}
        destination_port: {value: string(destination.port)}
)");
  ASSERT_THAT(snap.rejected, IsEmpty()) << testing::rejectedText(snap);
  MeshConfig mesh;
  std::map<std::string, std::string> filters;
  EXPECT_THAT(*telemetryAccessLogProviders(snap.telemetries, mesh, "default", {}, true, &filters),
              ElementsAre("envoy"));
  EXPECT_EQ(filters["envoy"], "response.code >= 400");
  MetricsPolicy m = telemetryMetrics(snap.telemetries, mesh, "default", {}, true);
  std::map<std::string, MetricsPolicy::Override> by_name;
  for (const auto& o : m.overrides) by_name[o.name] = o;
  const auto& requests = by_name.at("requests_total");
  EXPECT_THAT(requests.remove_tags, IsEmpty());
  EXPECT_EQ(requests.dimensions, (std::map<std::string, std::string>{{"destination_port", "string(destination.port)"},
                                                                     {"request_host", "request.host"},
                                                                     {"source_principal", "'hidden'"}}));
  EXPECT_EQ(by_name.at("tcp_sent_bytes_total").dimensions.size(), 2u);  // the namespace's applies to all
}

}  // namespace
}  // namespace weft::control
