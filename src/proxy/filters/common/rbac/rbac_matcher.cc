#include "proxy/filters/common/rbac/rbac_matcher.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <map>

#include "common/config/error.h"
#include "common/tls/subject_alt_names.h"
#include "proxy/http/matchers.h"
#include "proxy/http/metadata_matcher.h"

namespace weft::proxy::rbac {

namespace rbacv3 = envoy::config::rbac::v3;
using http::HeaderMatcher;
using http::MetadataMatcher;
using http::StringMatcher;

std::string_view RbacRequest::path() const { return head_ ? head_->path : std::string_view(); }

const std::optional<std::string>& RbacRequest::principal() const {
  if (principal_read_) return principal_;
  principal_read_ = true;
  if (ssl_ == nullptr) return principal_;
  X509* cert = SSL_get0_peer_certificate(ssl_);
  if (cert == nullptr || SSL_get_verify_result(ssl_) != X509_V_OK) return principal_;
  for (int type : {GEN_URI, GEN_DNS}) {
    auto names = weft::tls::subjectAltNames(cert, type);
    if (!names.empty()) {
      principal_ = names.front();
      break;
    }
  }
  if (!principal_) {
    char buf[512];
    X509_NAME_oneline(X509_get_subject_name(cert), buf, sizeof(buf));
    principal_ = buf;
  }
  return principal_;
}

namespace {

using List = std::vector<std::unique_ptr<Matcher>>;

class Any final : public Matcher {
 public:
  bool matches(const RbacRequest&) const override { return true; }
};
class And final : public Matcher {
 public:
  explicit And(List l) : list_(std::move(l)) {}
  bool matches(const RbacRequest& r) const override {
    for (const auto& m : list_)
      if (!m->matches(r)) return false;
    return true;
  }

 private:
  List list_;
};
class Or final : public Matcher {
 public:
  explicit Or(List l) : list_(std::move(l)) {}
  bool matches(const RbacRequest& r) const override {
    for (const auto& m : list_)
      if (m->matches(r)) return true;
    return false;
  }

 private:
  List list_;
};
class Not final : public Matcher {
 public:
  explicit Not(std::unique_ptr<Matcher> m) : m_(std::move(m)) {}
  bool matches(const RbacRequest& r) const override { return !m_->matches(r); }

 private:
  std::unique_ptr<Matcher> m_;
};
class Header final : public Matcher {
 public:
  explicit Header(HeaderMatcher m) : m_(std::move(m)) {}
  bool matches(const RbacRequest& r) const override { return r.head() && m_.match(*r.head(), r.scheme()); }

 private:
  HeaderMatcher m_;
};
class UrlPath final : public Matcher {
 public:
  explicit UrlPath(StringMatcher m) : m_(std::move(m)) {}
  bool matches(const RbacRequest& r) const override { return r.head() && m_.match(r.path()); }

 private:
  StringMatcher m_;
};
class Cidr final : public Matcher {
 public:
  Cidr(net::CidrRange range, bool local) : range_(range), local_(local) {}
  bool matches(const RbacRequest& r) const override {
    const net::Address* a = local_ ? r.local() : r.remote();
    return a && range_.contains(*a);
  }

 private:
  net::CidrRange range_;
  bool local_;
};
class Port final : public Matcher {
 public:
  Port(uint32_t lo, uint32_t hi) : lo_(lo), hi_(hi) {}
  bool matches(const RbacRequest& r) const override {
    return r.local() && r.local()->port() >= lo_ && r.local()->port() < hi_;
  }

 private:
  uint32_t lo_, hi_;
};
class Sni final : public Matcher {
 public:
  explicit Sni(StringMatcher m) : m_(std::move(m)) {}
  bool matches(const RbacRequest& r) const override { return m_.match(r.sni()); }

 private:
  StringMatcher m_;
};
class Authenticated final : public Matcher {
 public:
  explicit Authenticated(std::optional<StringMatcher> m) : m_(std::move(m)) {}
  bool matches(const RbacRequest& r) const override {
    const auto& p = r.principal();
    if (!p) return false;
    return !m_ || m_->match(*p);  // no principal_name: any authenticated peer
  }

 private:
  std::optional<StringMatcher> m_;
};

class Metadata final : public Matcher {
 public:
  explicit Metadata(MetadataMatcher m) : m_(std::move(m)) {}
  bool matches(const RbacRequest& r) const override { return m_.match(r.metadata()); }

