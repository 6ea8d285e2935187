#include "proxy/http/request_encoder.h"

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

}  // namespace weft::proxy::http
