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

void checkPaths(const AuthzField& f, const std::string& path, Errors& errs) {
  for (const auto& list : {&f.values, &f.not_values}) {
    for (const auto& v : *list) {
      // A '*' inside a path is a literal character (an exact match), as in Istio.
      if (v.find('{') != std::string::npos)
        errs.push_back(path + ": path templates ('{*}', '{**}') are not supported by weftd");
    }
  }
}

// Istio's ValidateServiceAccount: "name" or "namespace/name", not with principals or namespaces.
void checkServiceAccounts(const AuthzSource& s, const std::string& path, Errors& errs) {
  if (s.service_accounts.empty()) return;
  if (!s.principals.empty() || !s.namespaces.empty())
    errs.push_back(path + ": cannot set serviceAccounts with namespaces or principals");
  for (const auto& list : {&s.service_accounts.values, &s.service_accounts.not_values}) {
    for (const auto& v : *list) {
      if (v.find('*') != std::string::npos) errs.push_back(path + ".serviceAccounts: '" + v + "' may not use '*'");
      if (std::count(v.begin(), v.end(), '/') > 1)
        errs.push_back(path + ".serviceAccounts: '" + v + "' must be 'name' or 'namespace/name'");
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

}  // namespace

AuthorizationPolicy decodeAuthorizationPolicy(const YAML::Node& doc, Errors& errs) {
  AuthorizationPolicy ap;
  ap.meta = meta(doc, errs);
  YAML::Node spec = doc["spec"];
  if (!spec || spec.IsNull()) return ap;  // an empty spec: ALLOW nothing (deny all) for the scope
  if (!expectMap(spec, "spec", errs)) return ap;
  checkKeys(spec, "spec", {"selector", "action", "rules", "provider", "targetRef", "targetRefs"}, errs);
  ap.selector = workloadSelector(spec, errs, ap.warnings);
  if (spec["targetRef"] || spec["targetRefs"])
    errs.push_back("spec.targetRef: not supported by weftd (gateways and waypoints come later); use selector");
  std::string action = str(spec, "action", "spec", errs);
  if (action.empty() || action == "ALLOW") {
    ap.action = AuthorizationPolicy::Action::Allow;
  } else if (action == "DENY") {
    ap.action = AuthorizationPolicy::Action::Deny;
  } else if (action == "AUDIT") {
    ap.action = AuthorizationPolicy::Action::Audit;
  } else if (action == "CUSTOM") {
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
        else if (!known)
          errs.push_back(wp + ".key: unknown attribute '" + c.key + "'");
        if (c.values.empty()) errs.push_back(wp + ": at least one of values or notValues must be set for key " + c.key);
        if (c.key == "destination.port") checkPorts(c.values, wp + ".values", errs);
        if (c.key == "source.ip" || c.key == "remote.ip" || c.key == "destination.ip")
          checkCidrs(c.values, wp + ".values", errs);
        rule.when.push_back(std::move(c));
      }
    }
    ap.rules.push_back(std::move(rule));
  }
  return ap;
}

}  // namespace weft::control::decode
