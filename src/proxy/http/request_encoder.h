#pragma once
// The request head weft-proxy sends upstream, for either codec: the route's rewrites,
// Envoy's x-forwarded-* and x-request-id handling, x-forwarded-client-cert sanitized, header
// mutations, hop-by-hop headers dropped. `forEachUpstreamHeader` is the one definition of
// that header set; the HTTP/1 encoder writes it as text, the HTTP/2 one as a header list.
#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/buffer.h"
#include "common/net/address.h"
#include "proxy/http/codec_util.h"
#include "proxy/http/hcm_config.h"

namespace weft::proxy::http {

struct UpstreamHead {
  const RequestHead* req = nullptr;
  const HcmConfig* hcm = nullptr;
  std::string_view path;             // after prefix_rewrite
  std::string_view host;             // after host_rewrite_literal
  std::string_view scheme = "http";  // of the downstream connection
  bool path_rewritten = false;       // adds x-envoy-original-path
  const net::Address* remote = nullptr;
  std::string_view generated_request_id;            // empty: keep the client's
  const tracing::OutgoingContext* trace = nullptr;  // B3 headers replacing the client's
  std::string_view upgrade;                         // Upgrade header value for a tunnel, else empty
  std::chrono::milliseconds timeout{0};
  MutationChain mutations;
  bool chunked_body = false;
  bool suppress_envoy_headers = false;  // the router's suppress_envoy_headers
  std::string_view attempt_count;       // x-envoy-attempt-count (include_request_attempt_count), or empty
};

// An UpstreamHead that owns its bytes: the headers forEachUpstreamHeader made of the first
// send, for sending the request again after the downstream head is gone (a retry; auto_config's
// replay). Sent through an HcmConfig that adds nothing, so no header appears twice.
class OwnedUpstreamHead {
 public:
  explicit OwnedUpstreamHead(const UpstreamHead& h);
  OwnedUpstreamHead(const OwnedUpstreamHead&) = delete;
  OwnedUpstreamHead& operator=(const OwnedUpstreamHead&) = delete;
  const UpstreamHead& head() const { return head_; }
  // x-envoy-attempt-count of the next send (when the first send had one).
  void setAttemptCount(uint32_t n);

 private:
  std::string method_, target_, path_, host_, scheme_;
  std::vector<std::pair<std::string, std::string>> headers_;
  char attempt_[12] = {};
  RequestHead req_;
  UpstreamHead head_;
};

// Calls emit(name, value) for every regular header (not Host, not the framing headers).
// `scratch` holds values made here (x-forwarded-for, the timeout) while emit runs.
template <typename Emit>
void forEachUpstreamHeader(const UpstreamHead& h, std::string& scratch, Emit&& emit) {
  const RequestHead& req = *h.req;
  const HcmConfig& hcm = *h.hcm;
  const std::string_view* xff = nullptr;
  bool has_xfp = false;
  for (const Header& hd : req.headers) {
    std::string_view n = hd.name;
    if (n.empty() || n[0] == ':') continue;
    if (isHopByHop(n)) {
      // gRPC needs "te: trailers" end to end; any other TE value is hop-by-hop.
      if (!(n.size() == 2 && equalsIgnoreCase(n, "te") && equalsIgnoreCase(hd.value, "trailers"))) continue;
    }
    if (equalsIgnoreCase(n, "host") || equalsIgnoreCase(n, "content-length")) continue;
    if (equalsIgnoreCase(n, "http2-settings")) continue;                 // part of an h2c upgrade, which is declined
    if (req.expect_continue && equalsIgnoreCase(n, "expect")) continue;  // answered here
    if (equalsIgnoreCase(n, "x-forwarded-for") && hcm.use_remote_address && !hcm.skip_xff_append) {
      xff = &hd.value;  // re-emitted below with the client's address appended
      continue;
    }
    if (equalsIgnoreCase(n, "x-forwarded-proto")) {
      if (hcm.use_remote_address) continue;  // at the edge, ours replaces the client's
      has_xfp = true;
    }
    if (equalsIgnoreCase(n, "x-forwarded-client-cert")) continue;  // forward_client_cert_details SANITIZE
    if (!h.generated_request_id.empty() && equalsIgnoreCase(n, "x-request-id")) continue;
    if (equalsIgnoreCase(n, "x-envoy-expected-rq-timeout-ms") || equalsIgnoreCase(n, "x-envoy-original-path")) continue;
    if (!h.attempt_count.empty() && equalsIgnoreCase(n, "x-envoy-attempt-count")) continue;
    if (h.trace != nullptr && h.trace->replaces(n)) continue;
    if (h.mutations.replaces(n)) continue;
    emit(n, hd.value);
  }
  scratch.clear();
  if (hcm.use_remote_address && !hcm.skip_xff_append && h.remote != nullptr) {
    if (xff != nullptr && !xff->empty()) {
      scratch.append(*xff);
      scratch.append(", ");
    }
    scratch.append(h.remote->ip());
    emit("x-forwarded-for", scratch);
  }
  if (!has_xfp) emit("x-forwarded-proto", h.scheme);
  if (!h.generated_request_id.empty()) emit("x-request-id", h.generated_request_id);
  if (!h.suppress_envoy_headers && h.timeout.count() > 0) {
    size_t at = scratch.size();
    scratch.append(std::to_string(h.timeout.count()));
    emit("x-envoy-expected-rq-timeout-ms", std::string_view(scratch).substr(at));
  }
  if (h.path_rewritten && !h.suppress_envoy_headers) emit("x-envoy-original-path", req.target);
  if (!h.attempt_count.empty()) emit("x-envoy-attempt-count", h.attempt_count);
  if (h.trace != nullptr) h.trace->forEach(emit);
  h.mutations.forEachAddition([&](std::string_view name) { return req.find(name) != nullptr; }, emit);
}

// HTTP/1.1 request line and head, with Host and the body framing.
void encodeRequestHead(Buffer& out, const UpstreamHead& h);

}  // namespace weft::proxy::http
