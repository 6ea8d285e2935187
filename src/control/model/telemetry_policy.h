#pragma once
// What the Telemetry API (plus the mesh config) asks of one workload's sidecar, merged as
// istiod merges it (pilot/pkg/model/telemetry.go): the root namespace's namespace-wide
// Telemetry, then the workload namespace's, then those selecting the workload, later ones
// overriding earlier ones. `server`: the inbound side (SERVER mode), else outbound (CLIENT).
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "control/config/kinds.h"
#include "control/model/mesh_config.h"

namespace weft::control {

// The access log providers in force, by name (sorted); nullopt when no Telemetry speaks of
// access logging and the mesh has no default provider: then meshConfig.accessLogFile applies.
// `filters`, when given, gets each provider's CEL filter (Istio's: the last entry naming it).
std::optional<std::vector<std::string>> telemetryAccessLogProviders(
    const std::vector<Telemetry>& all, const MeshConfig& mesh, const std::string& ns, const Labels& labels, bool server,
    std::map<std::string, std::string>* filters = nullptr);

// The prometheus provider's metrics: whether the stats filter runs at all, and per metric
// (Istio's Prometheus name without "istio_", sorted) what is dropped or removed.
struct MetricsPolicy {
  bool enabled = false;
  struct Override {
    std::string name;
    bool drop = false;
    std::vector<std::string> remove_tags;           // sorted
    std::map<std::string, std::string> dimensions;  // tag -> CEL (tagOverrides UPSERT)
  };
  std::vector<Override> overrides;
  std::optional<int64_t> reporting_interval_ms;  // the last reportingInterval for prometheus
};
MetricsPolicy telemetryMetrics(const std::vector<Telemetry>& all, const MeshConfig& mesh, const std::string& ns,
                               const Labels& labels, bool server);

// The tracing of the proxy's side, as istiod's Telemetries.Tracing merges it: nullopt when no
// Telemetry speaks of tracing and the mesh has no default tracing provider (then
// meshConfig.enableTracing decides, with no provider).
struct TracingPolicy {
  const ExtensionProvider* provider = nullptr;  // null: disabled
  bool disabled = false;                        // disableSpanReporting, or no provider
  std::optional<double> sampling;               // randomSamplingPercentage
  std::vector<TelemetryCustomTag> custom_tags;
};
std::optional<TracingPolicy> telemetryTracing(const std::vector<Telemetry>& all, const MeshConfig& mesh,
                                              const std::string& ns, const Labels& labels, bool server);

}  // namespace weft::control
