#include "proxy/http/request_encoder.h"

#include <string>

namespace weft::proxy::http {

void encodeRequestHead(Buffer& out, const UpstreamHead& h) {
  const RequestHead& req = *h.req;
  const HcmConfig& hcm = *h.hcm;
  out.reserve(512 + req.headers.size() * 48);
  out.append(req.method);
  out.append(' ');
  out.append(h.path);
  out.append(" HTTP/1.1\r\nhost: ");
  out.append(h.host);
  out.append("\r\n");

  const std::string_view* xff = nullptr;
  bool has_xfp = false;
  for (const Header& hd : req.headers) {
    std::string_view n = hd.name;
    if (isHopByHop(n) || equalsIgnoreCase(n, "host") || equalsIgnoreCase(n, "content-length")) continue;
    if (req.expect_continue && equalsIgnoreCase(n, "expect")) continue;  // answered here
    if (equalsIgnoreCase(n, "x-forwarded-for") && hcm.use_remote_address && !hcm.skip_xff_append) {
      xff = &hd.value;  // re-emitted below with the client's address appended
      continue;
    }
    if (equalsIgnoreCase(n, "x-forwarded-proto")) {
      if (hcm.use_remote_address) continue;  // at the edge, ours replaces the client's
      has_xfp = true;
    }
    if (!h.generated_request_id.empty() && equalsIgnoreCase(n, "x-request-id")) continue;
    if (equalsIgnoreCase(n, "x-envoy-expected-rq-timeout-ms") || equalsIgnoreCase(n, "x-envoy-original-path")) continue;
    if (h.mutations.replaces(n)) continue;
    appendHeader(out, n, hd.value);
  }
  if (hcm.use_remote_address && !hcm.skip_xff_append && h.remote != nullptr) {
    out.append("x-forwarded-for: ");
    if (xff != nullptr && !xff->empty()) {
      out.append(*xff);
      out.append(", ");
    }
    out.append(h.remote->ip());
    out.append("\r\n");
  }
  if (!has_xfp) out.append("x-forwarded-proto: http\r\n");
  if (!h.generated_request_id.empty()) appendHeader(out, "x-request-id", h.generated_request_id);
  if (!hcm.suppress_envoy_headers && h.timeout.count() > 0) {
    out.append("x-envoy-expected-rq-timeout-ms: ");
    out.appendDecimal(static_cast<unsigned long long>(h.timeout.count()));
    out.append("\r\n");
  }
  if (h.path_rewritten && !hcm.suppress_envoy_headers) appendHeader(out, "x-envoy-original-path", req.target);
  h.mutations.appendAdditions(out, [&](std::string_view name) { return req.find(name) != nullptr; });
  if (!h.upgrade.empty()) {
    out.append("connection: upgrade\r\nupgrade: ");
    out.append(h.upgrade);
    out.append("\r\n");
  }
  if (h.chunked_body) {
    out.append("transfer-encoding: chunked\r\n");
  } else if (req.content_length && (*req.content_length > 0 || req.method != "GET")) {
    out.append("content-length: ");
    out.appendDecimal(*req.content_length);
    out.append("\r\n");
  }
  out.append("\r\n");
}

}  // namespace weft::proxy::http
