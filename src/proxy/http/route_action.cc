#include "proxy/http/route_action.h"

#include "proxy/http/grpc.h"

namespace weft::proxy::http {

std::string rewrittenPath(const Route& route, const RequestHead& req) {
  if (!route.has_prefix_rewrite) return {};
  size_t matched = route.path_value.size();
  if (route.path_kind == Route::PathKind::Path) matched = req.path.size();
  std::string out;
  out.reserve(route.prefix_rewrite.size() + req.target.size());
  out.append(route.prefix_rewrite);
  out.append(req.target.substr(std::min(matched, req.target.size())));
  if (out.empty() || out[0] != '/') out.insert(0, "/");
  return out;
}

std::string redirectLocation(const Route& route, const RequestHead& req, std::string_view request_scheme) {
  const Redirect& r = route.redirect;
  std::string scheme = r.scheme.empty() ? std::string(request_scheme) : r.scheme;
  std::string host = r.host.empty() ? std::string(req.host) : r.host;
  // Ports: an explicit port_redirect replaces any port; a scheme change drops a default port.
  auto strip_port = [](std::string& h) {
    if (!h.empty() && h.back() != ']') {
      auto c = h.rfind(':');
      if (c != std::string::npos) h.resize(c);
    }
  };
  if (r.port != 0) {
    strip_port(host);
    host += ":" + std::to_string(r.port);
  } else if (!r.scheme.empty()) {
    auto c = host.rfind(':');
    if (c != std::string::npos && host.back() != ']') {
      std::string port = host.substr(c + 1);
      if (port == "80" || port == "443") strip_port(host);
    }
  }
  std::string path;
  if (!r.path.empty()) {
    path = r.path;
    if (path.find('?') == std::string::npos && !r.strip_query && !req.query.empty()) {
      path += "?";
      path += req.query;
    }
  } else if (r.has_prefix_rewrite) {
    size_t matched = route.path_kind == Route::PathKind::Path ? req.path.size() : route.path_value.size();
    path = r.prefix_rewrite + std::string(req.target.substr(std::min(matched, req.target.size())));
  } else {
    path = std::string(req.target);
  }
  if (r.strip_query) {
    auto q = path.find('?');
    if (q != std::string::npos) path.resize(q);
  }
  return scheme + "://" + host + path;
}

std::chrono::milliseconds requestTimeout(const Route& route, const RequestHead& req, bool is_grpc) {
  if (!is_grpc || !route.grpc_timeout_max) return route.timeout;
  std::chrono::milliseconds t{0};  // no grpc-timeout: infinity, capped below
  if (const auto* v = req.find("grpc-timeout")) {
    if (auto parsed = grpc::parseTimeout(*v)) t = *parsed;
  }
  auto max = *route.grpc_timeout_max;
  if (max.count() > 0 && (t.count() == 0 || t > max)) t = max;
  if (t.count() > 0 && route.grpc_timeout_offset.count() > 0) {
    t = t > route.grpc_timeout_offset ? t - route.grpc_timeout_offset : std::chrono::milliseconds(1);
  }
  return t;
}

std::string_view hostForRouting(const HcmConfig& hcm, std::string_view host, uint16_t local_port) {
  if (hcm.strip_port == HcmConfig::StripPort::None || host.empty() || host.back() == ']') return host;
  auto colon = host.rfind(':');
  if (colon == std::string_view::npos) return host;
  std::string_view port = host.substr(colon + 1);
  bool strip = hcm.strip_port == HcmConfig::StripPort::Any || port == std::to_string(local_port);
  return strip ? host.substr(0, colon) : host;
}

}  // namespace weft::proxy::http
