#pragma once
// Small pieces of HTTP/1 wire encoding shared by the request and response paths.
#include <string_view>

#include "common/buffer.h"
#include "proxy/http/header_mutations.h"
#include "proxy/http/headers.h"

namespace weft::proxy::http {

inline void appendHeader(Buffer& out, std::string_view name, std::string_view value) {
  out.append(name);
  out.append(": ");
  out.append(value);
  out.append("\r\n");
}

// Writes one body piece in the outgoing framing (chunked or raw).
inline void appendBody(Buffer& out, std::string_view data, bool chunked) {
  if (data.empty()) return;
  if (chunked) {
    out.appendHex(data.size());
    out.append("\r\n");
    out.append(data);
    out.append("\r\n");
  } else {
    out.append(data);
  }
}

// Up to four mutation sets (weighted cluster, route, virtual host, route table), most
// specific first; null entries are skipped.
struct MutationChain {
  const HeaderMutations* sets[4] = {nullptr, nullptr, nullptr, nullptr};
  bool replaces(std::string_view name) const {
    for (auto* s : sets) {
      if (s && s->replaces(name)) return true;
    }
    return false;
  }
  // Calls emit(name, value) for each addition. `present(name)` tells whether the message
  // already has it.
  template <typename Present, typename Emit>
  void forEachAddition(Present present, Emit&& emit) const {
    for (auto* s : sets) {
      if (!s) continue;
      for (const auto& a : s->add) {
        if (a.action == HeaderMutations::Action::AddIfAbsent && present(a.name)) continue;
        if (a.action == HeaderMutations::Action::OverwriteIfExists && !present(a.name)) continue;
        emit(std::string_view(a.name), std::string_view(a.value));
      }
    }
  }
  template <typename Present>
  void appendAdditions(Buffer& out, Present present) const {
    forEachAddition(present, [&](std::string_view n, std::string_view v) { appendHeader(out, n, v); });
  }
};

}  // namespace weft::proxy::http
