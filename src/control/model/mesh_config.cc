#include "control/model/mesh_config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "control/config/decode_util.h"

namespace weft::control {

namespace {

using decode::Errors;
using decode::idx;
using decode::join;

nlohmann::json toJson(const YAML::Node& n) {
  if (n.IsMap()) {
    nlohmann::json o = nlohmann::json::object();
    for (const auto& kv : n) o[kv.first.as<std::string>()] = toJson(kv.second);
    return o;
  }
  if (n.IsSequence()) {
    nlohmann::json a = nlohmann::json::array();
    for (const auto& v : n) a.push_back(toJson(v));
    return a;
  }
  if (n.IsScalar()) return n.Scalar();
  return nullptr;
}

void providerEntry(const YAML::Node& n, const std::string& path, MeshConfig& mesh, Errors& errs) {
  if (!decode::expectMap(n, path, errs)) return;
  ExtensionProvider p;
  p.name = decode::str(n, "name", path, errs);
  if (p.name.empty()) errs.push_back(join(path, "name") + ": is required");
  int kinds = 0;
  for (const auto& kv : n) {
    std::string key = kv.first.as<std::string>();
    if (key == "name") continue;
    ++kinds;
    const std::string kp = join(path, key);
    if (key == "prometheus") {
      p.kind = ExtensionProvider::Kind::Prometheus;
      if (kv.second.IsMap() && kv.second.size() != 0) errs.push_back(kp + ": takes no fields");
      if (!kv.second.IsMap() && !kv.second.IsNull()) errs.push_back(kp + ": must be a map");
    } else if (key == "envoyFileAccessLog") {
      p.kind = ExtensionProvider::Kind::EnvoyFileAccessLog;
      const YAML::Node& f = kv.second;
      if (!decode::expectMap(f, kp, errs)) continue;
      decode::checkKeys(f, kp, {"path", "logFormat"}, errs);
      p.path = decode::str(f, "path", kp, errs);
      if (p.path.empty()) errs.push_back(join(kp, "path") + ": is required");
      if (YAML::Node lf = f["logFormat"]; lf && !lf.IsNull()) {
        const std::string lp = join(kp, "logFormat");
        if (!decode::expectMap(lf, lp, errs)) continue;
        decode::checkKeys(lf, lp, {"text", "labels"}, errs);
        p.text_format = decode::str(lf, "text", lp, errs);
        if (YAML::Node labels = lf["labels"]; labels && !labels.IsNull()) {
          if (!labels.IsMap()) {
            errs.push_back(join(lp, "labels") + ": must be a map of field name to format");
          } else {
            p.json_labels = toJson(labels).dump();
          }
        }
        if (!p.text_format.empty() && !p.json_labels.empty())
          errs.push_back(lp + ": only one of text, labels may be set");
      }
    } else if (key == "zipkin") {
      p.kind = ExtensionProvider::Kind::Zipkin;
      const YAML::Node& z = kv.second;
      if (!decode::expectMap(z, kp, errs)) continue;
      decode::checkKeys(z, kp, {"service", "port", "maxTagLength", "enable64bitTraceId", "path", "traceContextOption"},
                        errs);
      p.service = decode::str(z, "service", kp, errs);
      if (p.service.empty()) errs.push_back(join(kp, "service") + ": is required");
      p.port = decode::port(z, "port", kp, errs, true);
      p.zipkin_path = decode::str(z, "path", kp, errs);
      if (!p.zipkin_path.empty() && p.zipkin_path[0] != '/') errs.push_back(join(kp, "path") + ": must start with /");
      p.trace_id_64bit = decode::boolean(z, "enable64bitTraceId", kp, errs).value_or(false);
      if (std::string o = decode::str(z, "traceContextOption", kp, errs); o == "USE_B3_WITH_W3C_PROPAGATION") {
        p.w3c = true;
      } else if (!o.empty() && o != "USE_B3") {
        errs.push_back(join(kp, "traceContextOption") + ": '" + o +
                       "' is not one of USE_B3, USE_B3_WITH_W3C_PROPAGATION");
      }
      if (auto m = decode::integer(z, "maxTagLength", kp, errs)) {
        if (*m < 0 || *m > 65535) errs.push_back(join(kp, "maxTagLength") + ": must be in 0..65535");
        p.max_tag_length = static_cast<uint32_t>(std::max<int64_t>(0, std::min<int64_t>(*m, 65535)));
      }
    } else {
      errs.push_back(
          kp + ": this provider type is not supported by weftd (supported: prometheus, envoyFileAccessLog, zipkin)");
    }
  }
  if (kinds != 1) errs.push_back(path + ": exactly one provider type is required");
  if (!p.name.empty()) mesh.providers[p.name] = std::move(p);
}

}  // namespace

MeshConfig::MeshConfig() {
  // Istio's DefaultMeshConfig: the built-in providers.
  ExtensionProvider prometheus;
  prometheus.name = "prometheus";
  providers["prometheus"] = prometheus;
  ExtensionProvider envoy;
  envoy.kind = ExtensionProvider::Kind::EnvoyFileAccessLog;
  envoy.name = "envoy";
  envoy.path = "/dev/stdout";
  providers["envoy"] = envoy;
  // What Istio's installed `istio` ConfigMap says (the Helm chart's telemetry defaults).
  default_metrics_providers = {"prometheus"};
}

const ExtensionProvider* MeshConfig::provider(const std::string& name) const {
  auto it = providers.find(name);
  return it == providers.end() ? nullptr : &it->second;
}

MeshConfig parseMeshConfig(const std::string& text, std::vector<std::string>& errs, const MeshConfig& base) {
  MeshConfig mesh = base;
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    errs.push_back("meshConfig: not YAML: " + std::string(e.what()));
    return mesh;
  }
  if (!root || root.IsNull()) return mesh;
  const std::string path = "meshConfig";
  if (!decode::expectMap(root, path, errs)) return mesh;
  decode::checkKeys(
      root, path,
      {"trustDomain", "rootNamespace", "outboundTrafficPolicy", "accessLogFile", "accessLogEncoding", "accessLogFormat",
       "enableTracing", "enableAutoMtls", "defaultProviders", "extensionProviders", "defaultConfig",
       "defaultServiceExportTo", "defaultVirtualServiceExportTo", "defaultDestinationRuleExportTo"},
      errs);
  if (std::string td = decode::str(root, "trustDomain", path, errs); !td.empty()) mesh.trust_domain = td;
  if (std::string rn = decode::str(root, "rootNamespace", path, errs); !rn.empty()) {
    if (!decode::isDnsLabel(rn)) errs.push_back(join(path, "rootNamespace") + ": '" + rn + "' is not a namespace name");
    mesh.root_namespace = rn;
  }
  if (YAML::Node otp = root["outboundTrafficPolicy"]; otp && !otp.IsNull()) {
    const std::string p = join(path, "outboundTrafficPolicy");
    if (decode::expectMap(otp, p, errs)) {
      decode::checkKeys(otp, p, {"mode"}, errs);
      std::string mode = decode::str(otp, "mode", p, errs);
      if (mode == "REGISTRY_ONLY") {
        mesh.registry_only = true;
      } else if (!mode.empty() && mode != "ALLOW_ANY") {
        errs.push_back(join(p, "mode") + ": '" + mode + "' is not one of ALLOW_ANY, REGISTRY_ONLY");
      }
    }
  }
  if (root["accessLogFile"]) mesh.access_log_file = decode::str(root, "accessLogFile", path, errs);
  std::string encoding = decode::str(root, "accessLogEncoding", path, errs);
  if (!encoding.empty()) mesh.access_log_json = encoding == "JSON";
  if (!encoding.empty() && encoding != "TEXT" && encoding != "JSON") {
    errs.push_back(join(path, "accessLogEncoding") + ": '" + encoding + "' is not one of TEXT, JSON");
  }
  if (root["accessLogFormat"]) mesh.access_log_format = decode::str(root, "accessLogFormat", path, errs);
  if (mesh.access_log_json && !mesh.access_log_format.empty()) {
    // Istio falls back to its default with an error log; a typo here should not go unseen.
    nlohmann::json j = nlohmann::json::parse(mesh.access_log_format, nullptr, false);
    if (!j.is_object())
      errs.push_back(join(path, "accessLogFormat") + ": with accessLogEncoding JSON it must be a JSON object");
  }
  if (auto t = decode::boolean(root, "enableTracing", path, errs)) mesh.enable_tracing = *t;
  if (YAML::Node dc = root["defaultConfig"]; dc && !dc.IsNull()) {
    // ProxyConfig: tracing sampling here; what the injector gives each sidecar below.
    const std::string p = join(path, "defaultConfig");
    if (decode::expectMap(dc, p, errs)) {
      decode::checkKeys(dc, p,
                        {"tracing", "discoveryAddress", "drainDuration", "concurrency", "proxyMetadata",
                         "holdApplicationUntilProxyStarts"},
                        errs);
      nlohmann::json& pc = mesh.default_proxy_config;
      if (std::string d = decode::str(dc, "discoveryAddress", p, errs); !d.empty()) {
        if (d.rfind(':') == std::string::npos) errs.push_back(join(p, "discoveryAddress") + ": must be HOST:PORT");
        pc["discoveryAddress"] = d;
      }
      if (auto ms = decode::durationMs(dc, "drainDuration", p, errs))
        pc["drainDuration"] = std::to_string(*ms / 1000) + "s";
      if (auto c = decode::integer(dc, "concurrency", p, errs)) {
        if (*c < 0) errs.push_back(join(p, "concurrency") + ": must be >= 0");
        pc["concurrency"] = *c;
      }
      if (auto h = decode::boolean(dc, "holdApplicationUntilProxyStarts", p, errs))
        pc["holdApplicationUntilProxyStarts"] = *h;
      if (YAML::Node md = dc["proxyMetadata"]; md && !md.IsNull()) {
        Labels m = decode::labels(dc, "proxyMetadata", p, errs);
        pc["proxyMetadata"] = nlohmann::json(m);
      }
      if (YAML::Node tr = dc["tracing"]; tr && !tr.IsNull() && decode::expectMap(tr, join(p, "tracing"), errs)) {
        decode::checkKeys(tr, join(p, "tracing"), {"sampling"}, errs);
        if (YAML::Node s = tr["sampling"]; s && !s.IsNull()) {
          try {
            double v = s.as<double>();
            if (v > 100) v = 1.0;  // Istio: a value over 100 falls back to 1%; 0 means unset
            if (v > 0) mesh.trace_sampling = v;
          } catch (const YAML::Exception&) {
            errs.push_back(join(join(p, "tracing"), "sampling") + ": must be a number");
          }
        }
      }
    }
  }
  if (auto a = decode::boolean(root, "enableAutoMtls", path, errs)) mesh.enable_auto_mtls = *a;
  for (auto [field, into] : {std::pair{"defaultServiceExportTo", &mesh.default_service_export_to},
                             std::pair{"defaultVirtualServiceExportTo", &mesh.default_virtual_service_export_to},
                             std::pair{"defaultDestinationRuleExportTo", &mesh.default_destination_rule_export_to}}) {
    if (!root[field]) continue;
    std::vector<std::string> list = decode::strings(root, field, path, errs);
    // Istio's mesh validation: ".", "*" or a namespace name (here "~" is not one either).
    for (size_t i = 0; i < list.size(); ++i)
      if (list[i] != "." && list[i] != "*" && !decode::isDnsLabel(list[i]))
        errs.push_back(idx(join(path, field), i) + ": '" + list[i] + "' is not ., * or a namespace name");
    *into = std::move(list);
  }
  if (YAML::Node dp = root["defaultProviders"]; dp && !dp.IsNull()) {
    const std::string p = join(path, "defaultProviders");
    if (decode::expectMap(dp, p, errs)) {
      decode::checkKeys(dp, p, {"metrics", "accessLogging", "tracing"}, errs);
      if (dp["metrics"]) mesh.default_metrics_providers = decode::strings(dp, "metrics", p, errs);
      if (dp["accessLogging"]) mesh.default_access_log_providers = decode::strings(dp, "accessLogging", p, errs);
      if (dp["tracing"]) mesh.default_tracing_providers = decode::strings(dp, "tracing", p, errs);
    }
  }
  if (YAML::Node ep = root["extensionProviders"]; ep && !ep.IsNull()) {
    const std::string p = join(path, "extensionProviders");
    if (!ep.IsSequence()) {
      errs.push_back(p + ": must be a list");
    } else {
      for (size_t i = 0; i < ep.size(); ++i) providerEntry(ep[i], idx(p, i), mesh, errs);
    }
  }
  auto known = [&](const std::vector<std::string>& names, const char* field) {
    for (const auto& n : names)
      if (!mesh.provider(n))
        errs.push_back(join(join(path, "defaultProviders"), field) + ": no extension provider named '" + n + "'");
  };
  known(mesh.default_metrics_providers, "metrics");
  known(mesh.default_access_log_providers, "accessLogging");
  known(mesh.default_tracing_providers, "tracing");
  return mesh;
}

