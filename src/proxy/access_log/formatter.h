#pragma once
// Envoy's access-log text format (%START_TIME%, %REQ(X?Y):N%, %RESPONSE_CODE%, ...), parsed
// once into segments. Unknown operators are config errors.
#include <string>
#include <vector>

#include "proxy/stream_info.h"

namespace weft::proxy::access_log {

// Header names (lower case) whose values a set of formatters print; StreamInfo's
// request_headers/response_headers hold the captured values in this order. Formatters of
// one listener share one CaptureList so each header is captured once.
struct CaptureList {
  std::vector<std::string> request;
  std::vector<std::string> response;
};

class Formatter {
 public:
  // Envoy's default format.
  static const char* defaultFormat();
  // Throws ConfigError naming `path` for an unknown or malformed operator.
  Formatter(const std::string& format, const std::string& path, CaptureList& capture);

  void format(const StreamInfo& info, std::string& out) const;
  // The format is one operator whose value is a number (%RESPONSE_CODE%, %DURATION% ...):
  // a JSON format prints it as a number, as Envoy does.
  bool numeric() const;

 private:
  enum class Op {
    Literal,
    StartTime,
    Req,
    Resp,
    ResponseCode,
    ResponseFlags,
    ResponseCodeDetails,
    Duration,
    ResponseDuration,
    BytesReceived,
    BytesSent,
    Protocol,
    UpstreamHost,
    UpstreamCluster,
    UpstreamLocal,
    UpstreamLocalNoPort,
    ConnectionTerminationDetails,
    DownstreamRemote,
    DownstreamRemoteNoPort,
    DownstreamLocal,
    DownstreamLocalNoPort,
    RouteName,
    RequestedServerName,
    UpstreamTransportFailure,
    Hostname,
    LocalReplyBody
  };
  struct Segment {
    Op op;
    std::string text;    // literal text, or START_TIME's strftime format
    int header = -1;     // index in the CaptureList
    int fallback = -1;   // the Y of X?Y
    size_t max_len = 0;  // the :N suffix, 0 = unlimited
  };
  static int headerIndex(std::vector<std::string>& list, std::string name);

  std::vector<Segment> segments_;
};

}  // namespace weft::proxy::access_log
