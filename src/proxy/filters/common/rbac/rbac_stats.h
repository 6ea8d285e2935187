#pragma once
// The RBAC filters' counters, as Envoy's generateStats: <prefix>rbac.<rules_stat_prefix>allowed,
// ...denied, and <prefix>rbac.<shadow_rules_stat_prefix>shadow_allowed, ...shadow_denied.
#include <memory>
#include <string>

#include "common/stats/stats.h"
#include "proxy/filters/common/rbac/rbac_matcher.h"

namespace weft::proxy::rbac {

#define WEFT_RBAC_STATS(COUNTER, GAUGE) COUNTER(allowed) COUNTER(denied)
WEFT_STATS_STRUCT(RbacStats, WEFT_RBAC_STATS)
#define WEFT_RBAC_SHADOW_STATS(COUNTER, GAUGE) COUNTER(shadow_allowed) COUNTER(shadow_denied)
WEFT_STATS_STRUCT(RbacShadowStats, WEFT_RBAC_SHADOW_STATS)

// Compiled rules and shadow rules with their counters, shared by the HTTP and network filters.
struct RbacConfig {
  std::shared_ptr<const Policies> rules;         // null: everything passes
  std::shared_ptr<const Policies> shadow_rules;  // null: none
  std::shared_ptr<stats::Scope> stats, shadow_stats;

  // Compiles `rules` and `shadow_rules` (either may be null) with Envoy's counters:
  // <stats_prefix><rules_prefix>{allowed,denied} and <stats_prefix><shadow_prefix>shadow_*.
  static std::shared_ptr<const RbacConfig> compile(const envoy::config::rbac::v3::RBAC* rules,
                                                   const envoy::config::rbac::v3::RBAC* shadow_rules,
                                                   const std::string& stats_prefix, const std::string& rules_prefix,
                                                   const std::string& shadow_prefix, stats::Store& store,
                                                   const std::string& path) {
    auto c = std::make_shared<RbacConfig>();
    if (rules) {
      c->rules = Policies::compile(*rules, path + ".rules");
      c->stats = store.scope(stats_prefix + rules_prefix, RbacStats::kDefs, RbacStats::kCount);
    }
    if (shadow_rules) {
      c->shadow_rules = Policies::compile(*shadow_rules, path + ".shadow_rules");
      c->shadow_stats = store.scope(stats_prefix + shadow_prefix, RbacShadowStats::kDefs, RbacShadowStats::kCount);
    }
    return c;
  }

  // Counts the shadow verdict, then decides; `matched` names the deciding policy.
  bool allowed(const RbacRequest& r, std::string* matched) const {
    if (shadow_rules)
      shadow_stats->inc(shadow_rules->allowed(r, nullptr) ? RbacShadowStats::shadow_allowed
                                                          : RbacShadowStats::shadow_denied);
    if (!rules) return true;
    bool ok = rules->allowed(r, matched);
    stats->inc(ok ? RbacStats::allowed : RbacStats::denied);
    return ok;
  }
};

}  // namespace weft::proxy::rbac
