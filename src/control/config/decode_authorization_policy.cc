// security.istio.io AuthorizationPolicy, validated as Istio's ValidateAuthorizationPolicy.
// CUSTOM (an external authorizer), targetRef and path templates are refused with a clear error.
#include <arpa/inet.h>

#include <algorithm>

#include <set>

#include "control/config/decode_util.h"
#include "control/config/decoders.h"

namespace weft::control::decode {

namespace {

AuthzField field(const YAML::Node& n, const char* key, const char* not_key, const std::string& path, Errors& errs) {
  AuthzField f;
  for (auto [k, out] : {std::pair{key, &f.values}, std::pair{not_key, &f.not_values}}) {
    YAML::Node list = n[k];
    if (!list) continue;
    if (!list.IsSequence()) {
      errs.push_back(path + "." + k + ": must be a list");
      continue;
    }
    for (size_t i = 0; i < list.size(); ++i) {
      std::string v = list[i].IsScalar() ? list[i].as<std::string>() : "";
      if (v.empty()) {
        errs.push_back(idx(path + "." + k, i) + ": empty value not allowed");
        continue;
      }
      out->push_back(v);
    }
  }
  return f;
}

void checkCidrs(const AuthzField& f, const std::string& path, Errors& errs) {
  for (const auto& list : {&f.values, &f.not_values}) {
    for (const auto& v : *list) {
      std::string ip = v.substr(0, v.find('/'));
      unsigned char buf[16];
      bool v4 = inet_pton(AF_INET, ip.c_str(), buf) == 1, v6 = inet_pton(AF_INET6, ip.c_str(), buf) == 1;
      int max = v4 ? 32 : 128;
      bool ok = v4 || v6;
      if (ok && v.find('/') != std::string::npos) {
        try {
          int len = std::stoi(v.substr(v.find('/') + 1));
          ok = len >= 0 && len <= max;
        } catch (...) {
          ok = false;
        }
      }
      if (!ok) errs.push_back(path + ": '" + v + "' is not a valid IP address or CIDR range");
    }
  }
}

// Istio's ValidatePorts (strconv.ParseUint, at most 65535; 0 is accepted and matches nothing).
void checkPorts(const AuthzField& f, const std::string& path, Errors& errs) {
  for (const auto& list : {&f.values, &f.not_values}) {
    for (const auto& v : *list) {
      if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos)
        errs.push_back(path + ": bad port (" + v + "): strconv.ParseUint: parsing \"" + v + "\": invalid syntax");
      else if (v.size() > 5 || std::stoul(v) > 65535)
        errs.push_back(path + ": bad port (" + v + "): <nil>");
    }
  }
}

// Istio's CheckValidPathTemplate: '{*}' and '{**}' as whole segments, '{**}' last, and with a
// template, every other segment an RFC 3986 pchar literal. Returns whether `p` has a template.
bool pathTemplate(const std::string& original, const char* key, const std::string& path, Errors& errs) {
  const bool has = original.find("{*}") != std::string::npos || original.find("{**}") != std::string::npos;
  std::string p = original;
  while (!p.empty() && p.front() == '/') p.erase(0, 1);
  while (!p.empty() && p.back() == '/') p.pop_back();
  bool any = false;
  size_t start = 0;
  while (start <= p.size()) {
    size_t end = p.find('/', start);
    if (end == std::string::npos) end = p.size();
    std::string glob = p.substr(start, end - start);
    start = end + 1;
    if ((glob == "{*}" || glob == "{**}") && any) {
      errs.push_back(path + ": invalid or unsupported path " + p + ", found in " + key +
                     ". {**} is not the last operator");
      return has;
    }
    if (glob == "{*}") continue;
    if (glob == "{**}") {
      any = true;
      continue;
    }
    if (glob.find_first_of("{}") != std::string::npos) {
      errs.push_back(path + ": invalid or unsupported path " + p + ", found in " + key +
                     ". Contains '{' or '}' beyond a supported path template");
      return has;
    }
    static const std::string kPchar = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~%!$&'()+,;:@=";
    if (has && (glob.empty() || glob.find_first_not_of(kPchar) != std::string::npos)) {
      errs.push_back(path + ": invalid or unsupported path " + p + ", found in " + key + ". Contains segment " + glob +
                     " with invalid string literal");
      return has;
    }
  }
  return has;
}

void checkPaths(const AuthzField& f, const std::string& path, Errors& errs) {
  bool templates = false;
  // A '*' inside a path is a literal character (an exact match), as in Istio.
  for (const auto& v : f.values) templates |= pathTemplate(v, "Paths", path, errs);
  for (const auto& v : f.not_values) templates |= pathTemplate(v, "NotPaths", path, errs);
  if (templates) errs.push_back(path + ": path templates ('{*}', '{**}') are not supported by weftd");
}

// Istio's CheckWildcardValues / CheckTrustDomainValues.
void checkWildcards(const AuthzField& f, const char* key, bool trust_domain, const std::string& path, Errors& errs) {
  for (const auto& list : {&f.values, &f.not_values}) {
    for (const auto& v : *list) {
      auto stars = std::count(v.begin(), v.end(), '*');
      if (stars > 1) {
        errs.push_back(path + ": at most one wildcard is allowed, found in " + key + ": \"" + v + "\"");
      } else if (stars == 1 && v != "*" && v.front() != '*' && v.back() != '*') {
        errs.push_back(path + ": wildcard is only allowed at the start or end, found in " + key + ": \"" + v + "\"");
      } else if (trust_domain && v.find('/') != std::string::npos) {
        errs.push_back(path + ": trust domain must not contain '/', found in " + key + ": \"" + v + "\"");
      }
    }
  }
}

// Istio's ValidateServiceAccount: "name" or "namespace/name", not with principals or namespaces.
void checkServiceAccounts(const AuthzSource& s, const std::string& path, Errors& errs) {
  if (s.service_accounts.empty()) return;
  if (!s.principals.empty() || !s.namespaces.empty())
    errs.push_back(path + ": cannot set serviceAccounts with namespaces or principals");
  for (const auto& list : {&s.service_accounts.values, &s.service_accounts.not_values}) {
    // Istio's CheckServiceAccount; its limit keeps a policy's size bounded.
    if (list->size() > 16) errs.push_back(path + ".serviceAccounts: may not have more than 16 values");
    for (const auto& v : *list) {
      auto slash = v.find('/');
      if (v.find('*') != std::string::npos) {
        errs.push_back(path + ".serviceAccounts: '" + v + "' may not use '*'");
      } else if (std::count(v.begin(), v.end(), '/') > 1) {
        errs.push_back(path + ".serviceAccounts: '" + v + "' must be 'name' or 'namespace/name'");
      } else if (v.size() > 320) {
        errs.push_back(path + ".serviceAccounts: value cannot exceed 320 characters, found \"" + v + "\"");
      } else if (slash == 0) {
        errs.push_back(path +
                       ".serviceAccounts: expected format 'serviceAccount' or 'namespace/serviceAccount', found "
                       "empty namespace \"" +
                       v + "\"");
      } else if (v.empty() || slash == v.size() - 1) {
        errs.push_back(path +
                       ".serviceAccounts: expected format 'serviceAccount' or 'namespace/serviceAccount', found "
                       "empty serviceAccount \"" +
                       v + "\"");
      }
    }
  }
}

// request.auth.claims[a][b]... : the claim path, or empty when the brackets are malformed.
std::vector<std::string> claimPath(const std::string& key) {
  std::vector<std::string> out;
  std::string rest = key.substr(std::string("request.auth.claims").size());
  while (!rest.empty()) {
    if (rest.front() != '[') return {};
    auto end = rest.find(']');
    if (end == std::string::npos || end == 1 || rest.substr(1, end - 1).find('[') != std::string::npos) return {};
    out.push_back(rest.substr(1, end - 1));
    rest = rest.substr(end + 1);
  }
  return out;
}

const std::vector<std::string> kConditionKeys = {"source.ip",
                                                 "remote.ip",
                                                 "source.namespace",
                                                 "source.principal",
                                                 "source.serviceAccount",
                                                 "source.trustDomain",
                                                 "request.auth.principal",
                                                 "request.auth.audiences",
                                                 "request.auth.presenter",
                                                 "destination.ip",
                                                 "destination.port",
                                                 "connection.sni"};

// ValidateAuthorizationPolicy's rules for CUSTOM: a provider, rules, and no match on what the
// external authorizer cannot see.
void customAction(const YAML::Node& spec, Errors& errs) {
  YAML::Node rules = seq(spec, "rules", "spec", errs);
  if (!child(spec, "rules", "spec", errs).IsDefined()) {
    errs.push_back(
        "spec: CUSTOM action without `rules` is meaningless as it will never be triggered, add an empty rule `{}` if "
        "you want it be triggered for every request");
  } else if (str(mapField(spec, "provider", "spec", errs), "name", "spec.provider", errs).empty()) {
    errs.push_back("spec.provider: `provider.name` must not be empty");
  }
  static const std::pair<const char*, const char*> kSource[] = {{"namespaces", "From.Namespaces"},
                                                                {"notNamespaces", "From.NotNamespaces"},
                                                                {"serviceAccounts", "From.ServiceAccounts"},
                                                                {"notServiceAccounts", "From.NotServiceAccounts"},
                                                                {"trustDomains", "From.TrustDomains"},
                                                                {"notTrustDomains", "From.NotTrustDomains"},
                                                                {"principals", "From.Principals"},
                                                                {"notPrincipals", "From.NotPrincipals"},
                                                                {"requestPrincipals", "From.RequestPrincipals"},
                                                                {"notRequestPrincipals", "From.NotRequestPrincipals"}};
  for (size_t i = 0; rules && i < rules.size(); ++i) {
    const std::string rp = idx("spec.rules", i);
    YAML::Node from = seq(rules[i], "from", rp, errs);
    for (size_t j = 0; from && j < from.size(); ++j) {
      const std::string sp = idx(rp + ".from", j) + ".source";
      YAML::Node src = mapField(from[j], "source", idx(rp + ".from", j), errs);
      for (const auto& [key, name] : kSource)
        if (src && !strings(src, key, sp, errs).empty())
          errs.push_back(sp + "." + key + ": " + name + " is currently not supported with CUSTOM action");
    }
    YAML::Node when = seq(rules[i], "when", rp, errs);
    for (size_t j = 0; when && j < when.size(); ++j) {
      std::string key = str(when[j], "key", idx(rp + ".when", j), errs);
      if (key == "source.namespace" || key == "source.serviceAccount" || key == "source.trustDomain" ||
          key == "source.principal" || key.rfind("request.auth.", 0) == 0)
        errs.push_back(idx(rp + ".when", j) + ".key: " + key + " is currently not supported with CUSTOM action");
    }
  }
}

}  // namespace

