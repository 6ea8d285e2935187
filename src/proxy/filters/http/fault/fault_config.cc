#include "proxy/filters/http/fault/fault_config.h"

#include "common/config/error.h"
#include "common/strings.h"

namespace weft::proxy::http::fault {

namespace faultv3 = envoy::extensions::filters::http::fault::v3;

std::shared_ptr<const FaultConfig> FaultConfig::compile(const faultv3::HTTPFault& proto, const std::string& path) {
  auto c = std::make_shared<FaultConfig>();
  if (proto.has_delay()) {
    const auto& d = proto.delay();
    Delay delay;
    if (d.has_fixed_delay()) {
      delay.fixed = weft::toMillis(d.fixed_delay());
    } else if (!d.has_header_delay()) {
      throw ConfigError(path + ".delay: one of fixed_delay or header_delay is required");
    }
    delay.percent = Percent::of(d.percentage());
    delay.percent.runtime_key =
        proto.delay_percent_runtime().empty() ? "fault.http.delay.fixed_delay_percent" : proto.delay_percent_runtime();
    c->delay = delay;
  }
  if (proto.has_abort()) {
    const auto& a = proto.abort();
    Abort abort;
    switch (a.error_type_case()) {
      case faultv3::FaultAbort::kHttpStatus:
        if (a.http_status() < 200 || a.http_status() >= 600) {
          throw ConfigError(path + ".abort.http_status: must be in [200, 600), got " + std::to_string(a.http_status()));
        }
        abort.http_status = static_cast<int>(a.http_status());
        break;
      case faultv3::FaultAbort::kGrpcStatus:
        abort.grpc_status = static_cast<int>(a.grpc_status());
        break;
      case faultv3::FaultAbort::kHeaderAbort:
        abort.from_headers = true;
        break;
      default:
        throw ConfigError(path + ".abort: one of http_status, grpc_status or header_abort is required");
    }
    abort.percent = Percent::of(a.percentage());
    abort.percent.runtime_key =
        proto.abort_percent_runtime().empty() ? "fault.http.abort.abort_percent" : proto.abort_percent_runtime();
    c->abort = abort;
  }
  c->upstream_cluster = proto.upstream_cluster();
  for (const auto& n : proto.downstream_nodes()) c->downstream_nodes.push_back(n);
  for (int i = 0; i < proto.headers_size(); ++i) {
    c->headers.push_back(HeaderMatcher::compile(proto.headers(i), path + ".headers[" + std::to_string(i) + "]"));
  }
  if (proto.has_max_active_faults()) c->max_active_faults = proto.max_active_faults().value();
  auto key = [](const std::string& configured, std::string& into) {
    if (!configured.empty()) into = configured;
  };
  key(proto.delay_duration_runtime(), c->delay_duration_runtime);
  key(proto.abort_http_status_runtime(), c->abort_http_status_runtime);
  key(proto.abort_grpc_status_runtime(), c->abort_grpc_status_runtime);
  key(proto.max_active_faults_runtime(), c->max_active_faults_runtime);
  return c;
}

}  // namespace weft::proxy::http::fault
