#pragma once
// envoy.filters.http.rbac: Envoy's role-based access control on requests. `rules` decide
// (ALLOW: only what a policy matches passes; DENY: what a policy matches is refused with 403
// "RBAC: access denied"); `shadow_rules` are only counted. Istio's AuthorizationPolicy becomes
// one such filter per action. Stats http.<stat_prefix>.rbac.{allowed,denied,shadow_allowed,
// shadow_denied} (with rules_stat_prefix / shadow_rules_stat_prefix, as Envoy).
#include <memory>
#include <string>

#include "proxy/filters/common/rbac/rbac_stats.h"
#include "proxy/http/filter.h"

namespace weft::proxy::http::rbac {

using proxy::rbac::RbacConfig;

class RbacFilter final : public StreamFilterBase, public StreamDecoderFilter {
 public:
  explicit RbacFilter(const RbacConfig& config) : config_(config) {}
  void setDecoderFilterCallbacks(StreamDecoderFilterCallbacks& cb) override { dec_ = &cb; }
  FilterStatus decodeHeaders(RequestHead& head, bool end_stream) override;

 private:
  const RbacConfig& config_;
  StreamDecoderFilterCallbacks* dec_ = nullptr;
};

}  // namespace weft::proxy::http::rbac