AuthorizationPolicy decodeAuthorizationPolicy(const YAML::Node& doc, Errors& errs) {
  AuthorizationPolicy ap;
  ap.meta = meta(doc, errs);
  YAML::Node spec = doc["spec"];
  if (!spec || spec.IsNull()) return ap;  // an empty spec: ALLOW nothing (deny all) for the scope
  if (!expectMap(spec, "spec", errs)) return ap;
  checkKeys(spec, "spec", {"selector", "action", "rules", "provider", "targetRef", "targetRefs"}, errs);
  ap.selector = workloadSelector(spec, errs, ap.warnings);
  policyTargetRefs(spec, errs);
  std::string action = str(spec, "action", "spec", errs);
  if (action.empty() || action == "ALLOW") {
    ap.action = AuthorizationPolicy::Action::Allow;
  } else if (action == "DENY") {
    ap.action = AuthorizationPolicy::Action::Deny;
  } else if (action == "AUDIT") {
    ap.action = AuthorizationPolicy::Action::Audit;
  } else if (action == "CUSTOM") {
    customAction(spec, errs);
    errs.push_back("spec.action: CUSTOM (an external authorizer) is not supported by weftd");
  } else {
    errs.push_back("spec.action: '" + action + "' is not one of ALLOW, DENY, AUDIT, CUSTOM");
  }
  // istio.io/dry-run: Istio checks the value and the action, then only counts the policy
  // (Envoy's shadow rules).
  if (auto it = ap.meta.annotations.find("istio.io/dry-run"); it != ap.meta.annotations.end()) {
    static const std::set<std::string> kTrue = {"1", "t", "T", "TRUE", "true", "True"};
    static const std::set<std::string> kFalse = {"0", "f", "F", "FALSE", "false", "False"};
    const std::string p = "metadata.annotations[istio.io/dry-run]: ";
    const std::string who = ap.meta.ns + "/" + ap.meta.name;
    if (!kTrue.count(it->second) && !kFalse.count(it->second)) {
      errs.push_back(p + who + " has annotation istio.io/dry-run with invalid value (" + it->second +
                     "): strconv.ParseBool: parsing \"" + it->second + "\": invalid syntax");
    } else if (action == "AUDIT" || action == "CUSTOM") {
      errs.push_back(p + "the annotation istio.io/dry-run currently only supports action ALLOW/DENY, found action " +
                     action + " in " + who);
    } else {
      ap.dry_run = kTrue.count(it->second) != 0;
    }
  }

  if (spec["provider"] && action != "CUSTOM")
    errs.push_back("spec.provider: `provider` must not be with non CUSTOM action, found " + action);
  YAML::Node rules = spec["rules"];
  if (ap.action == AuthorizationPolicy::Action::Deny && !rules)
    errs.push_back(
        "spec: DENY action without `rules` is meaningless as it will never be triggered, add an empty "
        "rule `{}` if you want it be triggered for every request");
  if (rules && !rules.IsSequence()) errs.push_back("spec.rules: must be a list");
  for (size_t i = 0; rules && rules.IsSequence() && i < rules.size(); ++i) {
    std::string rp = idx("spec.rules", i);
    YAML::Node r = rules[i];
    AuthzRule rule;
    if (r.IsNull()) {
      ap.rules.push_back(rule);  // {} matches every request
      continue;
    }
    if (!expectMap(r, rp, errs)) continue;
    checkKeys(r, rp, {"from", "to", "when"}, errs);
    if (YAML::Node from = r["from"]) {
      // An empty list reaches Istio's check as no list at all (protobuf): valid.
      if (!from.IsSequence() && !from.IsNull()) errs.push_back(rp + ".from: must be a list");
      for (size_t j = 0; from.IsSequence() && j < from.size(); ++j) {
        std::string fp = idx(rp + ".from", j) + ".source";
        YAML::Node s = from[j]["source"];
        if (!s || !s.IsMap()) {
          errs.push_back(fp + ": `from.source` must not be nil");
          continue;
        }
        checkKeys(s, fp,
                  {"principals", "notPrincipals", "namespaces", "notNamespaces", "ipBlocks", "notIpBlocks",
                   "remoteIpBlocks", "notRemoteIpBlocks", "requestPrincipals", "notRequestPrincipals",
                   "serviceAccounts", "notServiceAccounts", "trustDomains", "notTrustDomains"},
                  errs);
        AuthzSource src;
        src.principals = field(s, "principals", "notPrincipals", fp, errs);
        src.namespaces = field(s, "namespaces", "notNamespaces", fp, errs);
        src.ip_blocks = field(s, "ipBlocks", "notIpBlocks", fp, errs);
        src.remote_ip_blocks = field(s, "remoteIpBlocks", "notRemoteIpBlocks", fp, errs);
        src.request_principals = field(s, "requestPrincipals", "notRequestPrincipals", fp, errs);
        src.service_accounts = field(s, "serviceAccounts", "notServiceAccounts", fp, errs);
        src.trust_domains = field(s, "trustDomains", "notTrustDomains", fp, errs);
        checkServiceAccounts(src, fp, errs);
        checkWildcards(src.trust_domains, "TrustDomains", true, fp + ".trustDomains", errs);
        checkCidrs(src.ip_blocks, fp + ".ipBlocks", errs);
        checkCidrs(src.remote_ip_blocks, fp + ".remoteIpBlocks", errs);
        if (s.size() == 0) errs.push_back(fp + ": `from.source` must not be empty");
        rule.from.push_back(std::move(src));
      }
    }
    if (YAML::Node to = r["to"]) {
      if (!to.IsSequence() && !to.IsNull()) errs.push_back(rp + ".to: must be a list");
      for (size_t j = 0; to.IsSequence() && j < to.size(); ++j) {
        std::string tp = idx(rp + ".to", j) + ".operation";
        YAML::Node o = to[j]["operation"];
        if (!o || !o.IsMap()) {
          errs.push_back(tp + ": `to.operation` must not be nil");
          continue;
        }
        checkKeys(o, tp, {"hosts", "notHosts", "ports", "notPorts", "methods", "notMethods", "paths", "notPaths"},
                  errs);
        AuthzOperation op;
        op.hosts = field(o, "hosts", "notHosts", tp, errs);
        op.ports = field(o, "ports", "notPorts", tp, errs);
        op.methods = field(o, "methods", "notMethods", tp, errs);
        op.paths = field(o, "paths", "notPaths", tp, errs);
        checkPorts(op.ports, tp + ".ports", errs);
        checkPaths(op.paths, tp + ".paths", errs);
        if (o.size() == 0) errs.push_back(tp + ": `to.operation` must not be empty");
        rule.to.push_back(std::move(op));
      }
    }
    if (YAML::Node when = r["when"]) {
      if (!when.IsSequence()) errs.push_back(rp + ".when: must be a list");
      for (size_t j = 0; when.IsSequence() && j < when.size(); ++j) {
        std::string wp = idx(rp + ".when", j);
        if (!expectMap(when[j], wp, errs)) continue;
        checkKeys(when[j], wp, {"key", "values", "notValues"}, errs);
        AuthzCondition c;
        c.key = str(when[j], "key", wp, errs);
        c.values = field(when[j], "values", "notValues", wp, errs);
        bool header = c.key.rfind("request.headers[", 0) == 0 && c.key.size() > 17 && c.key.back() == ']';
        bool claims = c.key.rfind("request.auth.claims", 0) == 0;
        bool known = header || claims;
        for (const auto& k : kConditionKeys) known = known || c.key == k;
        if (c.key.empty())
          errs.push_back(wp + ".key: must not be empty");
        else if (claims && claimPath(c.key).empty())
          errs.push_back(wp + ".key: " + c.key + ": expecting format request.auth.claims[<NAME>]");
        else if (c.key == "destination.namespace")
          errs.push_back(wp + ".key: attribute destination.namespace is replaced by the metadata.namespace");
        else if (c.key.rfind("destination.labels", 0) == 0)
          errs.push_back(wp + ".key: attribute " + c.key + " is replaced by the workload selector");
        else if (c.key == "destination.name" || c.key == "destination.user")
          errs.push_back(wp + ".key: deprecated attribute " + c.key + ": only supported in v1alpha1");
        else if (c.key.rfind("experimental.envoy.filters.", 0) == 0) {
          // Istio's validateMapKey: a[b]. Envoy filter metadata is not matched by weft-proxy.
          auto open = c.key.find('[');
          if (c.key.back() != ']' || open == std::string::npos || open == 0 || open >= c.key.size() - 2)
            errs.push_back(wp + ".key: bad key (" + c.key + "): should have format a[b]");
          else
            errs.push_back(wp + ".key: " + c.key + ": filter metadata conditions are not supported by weftd");
        } else if (!known)
          errs.push_back(wp + ".key: unknown attribute '" + c.key + "'");
        if (c.values.empty()) errs.push_back(wp + ": at least one of values or notValues must be set for key " + c.key);
        if (c.key == "destination.port") checkPorts(c.values, wp + ".values", errs);
        // Istio's ValidateAttribute checks the wildcards of source.trustDomain only.
        if (c.key == "source.trustDomain") checkWildcards(c.values, c.key.c_str(), false, wp + ".values", errs);
        if (c.key == "source.ip" || c.key == "remote.ip" || c.key == "destination.ip")
          checkCidrs(c.values, wp + ".values", errs);
        rule.when.push_back(std::move(c));
      }
    }
    // Istio's warning: a DENY rule of HTTP attributes only also denies every TCP connection.
    bool tcp_from = false, tcp_to = false;
    for (const auto& f : rule.from)
      tcp_from |= !f.principals.empty() || !f.namespaces.empty() || !f.ip_blocks.empty() ||
                  !f.remote_ip_blocks.empty() || !f.service_accounts.empty();
    for (const auto& t : rule.to) tcp_to |= !t.ports.empty();
    if (ap.action == AuthorizationPolicy::Action::Deny &&
        ((!rule.from.empty() && rule.to.empty() && !tcp_from) || (!rule.to.empty() && !tcp_to)))
      ap.warnings.push_back(rp +
                            ": configured AuthorizationPolicy will deny all traffic to TCP ports under its scope due "
                            "to the use of only HTTP attributes in a DENY rule; it is recommended to explicitly "
                            "specify the port");
    ap.rules.push_back(std::move(rule));
  }
  return ap;
}

}  // namespace weft::control::decode
