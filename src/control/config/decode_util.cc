#include "control/config/decode_util.h"

#include <cctype>

#include <re2/re2.h>

namespace weft::control::decode {

std::string join(const std::string& path, const std::string& key) { return path.empty() ? key : path + "." + key; }
std::string idx(const std::string& path, size_t i) { return path + "[" + std::to_string(i) + "]"; }

void checkKeys(const YAML::Node& n, const std::string& path, std::initializer_list<const char*> known, Errors& errs,
               const char* what) {
  if (!n || !n.IsMap()) return;
  for (const auto& kv : n) {
    std::string key = kv.first.as<std::string>();
    bool ok = false;
    for (const char* k : known) ok |= key == k;
    if (!ok) errs.push_back(join(path, key) + ": " + what);
  }
}

namespace {

void targetRef(const YAML::Node& ref, const std::string& p, Errors& errs) {
  if (!expectMap(ref, p, errs)) return;
  checkKeys(ref, p, {"group", "kind", "name", "namespace"}, errs);
  std::string group = str(ref, "group", p, errs), kind = str(ref, "kind", p, errs);
  if (str(ref, "name", p, errs).empty()) errs.push_back(p + ": targetRef name must be set");
  if (!str(ref, "namespace", p, errs).empty())
    errs.push_back(p + ": targetRef namespace must not be set; cross namespace referencing is not supported");
  const std::string g = group.empty() ? "core" : group;
  if (!((g == "core" && kind == "Service") || (g == "networking.istio.io" && kind == "ServiceEntry") ||
        (g == "gateway.networking.k8s.io" && (kind == "Gateway" || kind == "GatewayClass"))))
    errs.push_back(p +
                   ": targetRef must be to one of [core/v1/Service networking.istio.io/v1/ServiceEntry "
                   "gateway.networking.k8s.io/v1/Gateway gateway.networking.k8s.io/v1/GatewayClass] but was " +
                   group + "/" + kind);
}

}  // namespace

void policyTargetRefs(const YAML::Node& spec, Errors& errs) {
  YAML::Node one = child(spec, "targetRef", "spec", errs);
  YAML::Node many = seq(spec, "targetRefs", "spec", errs);
  const bool has_one = one.IsDefined() && !one.IsNull(), has_many = many && many.size() > 0;
  YAML::Node sel = child(spec, "selector", "spec", errs);
  if ((sel.IsDefined() && !sel.IsNull()) + has_one + has_many > 1)
    errs.push_back("spec: only one of targetRefs or workloadSelector can be set");
  if (has_one) targetRef(one, "spec.targetRef", errs);
  for (size_t i = 0; has_many && i < many.size(); ++i) targetRef(many[i], idx("spec.targetRefs", i), errs);
  if (has_one || has_many)
    errs.push_back(std::string("spec.") + (has_one ? "targetRef" : "targetRefs") +
                   ": policy attachment to gateways and services is not supported by weftd (it attaches by "
                   "selector)");
}

Labels workloadSelector(const YAML::Node& spec, Errors& errs, std::vector<std::string>& warnings) {
  YAML::Node sel = spec["selector"];
  if (!expectMap(sel, "spec.selector", errs)) return {};
  checkKeys(sel, "spec.selector", {"matchLabels"}, errs);
  Labels l = labels(sel, "matchLabels", "spec.selector", errs);
  if (l.empty()) warnings.push_back("spec.selector: workload selector specified without labels");
  selectorLabelsValid(
      l, [](const std::string& k) { return "spec.selector.matchLabels[" + k + "]: "; }, errs);
  return l;
}

bool selectorLabelsValid(const Labels& labels, const std::function<std::string(const std::string&)>& where,
                         Errors& errs) {
  size_t before = errs.size();
  for (const auto& [k, v] : labels) {
    if (k.empty()) errs.push_back(where(k) + "empty key is not supported in selector: \"" + k + "=" + v + "\"");
    if (k.find('*') != std::string::npos || v.find('*') != std::string::npos)
      errs.push_back(where(k) + "wildcard is not supported in selector: \"" + k + "=" + v + "\"");
  }
  return errs.size() == before;
}

bool expectMap(const YAML::Node& n, const std::string& path, Errors& errs) {
  if (!n) return false;
  if (!n.IsMap()) {
    errs.push_back(path + ": must be a map");
    return false;
  }
  return true;
}

YAML::Node child(const YAML::Node& n, const std::string& key, const std::string& path, Errors& errs) {
  if (n.IsMap()) return n[key];
  // A field of something that is not a map: the thing itself is in the wrong shape (reported
  // once per path: decodeResource drops repeated errors).
  if (n.IsDefined() && !n.IsNull()) errs.push_back((path.empty() ? std::string("document") : path) + ": must be a map");
  return YAML::Node(YAML::NodeType::Undefined);
}

namespace {

// n[key] when it has the node type `type`; undefined when absent or null; else an error.
YAML::Node typedChild(const YAML::Node& n, const std::string& key, const std::string& path, Errors& errs,
                      YAML::NodeType::value type, const char* what) {
  YAML::Node v = child(n, key, path, errs);
  if (!v.IsDefined() || v.IsNull()) return YAML::Node(YAML::NodeType::Undefined);
  if (v.Type() != type) {
    errs.push_back(join(path, key) + ": must be " + what);
    return YAML::Node(YAML::NodeType::Undefined);
  }
  return v;
}

}  // namespace

YAML::Node seq(const YAML::Node& n, const std::string& key, const std::string& path, Errors& errs) {
  return typedChild(n, key, path, errs, YAML::NodeType::Sequence, "a list");
}

YAML::Node mapField(const YAML::Node& n, const std::string& key, const std::string& path, Errors& errs) {
  return typedChild(n, key, path, errs, YAML::NodeType::Map, "a map");
}

std::string str(const YAML::Node& n, const std::string& key, const std::string& path, Errors& errs) {
  YAML::Node v = child(n, key, path, errs);
  if (!v || v.IsNull()) return "";
  if (!v.IsScalar()) {
    errs.push_back(join(path, key) + ": must be a string");
    return "";
  }
  return v.Scalar();
}

std::optional<int64_t> integer(const YAML::Node& n, const std::string& key, const std::string& path, Errors& errs) {
  YAML::Node v = child(n, key, path, errs);
  if (!v || v.IsNull()) return std::nullopt;
  try {
    if (!v.IsScalar()) throw std::runtime_error("");
    size_t used = 0;
    int64_t out = std::stoll(v.Scalar(), &used, 10);
    if (used != v.Scalar().size()) throw std::runtime_error("");
    return out;
  } catch (...) {
    errs.push_back(join(path, key) + ": must be an integer, got '" + (v.IsScalar() ? v.Scalar() : "<non-scalar>") +
                   "'");
    return std::nullopt;
  }
}

std::optional<bool> boolean(const YAML::Node& n, const std::string& key, const std::string& path, Errors& errs) {
  YAML::Node v = child(n, key, path, errs);
  if (!v || v.IsNull()) return std::nullopt;
  if (v.IsScalar() && (v.Scalar() == "true" || v.Scalar() == "false")) return v.Scalar() == "true";
  errs.push_back(join(path, key) + ": must be true or false, got '" + (v.IsScalar() ? v.Scalar() : "<non-scalar>") +
                 "'");
  return std::nullopt;
}

uint32_t port(const YAML::Node& n, const std::string& key, const std::string& path, Errors& errs, bool required) {
  auto v = integer(n, key, path, errs);
  if (!v) {
    if (required) errs.push_back(join(path, key) + ": is required");
    return 0;
  }
  if (*v < 1 || *v > 65535) {
    errs.push_back(join(path, key) + ": must be a port number in [1, 65535], got " + std::to_string(*v));
    return 0;
  }
  return static_cast<uint32_t>(*v);
}

std::vector<std::string> strings(const YAML::Node& n, const std::string& key, const std::string& path, Errors& errs) {
  std::vector<std::string> out;
  YAML::Node v = child(n, key, path, errs);
  if (!v || v.IsNull()) return out;
  if (!v.IsSequence()) {
    errs.push_back(join(path, key) + ": must be a list of strings");
    return out;
  }
  for (size_t i = 0; i < v.size(); ++i) {
    if (!v[i].IsScalar()) {
      errs.push_back(idx(join(path, key), i) + ": must be a string");
      continue;
    }
    out.push_back(v[i].Scalar());
  }
  return out;
}

Labels labels(const YAML::Node& n, const std::string& key, const std::string& path, Errors& errs) {
  Labels out;
  YAML::Node v = child(n, key, path, errs);
  if (!v || v.IsNull()) return out;
  if (!v.IsMap()) {
    errs.push_back(join(path, key) + ": must be a map of strings");
    return out;
  }
  for (const auto& kv : v) {
    if (!kv.second.IsScalar()) {
      errs.push_back(join(join(path, key), kv.first.as<std::string>()) + ": must be a string");
      continue;
    }
    out[kv.first.as<std::string>()] = kv.second.Scalar();
  }
  return out;
}

// RFC 1123 label: what Kubernetes requires of names, and Istio of subset and port names.
bool isDnsLabel(const std::string& s) {
  static const RE2 re("[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?");
  return RE2::FullMatch(s, re);
}

// Istio host names: FQDN or short name, optionally with a leading "*." wildcard, or "*".
bool isValidHost(const std::string& h) {
  if (h == "*") return true;
  static const RE2 re("(\\*\\.)?[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?(\\.[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?)*");
  return h.size() <= 253 && RE2::FullMatch(h, re);
}

ObjectMeta meta(const YAML::Node& doc, Errors& errs) {
  ObjectMeta m;
  YAML::Node md = doc["metadata"];
  if (!md || !md.IsMap()) {
    errs.push_back("metadata: is required");
    return m;
  }
  m.name = str(md, "name", "metadata", errs);
  std::string ns = str(md, "namespace", "metadata", errs);
  if (!ns.empty()) m.ns = ns;
  if (m.name.empty()) errs.push_back("metadata.name: is required");
  m.labels = labels(md, "labels", "metadata", errs);
  m.annotations = labels(md, "annotations", "metadata", errs);
  return m;
}

std::optional<StringMatch> stringMatch(const YAML::Node& n, const std::string& path, Errors& errs,
                                       bool empty_prefix_ok) {
  if (!n || n.IsNull()) return std::nullopt;
  if (!expectMap(n, path, errs)) return std::nullopt;
  checkKeys(n, path, {"exact", "prefix", "regex"}, errs);
  if (n.size() == 0) return StringMatch{StringMatch::Kind::Present, ""};
  if (n.size() != 1) {
    errs.push_back(path + ": exactly one of exact, prefix, regex is required");
    return std::nullopt;
  }
  StringMatch m;
  if (n["exact"]) {
    m.kind = StringMatch::Kind::Exact;
    m.value = str(n, "exact", path, errs);
  } else if (n["prefix"]) {
    m.kind = StringMatch::Kind::Prefix;
    m.value = str(n, "prefix", path, errs);
    if (m.value.empty() && !empty_prefix_ok) errs.push_back(path + ": prefix string match should not be empty");
  } else if (n["regex"]) {
    m.kind = StringMatch::Kind::Regex;
    m.value = str(n, "regex", path, errs);
    // Istio's validateStringMatchRegexp.
    if (m.value.empty()) {
      errs.push_back(path + ": regex string match should not be empty");
    } else if (m.value.size() > 1024) {
      errs.push_back(path + ": regex is too large, max length allowed is 1024");
    } else {
      RE2 re(m.value, RE2::Quiet);
      if (!re.ok())
        errs.push_back(path + ".regex: invalid regex '" + m.value + "': " + re.error() +
                       "; Istio uses RE2 style regex-based match (https://github.com/google/re2/wiki/Syntax)");
    }
  }
  return m;
}

std::map<std::string, StringMatch> stringMatchMap(const YAML::Node& n, const std::string& path, Errors& errs) {
  std::map<std::string, StringMatch> out;
  if (!n || n.IsNull()) return out;
  if (!expectMap(n, path, errs)) return out;
  for (const auto& kv : n) {
    std::string key = kv.first.as<std::string>();
    auto m = stringMatch(kv.second, join(path, key), errs);
    if (m) out[key] = *m;
  }
  return out;
}

std::optional<std::string> headerValueGrammarError(const std::string& v) {
  // Envoy's header value parser (source/common/router/header_parser.cc), as Istio ports it: the
  // states between '%VAR%' / '%VAR(...)%' expressions and their JSON-string arguments.
  enum State { Literal, VarName, ExpectArray, ExpectString, String, ExpectDelimOrEnd, ExpectArgsEnd, ExpectVarEnd };
  State st = Literal;
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; };
  for (size_t pos = 0; pos < v.size(); ++pos) {
    char ch = v[pos];
    bool has_next = pos + 1 < v.size();
    switch (st) {
      case Literal:
        if (ch != '%') break;
        if (!has_next) return "invalid header configuration. Un-escaped %";
        if (v[pos + 1] == '%') {
          ++pos;  // "%%": an escaped %
          break;
        }
        st = VarName;
        break;
      case VarName:
        if (ch == '%') st = Literal;
        if (ch == '(') st = ExpectArray;
        break;
      case ExpectArray:
        if (ch == '[')
          st = ExpectString;
        else if (!space(ch))
          st = String;
        break;
      case ExpectDelimOrEnd:
        if (ch == ',')
          st = ExpectString;
        else if (ch == ']')
          st = ExpectArgsEnd;
        else if (!space(ch))
          return "invalid header configuration. Expecting ',', ']', or whitespace";
        break;
      case ExpectString:
        if (ch == '"')
          st = String;
        else if (!space(ch))
          return "invalid header configuration. Expecting '\"'";
        break;
      case String:
        if (ch == '\\') {
          if (!has_next) return "invalid header configuration. Un-terminated backslash in JSON string";
          ++pos;
        } else if (ch == ')') {
          st = ExpectVarEnd;
        } else if (ch == '"') {
          st = ExpectDelimOrEnd;
        }
        break;
      case ExpectArgsEnd:
        if (ch == ')')
          st = ExpectVarEnd;
        else if (!space(ch))
          return "invalid header configuration. Expecting ')' or whitespace after '{}', but found '{}'";
        break;
      case ExpectVarEnd:
        if (ch == '%')
          st = Literal;
        else if (!space(ch))
          return "invalid header configuration. Expecting '%' or whitespace after";
        break;
    }
  }
  if (st != Literal) return "invalid header configuration. Un-terminated variable expression '" + v + "'";
  return std::nullopt;
}

