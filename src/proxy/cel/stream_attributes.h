#pragma once
// Envoy's request attributes (envoy/docs "Attributes") for CEL expressions, read from a
// finished stream or TCP session: request.{path, url_path, query, host, scheme, method,
// headers[k], referer, useragent, id, protocol, time, duration, size}, response.{code,
// code_details, grpc_status, headers[k], size}, source/destination/upstream.{address, port},
// connection.{mtls, requested_server_name}, xds.{cluster_name, route_name}, and Istio's
// upstream_peer / downstream_peer.{name, namespace, cluster, service, revision, app, version,
// workload}. Header values an expression reads are captured while the headers are there, into
// the same CaptureList the access log formats use.
#include <optional>
#include <string>
#include <vector>

#include "common/cel/program.h"
#include "proxy/access_log/formatter.h"
#include "proxy/stream_info.h"

namespace weft::proxy {

class StreamAttributes final : public weft::cel::Binder {
 public:
  explicit StreamAttributes(access_log::CaptureList& capture) : capture_(capture) {}
  std::optional<Bound> bind(std::string_view root, const std::vector<std::string>& path, std::string& error) override;

 private:
  int captureRequest(const std::string& name);
  int captureResponse(const std::string& name);
  access_log::CaptureList& capture_;
};

// Compiles `text` for a stream; throws ConfigError naming `path`.
std::shared_ptr<const weft::cel::Program> compileStreamExpression(const std::string& text, const std::string& path,
                                                                  access_log::CaptureList& capture);

class StreamActivation final : public weft::cel::Activation {
 public:
  // `request` / `response`: the values captured for the CaptureList the expression was
  // compiled with; `grpc_status` < 0 when the stream has none.
  StreamActivation(const StreamInfo& info, const std::vector<StreamInfo::Captured>& request,
                   const std::vector<StreamInfo::Captured>& response, int grpc_status = -1)
      : info_(info), request_(request), response_(response), grpc_status_(grpc_status) {}
  explicit StreamActivation(const StreamInfo& info)
      : StreamActivation(info, info.request_headers, info.response_headers) {}
  weft::cel::Value attribute(int id, std::string_view key) const override;

 private:
  const StreamInfo& info_;
  const std::vector<StreamInfo::Captured>& request_;
  const std::vector<StreamInfo::Captured>& response_;
  int grpc_status_;
};

// CEL's value as a metric label or log field: strings as they are, other values as string()
// writes them; an error (an absent header ...) is "unknown", as Istio's stats filter writes it.
std::string celLabelValue(const weft::cel::Value& v);

}  // namespace weft::proxy
