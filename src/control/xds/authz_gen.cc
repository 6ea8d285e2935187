#include "control/xds/authz_gen.h"
#include "control/xds/pack.h"

#include "envoy/config/rbac/v3/rbac.pb.h"
#include "envoy/extensions/filters/http/rbac/v3/rbac.pb.h"
#include "envoy/extensions/filters/network/rbac/v3/rbac.pb.h"

namespace weft::control::xds {

namespace {

namespace rbacv3 = envoy::config::rbac::v3;
namespace hcmv3 = envoy::extensions::filters::network::http_connection_manager::v3;
namespace lv3 = envoy::config::listener::v3;
using StringMatcher = envoy::type::matcher::v3::StringMatcher;
using ValueMatcher = envoy::type::matcher::v3::ValueMatcher;

constexpr const char* kJwtFilter = "envoy.filters.http.jwt_authn";
constexpr const char* kJwtPayload = "payload";  // jwt_gen's payload_in_metadata

std::vector<const AuthorizationPolicy*> applicable(const MeshModel& model, const ProxyInfo& proxy) {
  std::vector<const AuthorizationPolicy*> out;
  if (!model.config) return out;
  for (const auto& p : model.config->authorization_policies) {
    bool mesh_wide = p.meta.ns == model.root_namespace && p.selector.empty();
    bool here = p.meta.ns == proxy.ns;
    bool selected = true;
    for (const auto& [k, v] : p.selector) {
      auto it = proxy.labels.find(k);
      selected = selected && it != proxy.labels.end() && it->second == v;
    }
    if (mesh_wide || (here && selected)) out.push_back(&p);
  }
  return out;
}

// Go's regexp.QuoteMeta, which Istio uses for the names it puts in regexes.
std::string quoteMeta(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (std::string_view("\\.+*?()|[]{}^$").find(c) != std::string_view::npos) out += '\\';
    out += c;
  }
  return out;
}

StringMatcher regex(const std::string& re) {
  StringMatcher m;
  m.mutable_safe_regex()->set_regex(re);
  return m;
}

// Istio's value forms: "x" exact, "x*" prefix, "*x" suffix ("*" is handled by the callers).
StringMatcher match(const std::string& v, bool ignore_case = false) {
  StringMatcher m;
  if (v.size() > 1 && v.back() == '*')
    m.set_prefix(v.substr(0, v.size() - 1));
  else if (v.size() > 1 && v.front() == '*')
    m.set_suffix(v.substr(1));
  else
    m.set_exact(v);
  m.set_ignore_case(ignore_case);
  return m;
}

// Istio's StringMatcher(v): as match(), with "*" meaning any non-empty value.
StringMatcher matchOrAny(const std::string& v) { return v == "*" ? regex(".+") : match(v); }

rbacv3::Permission header(const std::string& name, const std::string& v, bool ignore_case = false) {
  rbacv3::Permission p;
  auto* h = p.mutable_header();
  h->set_name(name);
  if (v == "*")
    h->set_present_match(true);
  else
    *h->mutable_string_match() = match(v, ignore_case);
  return p;
}

envoy::config::core::v3::CidrRange cidr(const std::string& v) {
  envoy::config::core::v3::CidrRange r;
  auto slash = v.find('/');
  r.set_address_prefix(v.substr(0, slash));
  uint32_t len = v.find(':') != std::string::npos ? 128 : 32;
  if (slash != std::string::npos) len = static_cast<uint32_t>(std::stoul(v.substr(slash + 1)));
  r.mutable_prefix_len()->set_value(len);
  return r;
}

rbacv3::Principal authenticated(const StringMatcher& m) {
  rbacv3::Principal p;
  *p.mutable_authenticated()->mutable_principal_name() = m;
  return p;
}

rbacv3::Principal principalName(const std::string& v) {
  if (v == "*") {
    rbacv3::Principal p;
    p.mutable_authenticated();  // any authenticated peer
    return p;
  }
  // Istio's principals leave out "spiffe://": an exact or prefix form gets it back; a suffix
  // form matches the end of the identity as it is.
  return authenticated(match(v.front() == '*' ? v : "spiffe://" + v));
}

rbacv3::Principal namespaceOf(const std::string& ns) {
  // The namespace segment of the SPIFFE identity, '*' standing for any run of characters.
  std::string re;
  size_t at = 0;
  for (size_t star; (star = ns.find('*', at)) != std::string::npos; at = star + 1)
    re += quoteMeta(ns.substr(at, star - at)) + ".*";
  re += quoteMeta(ns.substr(at));
  return authenticated(regex(".*/ns/" + re + "/.*"));
}

// "name" (in the policy's namespace) or "namespace/name".
rbacv3::Principal serviceAccount(const std::string& policy_ns, const std::string& v) {
  auto slash = v.find('/');
  std::string ns = slash == std::string::npos ? policy_ns : v.substr(0, slash);
  std::string sa = slash == std::string::npos ? v : v.substr(slash + 1);
  return authenticated(regex("spiffe://.+/ns/" + quoteMeta(ns) + "/(.+/|)sa/" + quoteMeta(sa) + "(/.+)?"));
}

rbacv3::Principal trustDomain(const std::string& v) {
  StringMatcher m;
  if (v == "*") {
    m.set_prefix("spiffe://");
  } else if (v.find('*') == std::string::npos) {
    m.set_prefix("spiffe://" + v + "/");
  } else {
    auto star = v.find('*');
    m = regex("spiffe://" + quoteMeta(v.substr(0, star)) + "[^/]*" + quoteMeta(v.substr(star + 1)) + "/.*");
  }
  return authenticated(m);
}

rbacv3::Principal directIp(const std::string& v, bool remote) {
  rbacv3::Principal p;
  *(remote ? p.mutable_remote_ip() : p.mutable_direct_remote_ip()) = cidr(v);
  return p;
}

// A JWT claim in jwt_authn's payload metadata.
rbacv3::Principal claim(const std::vector<std::string>& path, const ValueMatcher& value) {
  rbacv3::Principal p;
  auto* m = p.mutable_metadata();
  m->set_filter(kJwtFilter);
  m->add_path()->set_key(kJwtPayload);
  for (const auto& k : path) m->add_path()->set_key(k);
  *m->mutable_value() = value;
  return p;
}

ValueMatcher stringValue(const StringMatcher& s) {
  ValueMatcher v;
  *v.mutable_string_match() = s;
  return v;
}

// A claim holding `v` itself or a list with `v` in it (Istio's extended JWT matcher).
rbacv3::Principal claimHas(const std::vector<std::string>& path, const std::string& v) {
  ValueMatcher one = stringValue(matchOrAny(v)), either;
  *either.mutable_or_match()->add_value_matchers()->mutable_list_match()->mutable_one_of() = one;
  *either.mutable_or_match()->add_value_matchers() = one;
  return claim(path, either);
}

// requestPrincipals and request.auth.principal: "ISS/SUB", split at the last '/', as Istio.
rbacv3::Principal requestPrincipal(const std::string& v) {
  auto slash = v.rfind('/');
  bool found = slash != std::string::npos;
  std::string iss = found ? v.substr(0, slash) : v, sub = found ? v.substr(slash + 1) : "";
  StringMatcher any = regex(".+"), mi, ms;
  if (v == "*") {
    mi = ms = any;
  } else if (v.front() == '*') {
    if (found) {
      mi = iss == "*" ? any : match(iss);  // "*x" suffix
      ms = match(sub);
    } else {
      mi = any;
      ms = match(v);
    }
  } else if (v.back() == '*') {
    if (found) {
      mi = match(iss);
      ms = sub == "*" ? any : match(sub);  // "x*" prefix
    } else {
      mi = match(v);
      ms = any;
    }
  } else {
    mi = match(iss);
    ms = match(sub);
  }
  rbacv3::Principal p;
  *p.mutable_and_ids()->add_ids() = claim({"iss"}, stringValue(mi));
  *p.mutable_and_ids()->add_ids() = claim({"sub"}, stringValue(ms));
  return p;
}

// request.auth.claims[a][b] -> {a, b}
std::vector<std::string> claimPath(const std::string& key) {
  std::vector<std::string> out;
  for (size_t at = key.find('['); at != std::string::npos; at = key.find('[', at + 1))
    out.push_back(key.substr(at + 1, key.find(']', at) - at - 1));
  return out;
}

rbacv3::Permission portPermission(const std::string& v) {
  rbacv3::Permission p;
  p.set_destination_port(static_cast<uint32_t>(std::stoul(v)));
  return p;
}

rbacv3::Permission destinationIp(const std::string& v) {
  rbacv3::Permission p;
  *p.mutable_destination_ip() = cidr(v);
  return p;
}

rbacv3::Permission sniPermission(const std::string& v) {
  rbacv3::Permission p;
  *p.mutable_requested_server_name() = match(v);
  return p;
}

rbacv3::Permission pathPermission(const std::string& v) {
  rbacv3::Permission p;
  *p.mutable_url_path()->mutable_path() = v == "*" ? match("/*") : match(v);
  return p;
}

template <typename T>
T allOf(std::vector<T> list) {
  T out;
  if (list.empty()) {
    out.set_any(true);
  } else if constexpr (std::is_same_v<T, rbacv3::Permission>) {
    for (auto& p : list) *out.mutable_and_rules()->add_rules() = std::move(p);
  } else {
    for (auto& p : list) *out.mutable_and_ids()->add_ids() = std::move(p);
  }
  return out;
}

// One rule's translation for one kind of filter chain.
class RuleBuilder {
 public:
  RuleBuilder(bool tcp, AuthorizationPolicy::Action action, const std::string& policy_ns)
      : tcp_(tcp), allow_(action == AuthorizationPolicy::Action::Allow), policy_ns_(policy_ns) {}