const std::string& istioTextLogFormat() {
  static const std::string f =
      "[%START_TIME%] \"%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%\" %RESPONSE_CODE% "
      "%RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS% "
      "\"%UPSTREAM_TRANSPORT_FAILURE_REASON%\" %BYTES_RECEIVED% %BYTES_SENT% %DURATION% "
      "%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% \"%REQ(X-FORWARDED-FOR)%\" \"%REQ(USER-AGENT)%\" "
      "\"%REQ(X-REQUEST-ID)%\" \"%REQ(:AUTHORITY)%\" \"%UPSTREAM_HOST%\" %UPSTREAM_CLUSTER_RAW% "
      "%UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS% %REQUESTED_SERVER_NAME% "
      "%ROUTE_NAME%\n";
  return f;
}

const std::string& istioJsonLogFormat() {
  static const std::string f =
      nlohmann::json{
          {"start_time", "%START_TIME%"},
          {"route_name", "%ROUTE_NAME%"},
          {"method", "%REQ(:METHOD)%"},
          {"path", "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%"},
          {"protocol", "%PROTOCOL%"},
          {"response_code", "%RESPONSE_CODE%"},
          {"response_flags", "%RESPONSE_FLAGS%"},
          {"response_code_details", "%RESPONSE_CODE_DETAILS%"},
          {"connection_termination_details", "%CONNECTION_TERMINATION_DETAILS%"},
          {"bytes_received", "%BYTES_RECEIVED%"},
          {"bytes_sent", "%BYTES_SENT%"},
          {"duration", "%DURATION%"},
          {"upstream_service_time", "%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%"},
          {"x_forwarded_for", "%REQ(X-FORWARDED-FOR)%"},
          {"user_agent", "%REQ(USER-AGENT)%"},
          {"request_id", "%REQ(X-REQUEST-ID)%"},
          {"authority", "%REQ(:AUTHORITY)%"},
          {"upstream_host", "%UPSTREAM_HOST%"},
          {"upstream_cluster", "%UPSTREAM_CLUSTER_RAW%"},
          {"upstream_local_address", "%UPSTREAM_LOCAL_ADDRESS%"},
          {"downstream_local_address", "%DOWNSTREAM_LOCAL_ADDRESS%"},
          {"downstream_remote_address", "%DOWNSTREAM_REMOTE_ADDRESS%"},
          {"requested_server_name", "%REQUESTED_SERVER_NAME%"},
          {"upstream_transport_failure_reason", "%UPSTREAM_TRANSPORT_FAILURE_REASON%"},
      }
          .dump();
  return f;
}

}  // namespace weft::control
