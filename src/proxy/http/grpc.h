#pragma once
// gRPC over HTTP/2 as a proxy sees it: which requests are gRPC, the grpc-timeout header, and
// the grpc-status a proxy-generated error carries (Envoy's mapping).
#include <chrono>
#include <optional>
#include <string_view>

#include "proxy/http/headers.h"

namespace weft::proxy::http::grpc {

inline bool isGrpc(const RequestHead& req) {
  const std::string_view* ct = req.find("content-type");
  return ct && ct->size() >= 16 && equalsIgnoreCase(ct->substr(0, 16), "application/grpc");
}

// "100m", "2S", "1H" ...: 1-8 digits and a unit (H M S m u n). Null when malformed.
std::optional<std::chrono::milliseconds> parseTimeout(std::string_view v);

// Envoy's Grpc::Utility::httpToGrpcStatus.
int statusForHttp(int http_status);

// Envoy's Grpc::Utility::grpcToHttpStatus (outlier detection counts gRPC results as these).
int httpForStatus(int grpc_status);
// A grpc-status value, or -1 when it is not one.
int parseStatus(std::string_view v);

// grpc-status name for stats ("0" ... "16").
std::string_view statusName(int status);

constexpr int kDeadlineExceeded = 4;
constexpr int kUnavailable = 14;

}  // namespace weft::proxy::http::grpc
