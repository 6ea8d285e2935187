#pragma once
// Istio's MeshConfig (the `mesh` key of the `istio` ConfigMap, or weftd's --mesh-config
// file): the mesh-wide settings weftd applies. Fields weftd does not implement are errors
// naming them, never silently dropped.
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace weft::control {

// An extensionProviders entry weftd can generate config for.
struct ExtensionProvider {
  enum class Kind { EnvoyFileAccessLog, Prometheus, Zipkin } kind = Kind::Prometheus;
  std::string name;
  // envoyFileAccessLog: path; logFormat.text, or logFormat.labels as JSON (an object).
  std::string path;
  std::string text_format;
  std::string json_labels;  // a JSON object of format strings; empty: text
  // zipkin: the collector's service (FQDN) and port, path, 64-bit trace ids, tag length, W3C.
  std::string service;
  uint32_t port = 0;
  std::string zipkin_path;  // empty: /api/v2/spans
  bool trace_id_64bit = false;
  uint32_t max_tag_length = 0;
  bool w3c = false;  // traceContextOption USE_B3_WITH_W3C_PROPAGATION
};

struct MeshConfig {
  std::string trust_domain = "cluster.local";
  std::string root_namespace = "istio-system";
  bool registry_only = false;  // outboundTrafficPolicy.mode REGISTRY_ONLY
  // enableAutoMtls: false: without a DestinationRule's tls, clients send plaintext.
  bool enable_auto_mtls = true;
  // defaultServiceExportTo, defaultVirtualServiceExportTo, defaultDestinationRuleExportTo:
  // the visibility of objects without exportTo (empty: everywhere, Istio's default "*").
  std::vector<std::string> default_service_export_to;
  std::vector<std::string> default_virtual_service_export_to;
  std::vector<std::string> default_destination_rule_export_to;
  // accessLogFile: the access log of every sidecar unless a Telemetry says otherwise.
  std::string access_log_file;
  bool access_log_json = false;  // accessLogEncoding JSON
  std::string access_log_format;
  bool enable_tracing = true;
  double trace_sampling = 1.0;  // defaultConfig.tracing.sampling (percent; Istio's default 1%)
  // defaultConfig's ProxyConfig fields the injector uses (discoveryAddress, drainDuration,
  // concurrency, proxyMetadata, holdApplicationUntilProxyStarts), as JSON in Istio's names: the
  // base a pod's proxy.istio.io/config annotation is merged over.
  nlohmann::json default_proxy_config = nlohmann::json::object();
  std::vector<std::string> default_metrics_providers;  // ["prometheus"] unless set
  std::vector<std::string> default_access_log_providers;
  std::vector<std::string> default_tracing_providers;
  // By name, with Istio's built-ins ("prometheus", "envoy" logging to /dev/stdout) unless
  // the file redefines them.
  std::map<std::string, ExtensionProvider> providers;

  MeshConfig();
  const ExtensionProvider* provider(const std::string& name) const;
};

// Parses MeshConfig YAML (the ConfigMap's `mesh` value or a file holding it). Errors name the
// field ("meshConfig.extensionProviders[1].zipkin: ..."); any error means the config is not used.
// Fields the YAML leaves out keep `base`'s values (Istio's defaults unless given).
MeshConfig parseMeshConfig(const std::string& yaml, std::vector<std::string>& errors, const MeshConfig& base = {});

// Istio's default access log text format and JSON fields (pilot telemetry_logging.go).
const std::string& istioTextLogFormat();
const std::string& istioJsonLogFormat();  // a JSON object

}  // namespace weft::control