 private:
  MetadataMatcher m_;
};

net::CidrRange cidr(const envoy::config::core::v3::CidrRange& c, const std::string& path) {
  auto r = net::CidrRange::parse(c.address_prefix(), c.has_prefix_len() ? c.prefix_len().value() : 0);
  if (!r) throw ConfigError(path + ": '" + c.address_prefix() + "' is not an IP prefix");
  return *r;
}

template <typename Rep, typename F>
List compileList(const Rep& rules, const std::string& path, F compile) {
  List out;
  for (int i = 0; i < rules.size(); ++i) out.push_back(compile(rules.Get(i), path + "[" + std::to_string(i) + "]"));
  return out;
}

}  // namespace

std::unique_ptr<Matcher> compilePermission(const rbacv3::Permission& p, const std::string& path) {
  switch (p.rule_case()) {
    case rbacv3::Permission::kAny:
      return std::make_unique<Any>();
    case rbacv3::Permission::kAndRules:
      return std::make_unique<And>(compileList(p.and_rules().rules(), path + ".and_rules.rules", compilePermission));
    case rbacv3::Permission::kOrRules:
      return std::make_unique<Or>(compileList(p.or_rules().rules(), path + ".or_rules.rules", compilePermission));
    case rbacv3::Permission::kNotRule:
      return std::make_unique<Not>(compilePermission(p.not_rule(), path + ".not_rule"));
    case rbacv3::Permission::kHeader:
      return std::make_unique<Header>(HeaderMatcher::compile(p.header(), path + ".header"));
    case rbacv3::Permission::kUrlPath:
      if (!p.url_path().has_path()) throw ConfigError(path + ".url_path.path: required");
      return std::make_unique<UrlPath>(StringMatcher::compile(p.url_path().path(), path + ".url_path.path"));
    case rbacv3::Permission::kDestinationIp:
      return std::make_unique<Cidr>(cidr(p.destination_ip(), path + ".destination_ip"), true);
    case rbacv3::Permission::kDestinationPort:
      if (p.destination_port() == 0 || p.destination_port() > 65535)
        throw ConfigError(path + ".destination_port: must be 1-65535");
      return std::make_unique<Port>(p.destination_port(), p.destination_port() + 1);
    case rbacv3::Permission::kDestinationPortRange: {
      const auto& r = p.destination_port_range();
      if (r.start() < 0 || r.end() > 65536 || r.start() >= r.end())
        throw ConfigError(path + ".destination_port_range: must be [start, end) within 0-65536");
      return std::make_unique<Port>(static_cast<uint32_t>(r.start()), static_cast<uint32_t>(r.end()));
    }
    case rbacv3::Permission::kRequestedServerName:
      return std::make_unique<Sni>(StringMatcher::compile(p.requested_server_name(), path + ".requested_server_name"));
    case rbacv3::Permission::kMetadata:
      return std::make_unique<Metadata>(MetadataMatcher::compile(p.metadata(), path + ".metadata"));
    default:
      throw ConfigError(path +
                        ": this permission is not supported by weft-proxy (any, and_rules, or_rules, not_rule, "
                        "header, url_path, destination_ip, destination_port, destination_port_range, "
                        "requested_server_name are)");
  }
}

std::unique_ptr<Matcher> compilePrincipal(const rbacv3::Principal& p, const std::string& path) {
  switch (p.identifier_case()) {
    case rbacv3::Principal::kAny:
      return std::make_unique<Any>();
    case rbacv3::Principal::kAndIds:
      return std::make_unique<And>(compileList(p.and_ids().ids(), path + ".and_ids.ids", compilePrincipal));
    case rbacv3::Principal::kOrIds:
      return std::make_unique<Or>(compileList(p.or_ids().ids(), path + ".or_ids.ids", compilePrincipal));
    case rbacv3::Principal::kNotId:
      return std::make_unique<Not>(compilePrincipal(p.not_id(), path + ".not_id"));
    case rbacv3::Principal::kAuthenticated:
      if (p.authenticated().has_principal_name())
        return std::make_unique<Authenticated>(
            StringMatcher::compile(p.authenticated().principal_name(), path + ".authenticated.principal_name"));
      return std::make_unique<Authenticated>(std::nullopt);
    case rbacv3::Principal::kSourceIp:
      return std::make_unique<Cidr>(cidr(p.source_ip(), path + ".source_ip"), false);
    case rbacv3::Principal::kDirectRemoteIp:
      return std::make_unique<Cidr>(cidr(p.direct_remote_ip(), path + ".direct_remote_ip"), false);
    case rbacv3::Principal::kRemoteIp:
      // The downstream address (weft-proxy does not derive one from x-forwarded-for).
      return std::make_unique<Cidr>(cidr(p.remote_ip(), path + ".remote_ip"), false);
    case rbacv3::Principal::kHeader:
      return std::make_unique<Header>(HeaderMatcher::compile(p.header(), path + ".header"));
    case rbacv3::Principal::kUrlPath:
      if (!p.url_path().has_path()) throw ConfigError(path + ".url_path.path: required");
      return std::make_unique<UrlPath>(StringMatcher::compile(p.url_path().path(), path + ".url_path.path"));
    case rbacv3::Principal::kMetadata:
      return std::make_unique<Metadata>(MetadataMatcher::compile(p.metadata(), path + ".metadata"));
    default:
      throw ConfigError(path +
                        ": this principal is not supported by weft-proxy (any, and_ids, or_ids, not_id, "
                        "authenticated, source_ip, direct_remote_ip, remote_ip, header, url_path, metadata are)");
  }
}

std::shared_ptr<const Policies> Policies::compile(const rbacv3::RBAC& rbac, const std::string& path) {
  auto out = std::make_shared<Policies>();
  switch (rbac.action()) {
    case rbacv3::RBAC::ALLOW:
      out->action_ = Action::Allow;
      break;
    case rbacv3::RBAC::DENY:
      out->action_ = Action::Deny;
      break;
    case rbacv3::RBAC::LOG:
      out->action_ = Action::Log;
      break;
    default:
      throw ConfigError(path + ".action: must be ALLOW, DENY or LOG");
  }
  std::map<std::string, const rbacv3::Policy*> sorted;
  for (const auto& [name, policy] : rbac.policies()) sorted[name] = &policy;
  for (const auto& [name, policy] : sorted) {
    std::string ppath = path + ".policies['" + name + "']";
    if (policy->has_condition() || policy->has_checked_condition())
      throw ConfigError(ppath + ": CEL conditions are not supported by weft-proxy");
    if (policy->permissions_size() == 0) throw ConfigError(ppath + ".permissions: at least one is required");
    if (policy->principals_size() == 0) throw ConfigError(ppath + ".principals: at least one is required");
    Policy p;
    p.name = name;
    p.permissions = compileList(policy->permissions(), ppath + ".permissions", compilePermission);
    p.principals = compileList(policy->principals(), ppath + ".principals", compilePrincipal);
    out->policies_.push_back(std::move(p));
  }
  return out;
}

bool Policies::allowed(const RbacRequest& r, std::string* matched) const {
  const Policy* hit = nullptr;
  for (const auto& p : policies_) {
    bool perm = false, princ = false;
    for (const auto& m : p.permissions) perm = perm || m->matches(r);
    if (!perm) continue;
    for (const auto& m : p.principals) princ = princ || m->matches(r);
    if (princ) {
      hit = &p;
      break;
    }
  }
  if (matched) *matched = hit ? hit->name : "";
  switch (action_) {
    case Action::Allow:
      return hit != nullptr;
    case Action::Deny:
      return hit == nullptr;
    case Action::Log:
      return true;
  }
  return true;
}

config::FieldTable rbacSupportedFields() {
  return {
      {"envoy.config.rbac.v3.RBAC", {"action", "policies"}},
      {"envoy.config.rbac.v3.Policy", {"permissions", "principals"}},
      {"envoy.config.rbac.v3.Permission",
       {"and_rules", "or_rules", "any", "header", "url_path", "destination_ip", "destination_port",
        "destination_port_range", "not_rule", "requested_server_name", "metadata"}},
      {"envoy.config.rbac.v3.Permission.Set", {"rules"}},
      {"envoy.config.rbac.v3.Principal",
       {"and_ids", "or_ids", "any", "authenticated", "source_ip", "direct_remote_ip", "remote_ip", "header", "url_path",
        "not_id", "metadata"}},
      {"envoy.config.rbac.v3.Principal.Set", {"ids"}},
      {"envoy.config.rbac.v3.Principal.Authenticated", {"principal_name"}},
      {"envoy.type.matcher.v3.PathMatcher", {"path"}},
      {"envoy.config.core.v3.CidrRange", {"address_prefix", "prefix_len"}},
      {"envoy.type.v3.Int32Range", {"start", "end"}},
      {"envoy.type.matcher.v3.MetadataMatcher", {"filter", "path", "value", "invert"}},
      {"envoy.type.matcher.v3.MetadataMatcher.PathSegment", {"key"}},
      {"envoy.type.matcher.v3.ValueMatcher",
       {"null_match", "double_match", "string_match", "bool_match", "present_match", "list_match", "or_match"}},
      {"envoy.type.matcher.v3.ListMatcher", {"one_of"}},
      {"envoy.type.matcher.v3.OrMatcher", {"value_matchers"}},
      {"envoy.type.matcher.v3.DoubleMatcher", {"range", "exact"}},
      {"envoy.type.v3.DoubleRange", {"start", "end"}},
  };
}

}  // namespace weft::proxy::rbac
