#include "control/xds/authz_gen.h"

#include "envoy/config/rbac/v3/rbac.pb.h"
#include "envoy/extensions/filters/http/rbac/v3/rbac.pb.h"

namespace weft::control::xds {

namespace {

namespace rbacv3 = envoy::config::rbac::v3;
namespace hcmv3 = envoy::extensions::filters::network::http_connection_manager::v3;
using StringMatcher = envoy::type::matcher::v3::StringMatcher;

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

rbacv3::Principal principalName(const std::string& v) {
  rbacv3::Principal p;
  if (v == "*") {
    p.mutable_authenticated();  // any authenticated peer
    return p;
  }
  // Istio's principals leave out "spiffe://": an exact or prefix form gets it back; a suffix
  // form matches the end of the identity as it is.
  *p.mutable_authenticated()->mutable_principal_name() = match(v.front() == '*' ? v : "spiffe://" + v);
  return p;
}

rbacv3::Principal namespaceOf(const std::string& ns) {
  rbacv3::Principal p;
  if (ns == "*") {
    p.mutable_authenticated();
    return p;
  }
  // The namespace segment of the SPIFFE identity, as Istio matches it.
  auto* re = p.mutable_authenticated()->mutable_principal_name()->mutable_safe_regex();
  std::string quoted;
  for (char c : ns) {
    if (!isalnum(static_cast<unsigned char>(c))) quoted += '\\';
    quoted += c;
  }
  re->set_regex(".*/ns/" + quoted + "/.*");
  return p;
}

rbacv3::Principal directIp(const std::string& v, bool remote) {
  rbacv3::Principal p;
  *(remote ? p.mutable_remote_ip() : p.mutable_direct_remote_ip()) = cidr(v);
  return p;
}

// values: any of them; not_values: none of them. Both: AND.
template <typename T, typename F>
void addField(const AuthzField& f, F make, std::vector<T>& out) {
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

rbacv3::Policy rulePolicy(const AuthzRule& rule) {
  std::vector<rbacv3::Permission> perms;
  std::vector<rbacv3::Principal> principals;
  if (!rule.to.empty()) {
    rbacv3::Permission any_op;
    for (const auto& op : rule.to) {
      std::vector<rbacv3::Permission> fields;
      addField(
          op.hosts, [](const std::string& v) { return header(":authority", v, true); }, fields);
      addField(
          op.methods, [](const std::string& v) { return header(":method", v); }, fields);
      addField(op.paths, pathPermission, fields);
      addField(op.ports, portPermission, fields);
      *any_op.mutable_or_rules()->add_rules() = allOf(std::move(fields));
    }
    perms.push_back(any_op);
  }
  if (!rule.from.empty()) {
    rbacv3::Principal any_source;
    for (const auto& src : rule.from) {
      std::vector<rbacv3::Principal> fields;
      addField(src.principals, principalName, fields);
      addField(src.namespaces, namespaceOf, fields);
      addField(
          src.ip_blocks, [](const std::string& v) { return directIp(v, false); }, fields);
      addField(
          src.remote_ip_blocks, [](const std::string& v) { return directIp(v, true); }, fields);
      *any_source.mutable_or_ids()->add_ids() = allOf(std::move(fields));
    }
    principals.push_back(any_source);
  }
  for (const auto& c : rule.when) {
    if (c.key.rfind("request.headers[", 0) == 0) {
      std::string name = c.key.substr(16, c.key.size() - 17);
      addField(
          c.values, [&](const std::string& v) { return header(name, v); }, perms);
    } else if (c.key == "destination.port") {
      addField(c.values, portPermission, perms);
    } else if (c.key == "destination.ip") {
      addField(c.values, destinationIp, perms);
    } else if (c.key == "connection.sni") {
      addField(c.values, sniPermission, perms);
    } else if (c.key == "source.ip" || c.key == "remote.ip") {
      bool remote = c.key == "remote.ip";
      addField(
          c.values, [remote](const std::string& v) { return directIp(v, remote); }, principals);
    } else if (c.key == "source.namespace") {
      addField(c.values, namespaceOf, principals);
    } else if (c.key == "source.principal") {
      addField(c.values, principalName, principals);
    }
  }
  rbacv3::Policy policy;
  *policy.add_permissions() = allOf(std::move(perms));
  *policy.add_principals() = allOf(std::move(principals));
  return policy;
}

hcmv3::HttpFilter rbacFilter(const std::vector<const AuthorizationPolicy*>& policies, rbacv3::RBAC::Action action,
                             bool shadow) {
  envoy::extensions::filters::http::rbac::v3::RBAC cfg;
  rbacv3::RBAC* rules = shadow ? cfg.mutable_shadow_rules() : cfg.mutable_rules();
  rules->set_action(action);
  for (const auto* p : policies) {
    for (size_t i = 0; i < p->rules.size(); ++i) {
      std::string name = "ns[" + p->meta.ns + "]-policy[" + p->meta.name + "]-rule[" + std::to_string(i) + "]";
      (*rules->mutable_policies())[name] = rulePolicy(p->rules[i]);
    }
  }
  if (shadow) cfg.set_shadow_rules_stat_prefix("istio_audit_");
  hcmv3::HttpFilter f;
  f.set_name("envoy.filters.http.rbac");
  f.mutable_typed_config()->PackFrom(cfg);
  return f;
}

}  // namespace

std::vector<hcmv3::HttpFilter> authzHttpFilters(const MeshModel& model, const ProxyInfo& proxy) {
  std::vector<const AuthorizationPolicy*> deny, allow, audit;
  for (const auto* p : applicable(model, proxy)) {
    switch (p->action) {
      case AuthorizationPolicy::Action::Deny:
        deny.push_back(p);
        break;
      case AuthorizationPolicy::Action::Allow:
        allow.push_back(p);
        break;
      case AuthorizationPolicy::Action::Audit:
        audit.push_back(p);
        break;
    }
  }
  std::vector<hcmv3::HttpFilter> out;
  if (!audit.empty()) out.push_back(rbacFilter(audit, rbacv3::RBAC::DENY, true));
  if (!deny.empty()) out.push_back(rbacFilter(deny, rbacv3::RBAC::DENY, false));
  if (!allow.empty()) out.push_back(rbacFilter(allow, rbacv3::RBAC::ALLOW, false));
  return out;
}

bool authzApplies(const MeshModel& model, const ProxyInfo& proxy) {
  for (const auto* p : applicable(model, proxy))
    if (p->action != AuthorizationPolicy::Action::Audit) return true;
  return false;
}

}  // namespace weft::control::xds
