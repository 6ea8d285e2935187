#include "proxy/cel/stream_attributes.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cctype>
#include <charconv>

#include "common/config/error.h"
#include "common/net/connection.h"
#include "proxy/telemetry/peer_metadata.h"

namespace weft::proxy {

using weft::cel::Value;

namespace {

// An attribute id: the attribute, and for header-backed ones the capture slot (id >> 8).
enum Attr : int {
  kRequestHeader,  // :path, :authority ... and request.headers[k]
  kRequestUrlPath,
  kRequestQuery,
  kRequestProtocol,
  kRequestTime,
  kRequestDuration,
  kRequestSize,
  kResponseCode,
  kResponseCodeDetails,
  kResponseGrpcStatus,
  kResponseHeader,
  kResponseSize,
  kSourceAddress,
  kSourcePort,
  kDestinationAddress,
  kDestinationPort,
  kUpstreamAddress,
  kUpstreamPort,
  kConnectionMtls,
  kConnectionSni,
  kXdsClusterName,
  kXdsRouteName,
  kUpstreamPeer,  // + field << 8
  kDownstreamPeer,
};

constexpr const char* kPeerFields[] = {"name",     "namespace", "cluster", "service",
                                       "revision", "app",       "version", "workload"};

int withSlot(Attr a, int slot) { return a | (slot << 8); }

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

int slotOf(std::vector<std::string>& names, const std::string& name) {
  auto it = std::find(names.begin(), names.end(), name);
  if (it != names.end()) return static_cast<int>(it - names.begin());
  names.push_back(name);
  return static_cast<int>(names.size() - 1);
}

Value captured(const std::vector<StreamInfo::Captured>& values, int slot, std::string_view what) {
  if (slot < 0 || static_cast<size_t>(slot) >= values.size() || !values[static_cast<size_t>(slot)].present)
    return Value::absent(std::string(what));
  return Value::string(values[static_cast<size_t>(slot)].value);
}

Value address(const net::Address* a, bool port, std::string_view what) {
  if (a == nullptr || a->length == 0) return Value::absent(std::string(what));
  return port ? Value::integer(a->port()) : Value::string(a->toString());
}

}  // namespace

int StreamAttributes::captureRequest(const std::string& name) { return slotOf(capture_.request, lower(name)); }
int StreamAttributes::captureResponse(const std::string& name) { return slotOf(capture_.response, lower(name)); }

std::optional<weft::cel::Binder::Bound> StreamAttributes::bind(std::string_view root,
                                                               const std::vector<std::string>& path,
                                                               std::string& error) {
  const std::string field = path.empty() ? "" : path[0];
  auto one = [](int id) { return Bound{id, 1, "", false}; };
  auto header = [&](bool request) -> Bound {
    if (path.size() < 2) return Bound{request ? kRequestHeader : kResponseHeader, 1, "", true};
    int slot = request ? captureRequest(path[1]) : captureResponse(path[1]);
    return Bound{withSlot(request ? kRequestHeader : kResponseHeader, slot), 2, "", false};
  };
  auto pseudo = [&](const char* name, Attr a = kRequestHeader) { return one(withSlot(a, captureRequest(name))); };
  if (root == "request") {
    if (field == "headers") return header(true);
    if (field == "path") return pseudo(":path");
    if (field == "url_path") return pseudo(":path", kRequestUrlPath);
    if (field == "query") return pseudo(":path", kRequestQuery);
    if (field == "host") return pseudo(":authority");
    if (field == "scheme") return pseudo(":scheme");
    if (field == "method") return pseudo(":method");
    if (field == "referer") return pseudo("referer");
    if (field == "useragent") return pseudo("user-agent");
    if (field == "id") return pseudo("x-request-id");
    if (field == "protocol") return one(kRequestProtocol);
    if (field == "time") return one(kRequestTime);
    if (field == "duration") return one(kRequestDuration);
    if (field == "size") return one(kRequestSize);
    error =
        "unknown attribute 'request." + field +
        "' (weft-proxy offers request.path, url_path, query, host, scheme, method, headers, referer, useragent, id, "
        "protocol, time, duration, size)";
  } else if (root == "response") {
    if (field == "headers") return header(false);
    if (field == "code") return one(kResponseCode);
    if (field == "code_details") return one(kResponseCodeDetails);
    if (field == "grpc_status") return one(kResponseGrpcStatus);
    if (field == "size") return one(kResponseSize);
    error = "unknown attribute 'response." + field +
            "' (weft-proxy offers response.code, code_details, grpc_status, headers, size)";
  } else if (root == "source" || root == "destination" || root == "upstream") {
    Attr a = root == "source" ? kSourceAddress : root == "destination" ? kDestinationAddress : kUpstreamAddress;
    if (field == "address") return one(a);
    if (field == "port") return one(a + 1);
    error = "unknown attribute '" + std::string(root) + "." + field + "' (weft-proxy offers address, port)";
  } else if (root == "connection") {
    if (field == "mtls") return one(kConnectionMtls);
    if (field == "requested_server_name") return one(kConnectionSni);
    error = "unknown attribute 'connection." + field + "' (weft-proxy offers connection.mtls, requested_server_name)";
  } else if (root == "xds") {
    if (field == "cluster_name") return one(kXdsClusterName);
    if (field == "route_name") return one(kXdsRouteName);
    error = "unknown attribute 'xds." + field + "' (weft-proxy offers xds.cluster_name, route_name)";
  } else if (root == "upstream_peer" || root == "downstream_peer") {
    for (int i = 0; i < static_cast<int>(std::size(kPeerFields)); ++i)
      if (field == kPeerFields[i]) return one(withSlot(root == "upstream_peer" ? kUpstreamPeer : kDownstreamPeer, i));
    error = "unknown attribute '" + std::string(root) + "." + field +
            "' (weft-proxy offers name, namespace, cluster, service, revision, app, version, workload)";
  }
  return std::nullopt;
}

std::shared_ptr<const weft::cel::Program> compileStreamExpression(const std::string& text, const std::string& path,
                                                                  access_log::CaptureList& capture) {
  StreamAttributes attrs(capture);
  try {
    return weft::cel::Program::compile(text, attrs);
  } catch (const weft::cel::CompileError& e) {
    throw ConfigError(path + ": invalid CEL expression '" + text + "': " + e.what());
  }
}

Value StreamActivation::attribute(int id, std::string_view) const {
  const int slot = id >> 8;
  const StreamInfo& s = info_;
  switch (static_cast<Attr>(id & 0xff)) {
    case kRequestHeader:
      return captured(request_, slot, "request header");
    case kRequestUrlPath:
    case kRequestQuery: {
      Value p = captured(request_, slot, ":path");
      if (p.isError()) return p;
      std::string_view v = p.asString();
      size_t q = v.find('?');
      if ((id & 0xff) == kRequestUrlPath) return Value::string(std::string(v.substr(0, q)));
      return Value::string(q == std::string_view::npos ? std::string() : std::string(v.substr(q + 1)));
    }
    case kRequestProtocol:
      return Value::string(std::string(s.protocol));
    case kRequestTime:
      return Value::timestamp(s.start_time);
    case kRequestDuration:
      if (s.end == event::TimePoint{}) return Value::absent("request.duration");
      return Value::duration(std::chrono::duration_cast<std::chrono::nanoseconds>(s.end - s.start));
    case kRequestSize:
      return Value::integer(static_cast<int64_t>(s.bytes_received));
    case kResponseCode:
      if (s.response_code == 0) return Value::absent("response.code");
      return Value::integer(s.response_code);
    case kResponseCodeDetails:
      return Value::string(std::string(s.response_code_details));
    case kResponseGrpcStatus:
      if (grpc_status_ < 0) return Value::absent("response.grpc_status");
      return Value::integer(grpc_status_);
    case kResponseHeader:
      return captured(response_, slot, "response header");
    case kResponseSize:
      return Value::integer(static_cast<int64_t>(s.bytes_sent));
    case kSourceAddress:
    case kSourcePort:
      return address(s.downstream_remote, (id & 0xff) == kSourcePort, "source.address");
    case kDestinationAddress:
    case kDestinationPort:
      return address(s.downstream_local, (id & 0xff) == kDestinationPort, "destination.address");
    case kUpstreamAddress:
    case kUpstreamPort: {
      if (s.upstream_host.empty()) return Value::absent("upstream.address");
      if ((id & 0xff) == kUpstreamAddress) return Value::string(s.upstream_host);
      std::string_view h = s.upstream_host;
      int port = 0;
      std::from_chars(h.data() + h.rfind(':') + 1, h.data() + h.size(), port);
      return Value::integer(port);
    }
    case kConnectionMtls:
      // A verified client certificate on the downstream connection.
      return Value::boolean(s.downstream != nullptr && s.downstream->ssl() != nullptr &&
                            SSL_get0_peer_certificate(s.downstream->ssl()) != nullptr &&
                            SSL_get_verify_result(s.downstream->ssl()) == X509_V_OK);
    case kConnectionSni:
      if (s.downstream == nullptr || s.downstream->requestedServerName().empty())
        return Value::absent("connection.requested_server_name");
      return Value::string(std::string(s.downstream->requestedServerName()));
    case kXdsClusterName:
      if (s.upstream_cluster.empty()) return Value::absent("xds.cluster_name");
      return Value::string(std::string(s.upstream_cluster));
    case kXdsRouteName:
      return Value::string(std::string(s.route_name));
    case kUpstreamPeer:
    case kDownstreamPeer: {
      const telemetry::PeerMetadata* p = (id & 0xff) == kUpstreamPeer ? s.upstream_peer.get() : s.downstream_peer.get();
      if (p == nullptr) return Value::absent((id & 0xff) == kUpstreamPeer ? "upstream_peer" : "downstream_peer");
      std::string_view v;
      switch (slot) {
        case 0:
          v = p->name;
          break;
        case 1:
          v = p->ns;
          break;
        case 2:
          v = p->cluster_id;
          break;
        case 3:
          v = p->canonicalService();
          break;
        case 4:
          v = p->canonicalRevision();
          break;
        case 5:
          v = p->app;
          break;
        case 6:
          v = p->version;
          break;
        default:
          v = p->workload_name;
          break;
      }
      return Value::string(std::string(v));
    }
  }
  return Value::error("internal: unknown attribute id");
}

std::string celLabelValue(const Value& v) {
  if (v.isError()) return "unknown";
  if (v.type() == Value::Type::String) return v.asString();
  return v.toString();
}

}  // namespace weft::proxy
