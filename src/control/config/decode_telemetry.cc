// telemetry.istio.io Telemetry, validated as Istio's ValidateTelemetry; the parts weftd cannot
// carry out (custom metrics) are refused by name. CEL (tag values, log filters) is checked for
// syntax here; Istio leaves that to the proxy, which would reject the whole listener.
#include "common/cel/program.h"
#include "control/config/decode_util.h"
#include "control/config/decoders.h"

namespace weft::control::decode {

namespace {

const char* const kIstioMetrics[] = {"GRPC_REQUEST_MESSAGES",  "GRPC_RESPONSE_MESSAGES", "REQUEST_COUNT",
                                     "REQUEST_DURATION",       "REQUEST_SIZE",           "RESPONSE_SIZE",
                                     "TCP_CLOSED_CONNECTIONS", "TCP_OPENED_CONNECTIONS", "TCP_RECEIVED_BYTES",
                                     "TCP_SENT_BYTES"};

WorkloadMode mode(const YAML::Node& match, const std::string& path, Errors& errs) {
  std::string m = str(match, "mode", path, errs);
  if (m.empty() || m == "CLIENT_AND_SERVER") return WorkloadMode::ClientAndServer;
  if (m == "CLIENT") return WorkloadMode::Client;
  if (m == "SERVER") return WorkloadMode::Server;
  errs.push_back(join(path, "mode") + ": '" + m + "' is not one of CLIENT_AND_SERVER, CLIENT, SERVER");
  return WorkloadMode::ClientAndServer;
}

std::vector<std::string> providers(const YAML::Node& n, const std::string& path, Errors& errs) {
  std::vector<std::string> out;
  YAML::Node list = n["providers"];
  if (!list || list.IsNull()) return out;
  const std::string p = join(path, "providers");
  if (!list.IsSequence()) {
    errs.push_back(p + ": must be a list of {name}");
    return out;
  }
  for (size_t i = 0; i < list.size(); ++i) {
    if (!expectMap(list[i], idx(p, i), errs)) continue;
    checkKeys(list[i], idx(p, i), {"name"}, errs);
    std::string name = str(list[i], "name", idx(p, i), errs);
    if (name.empty()) errs.push_back(idx(p, i) + ".name: providers.name may not be empty");
    out.push_back(name);
  }
  return out;
}

// A syntax check of a CEL expression (the proxy resolves its attributes): any name is taken for
// an attribute here, so what is refused is malformed text or an unknown function.
class AnyAttribute final : public cel::Binder {
 public:
  std::optional<Bound> bind(std::string_view, const std::vector<std::string>& path, std::string&) override {
    return Bound{0, path.size(), "", false};
  }
};

bool checkCel(const std::string& text, const std::string& path, Errors& errs) {
  if (text.empty()) return true;
  AnyAttribute any;
  try {
    cel::Program::compile(text, any);
    return true;
  } catch (const cel::CompileError& e) {
    errs.push_back(path + ": invalid CEL expression: " + e.what());
    return false;
  }
}

TelemetryAccessLogging accessLogging(const YAML::Node& n, const std::string& path, Errors& errs) {
  TelemetryAccessLogging a;
  if (!expectMap(n, path, errs)) return a;
  checkKeys(n, path, {"match", "providers", "disabled", "filter"}, errs);
  if (YAML::Node m = n["match"]; m && !m.IsNull() && expectMap(m, join(path, "match"), errs)) {
    checkKeys(m, join(path, "match"), {"mode"}, errs);
    a.mode = mode(m, join(path, "match"), errs);
  }
  a.providers = providers(n, path, errs);
  a.disabled = boolean(n, "disabled", path, errs);
  if (YAML::Node f = n["filter"]; f && !f.IsNull() && expectMap(f, join(path, "filter"), errs)) {
    const std::string fp = join(path, "filter");
    checkKeys(f, fp, {"expression"}, errs);
    a.filter = str(f, "expression", fp, errs);
    checkCel(a.filter, join(fp, "expression"), errs);
  }
  return a;
}

TelemetryMetricOverride metricOverride(const YAML::Node& n, const std::string& path, Errors& errs) {
  TelemetryMetricOverride o;
  if (!expectMap(n, path, errs)) return o;
  checkKeys(n, path, {"match", "disabled", "tagOverrides"}, errs);
  o.all_metrics = true;
  if (YAML::Node m = n["match"]; m && !m.IsNull() && expectMap(m, join(path, "match"), errs)) {
    const std::string mp = join(path, "match");
    checkKeys(m, mp, {"metric", "customMetric", "mode"}, errs);
    o.mode = mode(m, mp, errs);
    if (m["customMetric"]) {
      if (str(m, "customMetric", mp, errs).empty())
        errs.push_back(join(mp, "customMetric") + ": customMetric may not be empty");
      errs.push_back(join(mp, "customMetric") + ": custom metrics are not supported by weftd");
    } else if (std::string metric = str(m, "metric", mp, errs); !metric.empty() && metric != "ALL_METRICS") {
      bool known = false;
      for (const char* k : kIstioMetrics) known |= metric == k;
      if (!known) {
        errs.push_back(join(mp, "metric") + ": '" + metric + "' is not one of Istio's metrics");
      } else {
        o.all_metrics = false;
        o.metrics.push_back(metric);
      }
    }
  }
  if (o.all_metrics) o.metrics.assign(std::begin(kIstioMetrics), std::end(kIstioMetrics));
  o.disabled = boolean(n, "disabled", path, errs);
  if (YAML::Node tags = n["tagOverrides"]; tags && !tags.IsNull()) {
    const std::string tp = join(path, "tagOverrides");
    if (!tags.IsMap()) {
      errs.push_back(tp + ": must be a map of tag name to {operation, value}");
      return o;
    }
    for (const auto& kv : tags) {
      std::string name = kv.first.as<std::string>();
      const std::string p = tp + "[" + name + "]";
      if (!expectMap(kv.second, p, errs)) continue;
      checkKeys(kv.second, p, {"operation", "value"}, errs);
      std::string op = str(kv.second, "operation", p, errs);
      std::string value = str(kv.second, "value", p, errs);
      if (op.empty() || op == "UPSERT") {
        if (value.empty()) {
          errs.push_back(p + ": tagOverrides.value must be set when operation is UPSERT");
        } else if (checkCel(value, join(p, "value"), errs)) {
          o.upsert_tags[name] = value;
        }
      } else if (op == "REMOVE") {
        if (!value.empty()) errs.push_back(p + ": tagOverrides.value may only be set when operation is UPSERT");
        o.remove_tags.push_back(name);
      } else {
        errs.push_back(join(p, "operation") + ": '" + op + "' is not one of UPSERT, REMOVE");
      }
    }
  }
  return o;
}

TelemetryTracing tracing(const YAML::Node& n, const std::string& path, Errors& errs) {
  TelemetryTracing t;
  if (!expectMap(n, path, errs)) return t;
  checkKeys(n, path,
            {"match", "providers", "randomSamplingPercentage", "disableSpanReporting", "customTags",
             "useRequestIdForTraceSampling"},
            errs);
  if (YAML::Node m = n["match"]; m && !m.IsNull() && expectMap(m, join(path, "match"), errs)) {
    checkKeys(m, join(path, "match"), {"mode"}, errs);
    t.mode = mode(m, join(path, "match"), errs);
  }
  t.providers = providers(n, path, errs);
  if (YAML::Node p = n["randomSamplingPercentage"]; p && !p.IsNull()) {
    try {
      t.random_sampling_percentage = p.as<double>();
    } catch (const YAML::Exception&) {
      errs.push_back(join(path, "randomSamplingPercentage") + ": must be a number");
    }
    if (t.random_sampling_percentage && (*t.random_sampling_percentage < 0 || *t.random_sampling_percentage > 100))
      errs.push_back(join(path, "randomSamplingPercentage") +
                     ": randomSamplingPercentage must be in range [0.0, 100.0]");
  }
  t.disable_span_reporting = boolean(n, "disableSpanReporting", path, errs);
  if (auto r = boolean(n, "useRequestIdForTraceSampling", path, errs); r && !*r)
    errs.push_back(join(path, "useRequestIdForTraceSampling") +
                   ": false is not supported by weftd (the sampling decision always follows x-request-id)");
  if (YAML::Node tags = n["customTags"]; tags && !tags.IsNull()) {
    const std::string tp = join(path, "customTags");
    if (!tags.IsMap()) {
      errs.push_back(tp + ": must be a map of tag name to {literal | environment | header}");
      return t;
    }
    for (const auto& kv : tags) {
      TelemetryCustomTag tag;
      tag.name = kv.first.as<std::string>();
      const std::string p = tp + "[" + tag.name + "]";
      if (tag.name.empty()) errs.push_back(p + ": tag name may not be empty");
      if (!expectMap(kv.second, p, errs)) continue;
      checkKeys(kv.second, p, {"literal", "environment", "header"}, errs);
      if (kv.second.size() != 1) {
        errs.push_back(p + ": exactly one of literal, environment, header is required");
        continue;
      }
      if (YAML::Node l = kv.second["literal"]) {
        checkKeys(l, join(p, "literal"), {"value"}, errs);
        tag.value = str(l, "value", join(p, "literal"), errs);
        if (tag.value.empty()) errs.push_back(join(p, "literal") + ": literal tag value may not be empty");
      } else {
        bool env = static_cast<bool>(kv.second["environment"]);
        tag.kind = env ? TelemetryCustomTag::Kind::Environment : TelemetryCustomTag::Kind::Header;
        const std::string kp = join(p, env ? "environment" : "header");
        YAML::Node k = kv.second[env ? "environment" : "header"];
        checkKeys(k, kp, {"name", "defaultValue"}, errs);
        tag.value = str(k, "name", kp, errs);
        tag.default_value = str(k, "defaultValue", kp, errs);
        if (tag.value.empty())
          errs.push_back(kp + (env ? ": environment tag name may not be empty" : ": header tag name may not be empty"));
      }
      t.custom_tags.push_back(std::move(tag));
    }
  }
  return t;
}

TelemetryMetrics metrics(const YAML::Node& n, const std::string& path, Errors& errs) {
  TelemetryMetrics m;
  if (!expectMap(n, path, errs)) return m;
  checkKeys(n, path, {"providers", "overrides", "reportingInterval"}, errs);
  m.providers = providers(n, path, errs);
  m.reporting_interval_ms = durationMs(n, "reportingInterval", path, errs);
  if (m.reporting_interval_ms && *m.reporting_interval_ms < 1)
    errs.push_back(join(path, "reportingInterval") + ": must be at least 1ms");
  if (YAML::Node list = n["overrides"]; list && !list.IsNull()) {
    if (!list.IsSequence()) {
      errs.push_back(join(path, "overrides") + ": must be a list");
    } else {
      for (size_t i = 0; i < list.size(); ++i)
        m.overrides.push_back(metricOverride(list[i], idx(join(path, "overrides"), i), errs));
    }
  }
  return m;
}

}  // namespace

Telemetry decodeTelemetry(const YAML::Node& doc, Errors& errs) {
  Telemetry t;
  t.meta = meta(doc, errs);
  YAML::Node spec = doc["spec"];
  if (!spec || spec.IsNull()) return t;
  if (!expectMap(spec, "spec", errs)) return t;
  checkKeys(spec, "spec", {"selector", "targetRef", "targetRefs", "tracing", "metrics", "accessLogging"}, errs);
  t.selector = workloadSelector(spec, errs, t.warnings);
  policyTargetRefs(spec, errs);
  auto each = [&](const char* key, auto&& one) {
    YAML::Node list = spec[key];
    if (!list || list.IsNull()) return;
    const std::string p = std::string("spec.") + key;
    if (!list.IsSequence()) {
      errs.push_back(p + ": must be a list");
      return;
    }
    for (size_t i = 0; i < list.size(); ++i) one(list[i], idx(p, i));
  };
  each("accessLogging",
       [&](const YAML::Node& n, const std::string& p) { t.access_logging.push_back(accessLogging(n, p, errs)); });
  each("metrics", [&](const YAML::Node& n, const std::string& p) { t.metrics.push_back(metrics(n, p, errs)); });
  each("tracing", [&](const YAML::Node& n, const std::string& p) { t.tracing.push_back(tracing(n, p, errs)); });
  // Istio's validateTelemetryTracing warnings.
  if (t.tracing.size() > 1) t.warnings.push_back("spec.tracing: multiple tracing is not currently supported");
  for (size_t i = 0; i < t.tracing.size(); ++i)
    if (t.tracing[i].providers.size() > 1)
      t.warnings.push_back(idx("spec.tracing", i) + ".providers: multiple providers is not currently supported");
  return t;
}

}  // namespace weft::control::decode