  // The policy, or nothing when an ALLOW rule needs what a TCP chain cannot see.
  std::optional<rbacv3::Policy> build(const AuthzRule& rule) {
    std::vector<rbacv3::Permission> perms;
    std::vector<rbacv3::Principal> principals;
    if (!rule.to.empty()) {
      rbacv3::Permission any_op;
      for (const auto& op : rule.to) {
        std::vector<rbacv3::Permission> fields;
        add(
            op.hosts, true, [](const std::string& v) { return header(":authority", v, true); }, fields);
        add(
            op.methods, true, [](const std::string& v) { return header(":method", v); }, fields);
        add(op.paths, true, pathPermission, fields);
        add(op.ports, false, portPermission, fields);
        *any_op.mutable_or_rules()->add_rules() = allOf(std::move(fields));
      }
      perms.push_back(any_op);
    }
    if (!rule.from.empty()) {
      rbacv3::Principal any_source;
      for (const auto& src : rule.from) {
        std::vector<rbacv3::Principal> fields;
        add(src.principals, false, principalName, fields);
        add(src.request_principals, true, requestPrincipal, fields);
        add(
            src.service_accounts, false, [this](const std::string& v) { return serviceAccount(policy_ns_, v); },
            fields);
        add(src.namespaces, false, namespaceOf, fields);
        add(src.trust_domains, false, trustDomain, fields);
        add(
            src.ip_blocks, false, [](const std::string& v) { return directIp(v, false); }, fields);
        add(
            src.remote_ip_blocks, false, [](const std::string& v) { return directIp(v, true); }, fields);
        *any_source.mutable_or_ids()->add_ids() = allOf(std::move(fields));
      }
      principals.push_back(any_source);
    }
    for (const auto& c : rule.when) condition(c, perms, principals);
    if (skip_) return std::nullopt;
    rbacv3::Policy policy;
    *policy.add_permissions() = allOf(std::move(perms));
    *policy.add_principals() = allOf(std::move(principals));
    return policy;
  }

