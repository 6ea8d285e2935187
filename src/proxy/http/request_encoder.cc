#include "proxy/http/request_encoder.h"

#include <cstdio>
#include <string>

namespace weft::proxy::http {

void encodeRequestHead(Buffer& out, const UpstreamHead& h) {
  const RequestHead& req = *h.req;
  out.reserve(512 + req.headers.size() * 48);
  out.append(req.method);
  out.append(' ');
  out.append(h.path);
  out.append(" HTTP/1.1\r\nhost: ");
  out.append(h.host);
  out.append("\r\n");
  thread_local std::string scratch;
  forEachUpstreamHeader(h, scratch, [&](std::string_view n, std::string_view v) { appendHeader(out, n, v); });
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

namespace {
const HcmConfig& plainHcm() {
  static const HcmConfig hcm;
  return hcm;
}
}  // namespace

OwnedUpstreamHead::OwnedUpstreamHead(const UpstreamHead& h)
    : method_(h.req->method), target_(h.req->target), path_(h.path), host_(h.host), scheme_(h.scheme) {
  std::string scratch;
  forEachUpstreamHeader(h, scratch, [&](std::string_view n, std::string_view v) {
    headers_.emplace_back(std::string(n), std::string(v));
  });
  req_.method = method_;
  req_.target = target_;
  req_.path = path_;
  req_.host = host_;
  req_.content_length = h.req->content_length;
  req_.chunked = h.req->chunked;
  for (const auto& [n, v] : headers_) req_.headers.push_back({n, v});
  head_.req = &req_;
  head_.hcm = &plainHcm();
  head_.path = path_;
  head_.host = host_;
  head_.scheme = scheme_;
  // The x-envoy-* headers these make are in the list already; the replay skips the listed
  // copies and makes them again from the same values, so each appears once.
  head_.path_rewritten = h.path_rewritten;
  head_.timeout = h.timeout;
  head_.suppress_envoy_headers = h.suppress_envoy_headers;
  head_.chunked_body = h.chunked_body;
  if (!h.attempt_count.empty()) setAttemptCount(1);
}

void OwnedUpstreamHead::setAttemptCount(uint32_t n) {
  int len = std::snprintf(attempt_, sizeof(attempt_), "%u", n);
  head_.attempt_count = std::string_view(attempt_, static_cast<size_t>(len));
}

}  // namespace weft::proxy::http
