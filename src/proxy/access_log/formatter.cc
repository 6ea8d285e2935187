#include "proxy/access_log/formatter.h"

#include <unistd.h>

#include <ctime>

#include "common/config/error.h"
#include "common/net/connection.h"
#include "common/strings.h"

namespace weft::proxy::access_log {

namespace {

void appendTruncated(std::string& out, std::string_view v, size_t max_len) {
  if (max_len != 0 && v.size() > max_len) v = v.substr(0, max_len);
  out.append(v);
}

// strftime, plus Envoy's %E3S/%E6S/%E9S (seconds with decimals) and %f (microseconds).
void formatTime(std::chrono::system_clock::time_point tp, const std::string& fmt, std::string& out) {
  using namespace std::chrono;
  auto since = tp.time_since_epoch();
  time_t secs = duration_cast<seconds>(since).count();
  auto nanos = duration_cast<nanoseconds>(since).count() % 1000000000;
  tm t{};
  gmtime_r(&secs, &t);
  std::string expanded;
  for (size_t i = 0; i < fmt.size(); ++i) {
    if (fmt[i] == '%' && i + 3 < fmt.size() && fmt[i + 1] == 'E' && fmt[i + 3] == 'S' && fmt[i + 2] >= '1' &&
        fmt[i + 2] <= '9') {
      int digits = fmt[i + 2] - '0';
      char buf[32];
      snprintf(buf, sizeof(buf), "%02d.%09lld", t.tm_sec, static_cast<long long>(nanos));
      expanded.append(buf, 3 + static_cast<size_t>(digits));
      i += 3;
    } else if (fmt[i] == '%' && i + 1 < fmt.size() &&
               (fmt[i + 1] == 'f' ||
                (i + 2 < fmt.size() && fmt[i + 1] >= '1' && fmt[i + 1] <= '9' && fmt[i + 2] == 'f'))) {
      // %f: nanoseconds (9 digits); %Nf: the first N digits.
      bool sized = fmt[i + 1] != 'f';
      size_t digits = sized ? static_cast<size_t>(fmt[i + 1] - '0') : 9;
      char buf[16];
      snprintf(buf, sizeof(buf), "%09lld", static_cast<long long>(nanos));
      expanded.append(buf, digits);
      i += sized ? 2 : 1;
    } else {
      expanded += fmt[i];
    }
  }
  char buf[256];
  size_t n = strftime(buf, sizeof(buf), expanded.c_str(), &t);
  out.append(buf, n);
}

}  // namespace

const char* Formatter::defaultFormat() {
  return "[%START_TIME%] \"%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%\" %RESPONSE_CODE% "
         "%RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "
         "\"%REQ(X-FORWARDED-FOR)%\" \"%REQ(USER-AGENT)%\" \"%REQ(X-REQUEST-ID)%\" \"%REQ(:AUTHORITY)%\" "
         "\"%UPSTREAM_HOST%\"\n";
}

int Formatter::headerIndex(std::vector<std::string>& list, std::string name) {
  name = toLower(std::move(name));
  for (size_t i = 0; i < list.size(); ++i) {
    if (list[i] == name) return static_cast<int>(i);
  }
  list.push_back(name);
  return static_cast<int>(list.size() - 1);
}

Formatter::Formatter(const std::string& format, const std::string& path, CaptureList& capture) {
  static const std::pair<const char*, Op> kSimple[] = {
      {"RESPONSE_CODE", Op::ResponseCode},
      {"LOCAL_REPLY_BODY", Op::LocalReplyBody},
      {"RESPONSE_FLAGS", Op::ResponseFlags},
      {"RESPONSE_CODE_DETAILS", Op::ResponseCodeDetails},
      {"DURATION", Op::Duration},
      {"RESPONSE_DURATION", Op::ResponseDuration},
      {"BYTES_RECEIVED", Op::BytesReceived},
      {"BYTES_SENT", Op::BytesSent},
      {"PROTOCOL", Op::Protocol},
      {"UPSTREAM_HOST", Op::UpstreamHost},
      {"UPSTREAM_CLUSTER", Op::UpstreamCluster},
      // Weft has no alt_stat_name: the raw name is the name.
      {"UPSTREAM_CLUSTER_RAW", Op::UpstreamCluster},
      {"UPSTREAM_LOCAL_ADDRESS", Op::UpstreamLocal},
      {"UPSTREAM_LOCAL_ADDRESS_WITHOUT_PORT", Op::UpstreamLocalNoPort},
      // Set in Envoy by connection-level filters that close a connection they then log (RBAC,
      // ext_authz); weft-proxy logs no connection such a filter closed, so it is always "-".
      {"CONNECTION_TERMINATION_DETAILS", Op::ConnectionTerminationDetails},
      {"DOWNSTREAM_REMOTE_ADDRESS", Op::DownstreamRemote},
      {"DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT", Op::DownstreamRemoteNoPort},
      {"DOWNSTREAM_LOCAL_ADDRESS", Op::DownstreamLocal},
      {"DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT", Op::DownstreamLocalNoPort},
      {"ROUTE_NAME", Op::RouteName},
      {"REQUESTED_SERVER_NAME", Op::RequestedServerName},
      {"UPSTREAM_TRANSPORT_FAILURE_REASON", Op::UpstreamTransportFailure},
      {"HOSTNAME", Op::Hostname},
  };
  std::string literal;
  size_t i = 0;
  while (i < format.size()) {
    char c = format[i];
    if (c != '%') {
      literal += c;
      ++i;
      continue;
    }
    if (i + 1 < format.size() && format[i + 1] == '%') {
      literal += '%';
      i += 2;
      continue;
    }
    size_t end = format.find('%', i + 1);
    // An operator's argument may itself contain '%' (START_TIME's format): find the ')'.
    size_t paren = format.find('(', i + 1);
    if (paren != std::string::npos && (end == std::string::npos || paren < end)) {
      size_t close = format.find(')', paren);
      if (close != std::string::npos) end = format.find('%', close);
    }
    if (end == std::string::npos) {
      throw ConfigError(path + ": unterminated command operator at offset " + std::to_string(i) + " in '" + format +
                        "'");
    }
    std::string token = format.substr(i + 1, end - i - 1);
    i = end + 1;
    if (!literal.empty()) {
      segments_.push_back({Op::Literal, literal});
      literal.clear();
    }
    Segment seg{Op::Literal, ""};
    std::string name = token, arg;
    size_t max_len = 0;
    auto open = token.find('(');
    if (open != std::string::npos) {
      auto close = token.rfind(')');
      if (close == std::string::npos || close < open) throw ConfigError(path + ": malformed operator %" + token + "%");
      name = token.substr(0, open);
      arg = token.substr(open + 1, close - open - 1);
      std::string rest = token.substr(close + 1);
      if (!rest.empty()) {
        if (rest[0] != ':' || rest.size() < 2 || rest.find_first_not_of("0123456789", 1) != std::string::npos) {
          throw ConfigError(path + ": malformed length in operator %" + token + "%");
        }
        max_len = std::stoul(rest.substr(1));
      }
    }
    seg.max_len = max_len;
    if (name == "START_TIME") {
      seg.op = Op::StartTime;
      seg.text = arg.empty() ? "%Y-%m-%dT%H:%M:%E3SZ" : arg;
    } else if (name == "REQ" || name == "RESP") {
      if (arg.empty()) throw ConfigError(path + ": %" + name + "()% needs a header name");
      seg.op = name == "REQ" ? Op::Req : Op::Resp;
      auto& list = name == "REQ" ? capture.request : capture.response;
      auto q = arg.find('?');
      seg.header = headerIndex(list, arg.substr(0, q));
      if (q != std::string::npos) seg.fallback = headerIndex(list, arg.substr(q + 1));
    } else {
      bool found = false;
      for (const auto& [n, op] : kSimple) {
        if (name == n && open == std::string::npos) {
          seg.op = op;
          found = true;
        }
      }
      if (!found) throw ConfigError(path + ": unknown or unsupported command operator %" + token + "%");
    }
    segments_.push_back(std::move(seg));
  }
  if (!literal.empty()) segments_.push_back({Op::Literal, literal});
}

bool Formatter::numeric() const {
  if (segments_.size() != 1) return false;
  switch (segments_[0].op) {
    case Op::ResponseCode:
    case Op::Duration:
    case Op::ResponseDuration:
    case Op::BytesReceived:
    case Op::BytesSent:
      return true;
    default:
      return false;
  }
}

void Formatter::format(const StreamInfo& s, std::string& out) const {
  using namespace std::chrono;
  auto ms = [](event::TimePoint a, event::TimePoint b) {
    return std::to_string(duration_cast<milliseconds>(b - a).count());
  };
  for (const auto& seg : segments_) {
    switch (seg.op) {
      case Op::Literal:
        out += seg.text;
        break;
      case Op::StartTime:
        formatTime(s.start_time, seg.text, out);
        break;
      case Op::Req:
      case Op::Resp: {
        const auto& list = seg.op == Op::Req ? s.request_headers : s.response_headers;
        const StreamInfo::Captured* v = nullptr;
        if (seg.header >= 0 && static_cast<size_t>(seg.header) < list.size() && list[seg.header].present) {
          v = &list[seg.header];
        } else if (seg.fallback >= 0 && static_cast<size_t>(seg.fallback) < list.size() && list[seg.fallback].present) {
          v = &list[seg.fallback];
        }
        if (v) {
          appendTruncated(out, v->value, seg.max_len);
        } else {
          out += '-';
        }
        break;
      }
      case Op::ResponseCode:
        out += std::to_string(s.response_code);
        break;
      case Op::LocalReplyBody:
        out += s.local_reply_body;
        break;
      case Op::ResponseFlags:
        out += responseFlagsString(s.response_flags);
        break;
      case Op::ResponseCodeDetails:
        out += s.response_code_details.empty() ? std::string_view("-") : s.response_code_details;
        break;
      case Op::Duration:
        out += ms(s.start, s.end);
        break;
      case Op::ResponseDuration:
        out += s.first_upstream_byte == event::TimePoint{} ? std::string("-") : ms(s.start, s.first_upstream_byte);
        break;
      case Op::BytesReceived:
        out += std::to_string(s.bytes_received);
        break;
      case Op::BytesSent:
        out += std::to_string(s.bytes_sent);
        break;
      case Op::Protocol:
        out += s.protocol.empty() ? std::string_view("-") : s.protocol;
        break;
      case Op::UpstreamHost:
        out += s.upstream_host.empty() ? std::string_view("-") : std::string_view(s.upstream_host);
        break;
      case Op::UpstreamCluster:
        out += s.upstream_cluster.empty() ? std::string_view("-") : s.upstream_cluster;
        break;
      case Op::DownstreamRemote:
        out += s.downstream_remote ? s.downstream_remote->toString() : "-";
        break;
      case Op::DownstreamRemoteNoPort:
        out += s.downstream_remote ? s.downstream_remote->ip() : "-";
        break;
      case Op::DownstreamLocal:
        out += s.downstream_local ? s.downstream_local->toString() : "-";
        break;
      case Op::DownstreamLocalNoPort:
        out += s.downstream_local ? s.downstream_local->ip() : "-";
        break;
      case Op::RouteName:
        out += s.route_name.empty() ? std::string_view("-") : s.route_name;
        break;
      case Op::RequestedServerName: {
        std::string_view sni = s.downstream ? s.downstream->requestedServerName() : std::string_view();
        out += sni.empty() ? std::string_view("-") : sni;
        break;
      }
      case Op::UpstreamLocal:
        out += s.upstream_local.length != 0 ? s.upstream_local.toString() : "-";
        break;
      case Op::UpstreamLocalNoPort:
        out += s.upstream_local.length != 0 ? s.upstream_local.ip() : "-";
        break;
      case Op::ConnectionTerminationDetails:
        out += '-';
        break;
      case Op::UpstreamTransportFailure:
        out += s.transport_failure.empty() ? std::string_view("-") : s.transport_failure;
        break;
      case Op::Hostname: {
        char host[256] = {0};
        gethostname(host, sizeof(host) - 1);
        out += host;
        break;
      }
    }
  }
}

}  // namespace weft::proxy::access_log