 private:
  void condition(const AuthzCondition& c, std::vector<rbacv3::Permission>& perms,
                 std::vector<rbacv3::Principal>& principals) {
    const std::string& k = c.key;
    if (k.rfind("request.headers[", 0) == 0) {
      std::string name = k.substr(16, k.size() - 17);
      add(
          c.values, true, [&](const std::string& v) { return header(name, v); }, perms);
    } else if (k == "destination.port") {
      add(c.values, false, portPermission, perms);
    } else if (k == "destination.ip") {
      add(c.values, false, destinationIp, perms);
    } else if (k == "connection.sni") {
      add(c.values, false, sniPermission, perms);
    } else if (k == "source.ip" || k == "remote.ip") {
      bool remote = k == "remote.ip";
      add(
          c.values, false, [remote](const std::string& v) { return directIp(v, remote); }, principals);
    } else if (k == "source.namespace") {
      add(c.values, false, namespaceOf, principals);
    } else if (k == "source.principal") {
      add(c.values, false, principalName, principals);
    } else if (k == "source.serviceAccount") {
      add(
          c.values, false, [this](const std::string& v) { return serviceAccount(policy_ns_, v); }, principals);
    } else if (k == "source.trustDomain") {
      add(c.values, false, trustDomain, principals);
    } else if (k == "request.auth.principal") {
      add(c.values, true, requestPrincipal, principals);
    } else if (k == "request.auth.audiences" || k == "request.auth.presenter" ||
               k.rfind("request.auth.claims", 0) == 0) {
      std::vector<std::string> path = k == "request.auth.audiences"   ? std::vector<std::string>{"aud"}
                                      : k == "request.auth.presenter" ? std::vector<std::string>{"azp"}
                                                                      : claimPath(k);
      add(
          c.values, true, [&](const std::string& v) { return claimHas(path, v); }, principals);
    }
  }

