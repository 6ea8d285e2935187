#pragma once
// A compiled envoy.extensions.filters.http.fault.v3.HTTPFault: the delay and abort to inject,
// their percentages (fixed, or from the x-envoy-fault-* request headers when header_delay /
// header_abort is set), and which requests qualify (upstream cluster, downstream nodes,
// header matchers). Used as the listener config and as a route's typed_per_filter_config.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "envoy/extensions/filters/http/fault/v3/fault.pb.h"
#include "proxy/http/filter.h"
#include "proxy/http/fractional_percent.h"
#include "proxy/http/matchers.h"

namespace weft::proxy::http::fault {

struct FaultConfig final : public RouteSpecificFilterConfig {
  struct Delay {
    std::optional<std::chrono::milliseconds> fixed;  // else header_delay
    Percent percent;
  };
  struct Abort {
    std::optional<int> http_status;  // neither: header_abort
    std::optional<int> grpc_status;
    bool from_headers = false;
    Percent percent;
  };
  std::optional<Delay> delay;
  std::optional<Abort> abort;
  std::string upstream_cluster;               // empty: any
  std::vector<std::string> downstream_nodes;  // empty: any
  std::vector<HeaderMatcher> headers;         // all must match
  std::optional<uint32_t> max_active_faults;  // unset: no limit
  // Runtime keys that override the configured values (Envoy's defaults unless configured).
  std::string delay_duration_runtime = "fault.http.delay.fixed_duration_ms";
  std::string abort_http_status_runtime = "fault.http.abort.http_status";
  std::string abort_grpc_status_runtime = "fault.http.abort.grpc_status";
  std::string max_active_faults_runtime = "fault.http.max_active_faults";

  // Throws ConfigError naming `path`.
  static std::shared_ptr<const FaultConfig> compile(const envoy::extensions::filters::http::fault::v3::HTTPFault& proto,
                                                    const std::string& path);
};

}  // namespace weft::proxy::http::fault
