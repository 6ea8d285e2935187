#pragma once
// envoy.filters.http.rbac: Envoy's role-based access control on requests. `rules` decide
// (ALLOW: only what a policy matches passes; DENY: what a policy matches is refused with 403
// "RBAC: access denied"); `shadow_rules` are only counted. Istio's AuthorizationPolicy becomes
// one such filter per action. Stats http.<stat_prefix>.rbac.{allowed,denied,shadow_allowed,
// shadow_denied} (with rules_stat_prefix / shadow_rules_stat_prefix, as Envoy).
#include <memory>
#include <string>

#include "common/stats/stats.h"
#include "proxy/filters/http/rbac/rbac_matcher.h"
#include "proxy/http/filter.h"

namespace weft::proxy::http::rbac {

#define WEFT_RBAC_STATS(COUNTER, GAUGE) COUNTER(allowed) COUNTER(denied)
WEFT_STATS_STRUCT(RbacStats, WEFT_RBAC_STATS)
#define WEFT_RBAC_SHADOW_STATS(COUNTER, GAUGE) COUNTER(shadow_allowed) COUNTER(shadow_denied)
WEFT_STATS_STRUCT(RbacShadowStats, WEFT_RBAC_SHADOW_STATS)

struct RbacConfig {
  std::shared_ptr<const Policies> rules;         // null: every request passes
  std::shared_ptr<const Policies> shadow_rules;  // null: none
  std::shared_ptr<stats::Scope> stats, shadow_stats;
};

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
