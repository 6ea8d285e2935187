#pragma once
// Writes the request head weft-proxy sends upstream: the route's rewrites, Envoy's
// x-forwarded-* and x-request-id handling, header mutations, hop-by-hop headers dropped and
// the body framing re-declared.
#include <chrono>
#include <string_view>

#include "common/buffer.h"
#include "common/net/address.h"
#include "proxy/http/codec_util.h"
#include "proxy/http/hcm_config.h"

namespace weft::proxy::http {

struct UpstreamHead {
  const RequestHead* req = nullptr;
  const HcmConfig* hcm = nullptr;
  std::string_view path;           // after prefix_rewrite
  std::string_view host;           // after host_rewrite_literal
  bool path_rewritten = false;     // adds x-envoy-original-path
  const net::Address* remote = nullptr;
  std::string_view generated_request_id;  // empty: keep the client's
  std::string_view upgrade;               // Upgrade header value for a tunnel, else empty
  std::chrono::milliseconds timeout{0};
  MutationChain mutations;
  bool chunked_body = false;
};

void encodeRequestHead(Buffer& out, const UpstreamHead& h);

}  // namespace weft::proxy::http