namespace {

// Istio's ValidateHTTPHeaderWithAuthorityOperationName (request add/set: the authority may be set)
// and ValidateHTTPHeaderOperationName (the rest), and the value's control characters.
void checkHeaderOps(const HeaderOps& ops, const std::string& path, bool request, Errors& errs) {
  auto name = [&](const std::string& h, const std::string& p, bool may_set_authority) {
    std::string lower = h;
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (h.empty()) {
      errs.push_back(p + ": header name cannot be empty");
    } else if (may_set_authority && (lower == ":authority" || lower == "host")) {
      return;
    } else if (!may_set_authority && lower == "host") {
      errs.push_back(p + ": invalid header \"" + h + "\": cannot set Host header");
    } else if (h[0] == ':') {
      errs.push_back(p + ": invalid header \"" + h + "\": header cannot have \":\" prefix");
    }
  };
  auto value = [&](const std::string& v, const std::string& p) {
    for (unsigned char c : v)
      if ((c < 0x20 && c != '\t') || c == 0x7f) {
        errs.push_back(p + ": header value configuration " + v + " is invalid");
        return;
      }
    if (auto e = headerValueGrammarError(v)) errs.push_back(p + ": header value configuration: " + *e);
  };
  for (const auto* m : {&ops.set, &ops.add}) {
    const std::string p = join(path, m == &ops.set ? "set" : "add");
    for (const auto& [h, v] : *m) {
      name(h, p + "[" + h + "]", request);
      value(v, p + "[" + h + "]");
    }
  }
  for (size_t i = 0; i < ops.remove.size(); ++i) name(ops.remove[i], idx(join(path, "remove"), i), false);
}

}  // namespace

