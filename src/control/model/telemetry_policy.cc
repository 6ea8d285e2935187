#include "control/model/telemetry_policy.h"

#include <algorithm>
#include <map>
#include <set>

#include "common/labels.h"

namespace weft::control {

namespace {

// The namespace-wide Telemetry of `ns` (the first by name, as there should be one), then the
// workload's own.
std::vector<const Telemetry*> applicable(const std::vector<Telemetry>& all, const std::string& root_ns,
                                         const std::string& ns, const Labels& labels) {
  auto wide = [&](const std::string& in) -> const Telemetry* {
    const Telemetry* best = nullptr;
    for (const auto& t : all)
      if (t.meta.ns == in && t.selector.empty() && (!best || t.meta.name < best->meta.name)) best = &t;
    return best;
  };
  std::vector<const Telemetry*> out;
  if (const Telemetry* t = wide(root_ns)) out.push_back(t);
  if (ns != root_ns)
    if (const Telemetry* t = wide(ns)) out.push_back(t);
  std::vector<const Telemetry*> selected;
  for (const auto& t : all)
    if (t.meta.ns == ns && !t.selector.empty() && selectorMatches(t.selector, labels)) selected.push_back(&t);
  std::sort(selected.begin(), selected.end(),
            [](const Telemetry* a, const Telemetry* b) { return a->meta.name < b->meta.name; });
  out.insert(out.end(), selected.begin(), selected.end());
  return out;
}

bool appliesTo(WorkloadMode m, bool server) {
  return m == WorkloadMode::ClientAndServer || (m == WorkloadMode::Server) == server;
}

const std::map<std::string, std::string>& prometheusNames() {
  static const std::map<std::string, std::string> names = {
      {"REQUEST_COUNT", "requests_total"},
      {"REQUEST_DURATION", "request_duration_milliseconds"},
      {"REQUEST_SIZE", "request_bytes"},
      {"RESPONSE_SIZE", "response_bytes"},
      {"TCP_OPENED_CONNECTIONS", "tcp_connections_opened_total"},
      {"TCP_CLOSED_CONNECTIONS", "tcp_connections_closed_total"},
      {"TCP_SENT_BYTES", "tcp_sent_bytes_total"},
      {"TCP_RECEIVED_BYTES", "tcp_received_bytes_total"},
      {"GRPC_REQUEST_MESSAGES", "request_messages_total"},
      {"GRPC_RESPONSE_MESSAGES", "response_messages_total"},
  };
  return names;
}

}  // namespace

std::optional<std::vector<std::string>> telemetryAccessLogProviders(const std::vector<Telemetry>& all,
                                                                    const MeshConfig& mesh, const std::string& ns,
                                                                    const Labels& labels, bool server,
                                                                    std::map<std::string, std::string>* filters) {
  std::vector<const Telemetry*> logs;
  for (const Telemetry* t : applicable(all, mesh.root_namespace, ns, labels))
    if (!t->access_logging.empty()) logs.push_back(t);
  const auto& defaults = mesh.default_access_log_providers;
  if (logs.empty() && defaults.empty()) return std::nullopt;
  std::map<std::string, bool> enabled;  // provider -> on
  if (logs.empty()) {
    for (const auto& p : defaults) enabled[p] = true;
  } else {
    // Istio's mergeLogs: the providers in scope are the last level's that names any; each entry
    // then turns its providers (or its parent's) on or off, in order.
    std::vector<std::string> in_scope = defaults;
    std::map<std::string, std::string> filter_of;  // set by entries that name providers
    for (const Telemetry* t : logs) {
      std::set<std::string> names;
      for (const auto& a : t->access_logging) {
        if (!appliesTo(a.mode, server)) continue;
        names.insert(a.providers.begin(), a.providers.end());
        for (const auto& p : a.providers) filter_of[p] = a.filter;
      }
      if (!names.empty()) in_scope.assign(names.begin(), names.end());
    }
    std::vector<std::string> parent = defaults;
    for (const Telemetry* t : logs) {
      for (const auto& a : t->access_logging) {
        std::vector<std::string> names = a.providers.empty() ? parent : a.providers;
        parent = names;
        if (!appliesTo(a.mode, server)) continue;
        for (const auto& p : names) {
          if (std::find(in_scope.begin(), in_scope.end(), p) == in_scope.end()) continue;
          enabled[p] = !a.disabled.value_or(false);
          if (filters) (*filters)[p] = enabled[p] ? filter_of[p] : std::string();
        }
      }
    }
  }
  std::vector<std::string> out;
  for (const auto& [name, on] : enabled)
    if (on) out.push_back(name);
  return out;
}

MetricsPolicy telemetryMetrics(const std::vector<Telemetry>& all, const MeshConfig& mesh, const std::string& ns,
                               const Labels& labels, bool server) {
  std::vector<const TelemetryMetrics*> metrics;
  for (const Telemetry* t : applicable(all, mesh.root_namespace, ns, labels))
    for (const auto& m : t->metrics) metrics.push_back(&m);
  // Istio's mergeMetrics for the prometheus provider (the only metrics provider weftd has).
  std::vector<std::string> in_scope = mesh.default_metrics_providers;
  for (const auto* m : metrics)
    if (!m->providers.empty()) in_scope = m->providers;
  const bool prometheus = std::find(in_scope.begin(), in_scope.end(), "prometheus") != in_scope.end();
  MetricsPolicy out;
  if (!prometheus) return out;
  struct State {
    std::optional<bool> disabled;
    std::map<std::string, std::optional<std::string>> tags;  // tag -> CEL value; nullopt: removed
  };
  std::map<std::string, State> per_metric;
  bool all_disabled = false;
  std::vector<std::string> parent = mesh.default_metrics_providers;
  for (const auto* m : metrics) {
    std::vector<std::string> names = m->providers.empty() ? parent : m->providers;
    parent = names;
    if (std::find(names.begin(), names.end(), "prometheus") == names.end()) continue;
    if (m->reporting_interval_ms) out.reporting_interval_ms = m->reporting_interval_ms;
    for (const auto& o : m->overrides) {
      if (!appliesTo(o.mode, server)) continue;
      if (o.all_metrics && o.disabled.value_or(false)) {
        all_disabled = true;
        continue;
      }
      all_disabled = false;
      for (const auto& metric : o.metrics) {
        State& s = per_metric[metric];
        if (o.disabled) s.disabled = o.disabled;
        for (const auto& tag : o.remove_tags) s.tags[tag] = std::nullopt;
        for (const auto& [tag, value] : o.upsert_tags) s.tags[tag] = value;
      }
    }
  }
  if (all_disabled) return out;
  out.enabled = true;
  for (const auto& [metric, state] : per_metric) {
    MetricsPolicy::Override o;
    o.name = prometheusNames().at(metric);
    o.drop = state.disabled.value_or(false);
    for (const auto& [tag, value] : state.tags) {
      if (value) {
        o.dimensions[tag] = *value;
      } else {
        o.remove_tags.push_back(tag);
      }
    }
    out.overrides.push_back(std::move(o));
  }
  std::sort(out.overrides.begin(), out.overrides.end(),
            [](const MetricsPolicy::Override& a, const MetricsPolicy::Override& b) { return a.name < b.name; });
  return out;
}

std::optional<TracingPolicy> telemetryTracing(const std::vector<Telemetry>& all, const MeshConfig& mesh,
                                              const std::string& ns, const Labels& labels, bool server) {
  std::vector<const TelemetryTracing*> specs;
  for (const Telemetry* t : applicable(all, mesh.root_namespace, ns, labels))
    for (const auto& tr : t->tracing) specs.push_back(&tr);
  const auto& defaults = mesh.default_tracing_providers;
  if (specs.empty() && defaults.empty()) return std::nullopt;
  TracingPolicy out;
  // Istio uses the first provider of a list, by default or by a Telemetry.
  if (!defaults.empty()) out.provider = mesh.provider(defaults.front());
  for (const auto* s : specs) {
    if (!appliesTo(s->mode, server)) continue;
    if (!s->providers.empty()) out.provider = mesh.provider(s->providers.front());
    if (s->disable_span_reporting) out.disabled = *s->disable_span_reporting;
    if (!s->custom_tags.empty()) out.custom_tags = s->custom_tags;
    if (s->random_sampling_percentage) out.sampling = s->random_sampling_percentage;
  }
  if (out.provider == nullptr) out.disabled = true;
  return out;
}

}  // namespace weft::control
