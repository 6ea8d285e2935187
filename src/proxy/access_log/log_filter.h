#pragma once
// Envoy's AccessLog.filter: which finished streams a logger writes. status_code_filter,
// duration_filter (comparisons with their default_value), response_flag_filter,
// not_health_check_filter (weft-proxy answers no health checks itself, so it passes), and_filter,
// or_filter, and the CEL extension filter Istio sends for a Telemetry's accessLogging filter
// (envoy.access_loggers.extension_filters.cel: logs when the expression is true; an error or a
// non-bool result does not log, as Envoy). Other filters are config errors.
#include <memory>
#include <string>

#include "envoy/config/accesslog/v3/accesslog.pb.h"
#include "proxy/access_log/formatter.h"
#include "proxy/stream_info.h"

namespace weft::proxy::access_log {

class LogFilter {
 public:
  virtual ~LogFilter() = default;
  virtual bool accepts(const StreamInfo& info) const = 0;
};

// Throws ConfigError naming `path`. Header values a CEL expression reads join `capture`.
std::shared_ptr<const LogFilter> compileLogFilter(const envoy::config::accesslog::v3::AccessLogFilter& f,
                                                  const std::string& path, CaptureList& capture);

}  // namespace weft::proxy::access_log