HeaderOps headerOps(const YAML::Node& n, const std::string& path, Errors& errs, bool request) {
  HeaderOps ops;
  if (!n || n.IsNull()) return ops;
  if (!expectMap(n, path, errs)) return ops;
  checkKeys(n, path, {"set", "add", "remove"}, errs);
  ops.set = labels(n, "set", path, errs);
  ops.add = labels(n, "add", path, errs);
  ops.remove = strings(n, "remove", path, errs);
  checkHeaderOps(ops, path, request, errs);
  return ops;
}

void headers(const YAML::Node& n, const std::string& path, HeaderOps& req, HeaderOps& resp, Errors& errs) {
  if (!n || n.IsNull()) return;
  if (!expectMap(n, path, errs)) return;
  checkKeys(n, path, {"request", "response"}, errs);
  req = headerOps(n["request"], join(path, "request"), errs, true);
  resp = headerOps(n["response"], join(path, "response"), errs, false);
}

std::optional<int64_t> goDurationNs(const std::string& s) {
  // Go's time.ParseDuration, which Istio's protobuf Durations go through: [-+]?(decimal unit)+,
  // units ns, us, µs, ms, s, m, h; "0" alone.
  size_t i = 0;
  bool negative = false;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) negative = s[i++] == '-';
  if (s.substr(i) == "0") return 0;
  if (i == s.size()) return std::nullopt;
  long double total = 0;
  while (i < s.size()) {
    size_t start = i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
    bool whole = i > start;
    if (i < s.size() && s[i] == '.') {
      ++i;
      size_t frac = i;
      while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
      if (!whole && i == frac) return std::nullopt;  // "." alone
    } else if (!whole) {
      return std::nullopt;
    }
    long double number = std::stold(s.substr(start, i - start));
    size_t unit_start = i;
    while (i < s.size() && !std::isdigit(static_cast<unsigned char>(s[i])) && s[i] != '.') ++i;
    std::string unit = s.substr(unit_start, i - unit_start);
    long double scale = unit == "ns"                                               ? 1
                        : (unit == "us" || unit == "\u00b5s" || unit == "\u03bcs") ? 1e3
                        : unit == "ms"                                             ? 1e6
                        : unit == "s"                                              ? 1e9
                        : unit == "m"                                              ? 60e9
                        : unit == "h"                                              ? 3600e9
                                                                                   : 0;
    if (scale == 0) return std::nullopt;
    total += number * scale;
    if (total > 9.2e18L) return std::nullopt;
  }
  return static_cast<int64_t>(negative ? -total : total);
}

