#pragma once
// The upstream's response head as the router passes it on: hop-by-hop headers, framing and
// server dropped, the route's response mutations applied, x-envoy-upstream-service-time
// added as Envoy does (the connection manager adds server and date after the filters).
#include <string_view>

#include "proxy/http/codec_util.h"
#include "proxy/http/headers.h"

namespace weft::proxy::http {

// Calls emit(name, value) for every header but :status and content-length; `service_time`
// (x-envoy-upstream-service-time) is not sent when empty.
template <typename Emit>
void forEachResponseHeader(const ResponseHead& head, const MutationChain& mutations, std::string_view service_time,
                           Emit&& emit) {
  for (const Header& h : head.headers) {
    std::string_view n = h.name;
    if (n.empty() || n[0] == ':') continue;
    if (isHopByHop(n) || equalsIgnoreCase(n, "content-length") || equalsIgnoreCase(n, "server")) continue;
    if (mutations.replaces(n)) continue;
    // Ours replaces one set by a proxy further upstream (Envoy does the same).
    if (!service_time.empty() && n.size() == 29 && equalsIgnoreCase(n, "x-envoy-upstream-service-time")) continue;
    emit(n, h.value);
  }
  if (!service_time.empty()) emit("x-envoy-upstream-service-time", service_time);
  mutations.forEachAddition([&](std::string_view name) { return head.find(name) != nullptr; }, emit);
}

}  // namespace weft::proxy::http
