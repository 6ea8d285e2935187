#pragma once
// The response head weft-proxy sends downstream, for either codec: hop-by-hop headers and the
// upstream's framing and server dropped, the route's response mutations applied, and
// server, date and x-envoy-upstream-service-time added as Envoy does.
#include <string_view>

#include "proxy/http/codec_util.h"
#include "proxy/http/headers.h"

namespace weft::proxy::http {

struct ResponseExtras {
  std::string_view server;
  std::string_view date;          // used when the upstream sent none
  std::string_view service_time;  // x-envoy-upstream-service-time; empty: not sent
};

// Calls emit(name, value) for every header but :status and content-length.
template <typename Emit>
void forEachResponseHeader(const ResponseHead& head, const MutationChain& mutations, const ResponseExtras& extras,
                           Emit&& emit) {
  bool has_date = false;
  for (const Header& h : head.headers) {
    std::string_view n = h.name;
    if (n.empty() || n[0] == ':') continue;
    if (isHopByHop(n) || equalsIgnoreCase(n, "content-length") || equalsIgnoreCase(n, "server")) continue;
    if (mutations.replaces(n)) continue;
    // Ours replaces one set by a proxy further upstream (Envoy does the same).
    if (!extras.service_time.empty() && n.size() == 29 && equalsIgnoreCase(n, "x-envoy-upstream-service-time")) continue;
    if (!has_date && equalsIgnoreCase(n, "date")) has_date = true;
    emit(n, h.value);
  }
  emit("server", extras.server);
  if (!has_date) emit("date", extras.date);
  if (!extras.service_time.empty()) emit("x-envoy-upstream-service-time", extras.service_time);
  mutations.forEachAddition([&](std::string_view name) { return head.find(name) != nullptr; }, emit);
}

}  // namespace weft::proxy::http