namespace {
std::optional<int64_t> durationNs(const YAML::Node& n, const std::string& key, const std::string& path, Errors& errs) {
  std::string s = str(n, key, path, errs);
  if (s.empty()) return std::nullopt;
  auto ns = goDurationNs(s);
  if (!ns) errs.push_back(join(path, key) + ": '" + s + "' is not a duration (e.g. 500ms, 1.5s, 2m, 1h30m)");
  return ns;
}
}  // namespace

std::optional<int64_t> durationMs(const YAML::Node& n, const std::string& key, const std::string& path, Errors& errs) {
  auto ns = durationNs(n, key, path, errs);
  return ns ? std::optional<int64_t>(*ns / 1000000) : std::nullopt;
}

std::optional<int64_t> istioDurationMs(const YAML::Node& n, const std::string& key, const std::string& path,
                                       Errors& errs) {
  auto ns = durationNs(n, key, path, errs);
  if (!ns) return std::nullopt;
  // Istio's ValidateDuration.
  if (*ns < 1000000) {
    errs.push_back(join(path, key) + ": duration must be greater than 1ms");
    return std::nullopt;
  }
  if (*ns % 1000000 != 0) {
    errs.push_back(join(path, key) + ": only durations to ms precision are supported");
    return std::nullopt;
  }
  return *ns / 1000000;
}

bool spec(const YAML::Node& doc, YAML::Node& out, Errors& errs) {
  YAML::Node s = doc["spec"];  // a missing key is an invalid node, which cannot be assigned
  if (!s.IsDefined() || s.IsNull()) {
    errs.push_back("spec: is required");
    return false;
  }
  out.reset(s);
  return expectMap(out, "spec", errs);
}

}  // namespace weft::control::decode