  // values: any of them; not_values: none of them. Both: AND. A field the chain cannot see
  // skips an ALLOW rule and is left out of the others.
  template <typename T, typename F>
  void add(const AuthzField& f, bool http_only, F make, std::vector<T>& out) {
    if (f.empty()) return;
    if (tcp_ && http_only) {
      skip_ = skip_ || allow_;
      return;
    }
    if (!f.values.empty()) {
      T any_of;
      auto* set = [&]() {
        if constexpr (std::is_same_v<T, rbacv3::Permission>)
          return any_of.mutable_or_rules()->mutable_rules();
        else
          return any_of.mutable_or_ids()->mutable_ids();
      }();
      for (const auto& v : f.values) *set->Add() = make(v);
      out.push_back(any_of);
    }
    if (!f.not_values.empty()) {
      T none_of;
      auto* inner = [&]() {
        if constexpr (std::is_same_v<T, rbacv3::Permission>)
          return none_of.mutable_not_rule()->mutable_or_rules()->mutable_rules();
        else
          return none_of.mutable_not_id()->mutable_or_ids()->mutable_ids();
      }();
      for (const auto& v : f.not_values) *inner->Add() = make(v);
      out.push_back(none_of);
    }
  }

  bool tcp_, allow_;
  const std::string& policy_ns_;
  bool skip_ = false;
};

// Per action, the enforced policies and the dry-run ones (istio.io/dry-run: shadow rules).
struct Grouped {
  std::vector<const AuthorizationPolicy*> audit, deny, allow, deny_dry_run, allow_dry_run;
};

Grouped grouped(const MeshModel& model, const ProxyInfo& proxy) {
  Grouped g;
  for (const auto* p : applicable(model, proxy)) {
    switch (p->action) {
      case AuthorizationPolicy::Action::Deny:
        (p->dry_run ? g.deny_dry_run : g.deny).push_back(p);
        break;
      case AuthorizationPolicy::Action::Allow:
        (p->dry_run ? g.allow_dry_run : g.allow).push_back(p);
        break;
      case AuthorizationPolicy::Action::Audit:
        g.audit.push_back(p);
        break;
    }
  }
  return g;
}

rbacv3::RBAC rules(const std::vector<const AuthorizationPolicy*>& policies, rbacv3::RBAC::Action action, bool tcp) {
  rbacv3::RBAC out;
  out.set_action(action);
  for (const auto* p : policies) {
    for (size_t i = 0; i < p->rules.size(); ++i) {
      std::string name = "ns[" + p->meta.ns + "]-policy[" + p->meta.name + "]-rule[" + std::to_string(i) + "]";
      if (auto policy = RuleBuilder(tcp, p->action, p->meta.ns).build(p->rules[i]))
        (*out.mutable_policies())[name] = std::move(*policy);
    }
  }
  return out;
}

// One RBAC filter's rules: the enforced ones and the counted ones.
struct FilterRules {
  std::optional<rbacv3::RBAC> rules, shadow;
  std::string shadow_prefix;
  template <typename Config>
  void into(Config& cfg) && {
    if (rules) *cfg.mutable_rules() = std::move(*rules);
    if (shadow) {
      *cfg.mutable_shadow_rules() = std::move(*shadow);
      cfg.set_shadow_rules_stat_prefix(shadow_prefix);
    }
  }
};

// AUDIT, DENY, ALLOW: one filter for each present group, with its dry-run policies as shadow
// rules (Istio's istio_dry_run_deny_ / istio_dry_run_allow_ stat prefixes).
template <typename F>
void eachFilter(const Grouped& g, bool tcp, F emit) {
  auto optional = [&](const std::vector<const AuthorizationPolicy*>& list, rbacv3::RBAC::Action action) {
    return list.empty() ? std::nullopt : std::optional<rbacv3::RBAC>(rules(list, action, tcp));
  };
  if (!g.audit.empty()) emit(FilterRules{std::nullopt, rules(g.audit, rbacv3::RBAC::DENY, tcp), "istio_audit_"});
  if (!g.deny.empty() || !g.deny_dry_run.empty())
    emit(FilterRules{optional(g.deny, rbacv3::RBAC::DENY), optional(g.deny_dry_run, rbacv3::RBAC::DENY),
                     "istio_dry_run_deny_"});
  if (!g.allow.empty() || !g.allow_dry_run.empty())
    emit(FilterRules{optional(g.allow, rbacv3::RBAC::ALLOW), optional(g.allow_dry_run, rbacv3::RBAC::ALLOW),
                     "istio_dry_run_allow_"});
}

}  // namespace

std::vector<hcmv3::HttpFilter> authzHttpFilters(const MeshModel& model, const ProxyInfo& proxy) {
  std::vector<hcmv3::HttpFilter> out;
  eachFilter(grouped(model, proxy), false, [&](FilterRules r) {
    envoy::extensions::filters::http::rbac::v3::RBAC cfg;
    std::move(r).into(cfg);
    hcmv3::HttpFilter& f = out.emplace_back();
    f.set_name("envoy.filters.http.rbac");
    pack(*f.mutable_typed_config(), cfg);
  });
  return out;
}

std::vector<lv3::Filter> authzNetworkFilters(const MeshModel& model, const ProxyInfo& proxy) {
  std::vector<lv3::Filter> out;
  eachFilter(grouped(model, proxy), true, [&](FilterRules r) {
    envoy::extensions::filters::network::rbac::v3::RBAC cfg;
    cfg.set_stat_prefix("tcp.");  // Istio's: the stats are tcp.rbac.allowed, ...
    std::move(r).into(cfg);
    lv3::Filter& f = out.emplace_back();
    f.set_name("envoy.filters.network.rbac");
    pack(*f.mutable_typed_config(), cfg);
  });
  return out;
}

}  // namespace weft::control::xds
