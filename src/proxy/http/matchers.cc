#include "proxy/http/matchers.h"

#include "common/config/error.h"
#include "common/strings.h"

namespace weft::proxy::http {

namespace {
bool startsWith(std::string_view s, std::string_view p, bool ic) {
  return s.size() >= p.size() && (ic ? equalsIgnoreCase(s.substr(0, p.size()), p) : s.substr(0, p.size()) == p);
}
bool endsWith(std::string_view s, std::string_view p, bool ic) {
  return s.size() >= p.size() &&
         (ic ? equalsIgnoreCase(s.substr(s.size() - p.size()), p) : s.substr(s.size() - p.size()) == p);
}
}  // namespace

StringMatcher StringMatcher::exact(std::string value, bool ignore_case) {
  StringMatcher m;
  m.kind_ = Kind::Exact;
  m.value_ = std::move(value);
  m.ignore_case_ = ignore_case;
  return m;
}

StringMatcher StringMatcher::regex(const std::string& pattern, const std::string& path) {
  StringMatcher m;
  m.kind_ = Kind::Regex;
  RE2::Options opts;
  opts.set_log_errors(false);
  auto re = std::make_shared<RE2>(pattern, opts);
  if (!re->ok()) throw ConfigError(path + ": invalid regex '" + pattern + "': " + re->error());
  m.re_ = std::move(re);
  return m;
}

StringMatcher StringMatcher::compile(const envoy::type::matcher::v3::StringMatcher& pb, const std::string& path) {
  using P = envoy::type::matcher::v3::StringMatcher;
  StringMatcher m;
  m.ignore_case_ = pb.ignore_case();
  switch (pb.match_pattern_case()) {
    case P::kExact:
      m.kind_ = Kind::Exact;
      m.value_ = pb.exact();
      break;
    case P::kPrefix:
      m.kind_ = Kind::Prefix;
      m.value_ = pb.prefix();
      break;
    case P::kSuffix:
      m.kind_ = Kind::Suffix;
      m.value_ = pb.suffix();
      break;
    case P::kContains:
      m.kind_ = Kind::Contains;
      m.value_ = pb.contains();
      break;
    case P::kSafeRegex:
      if (pb.ignore_case()) throw ConfigError(path + ".ignore_case: cannot be combined with safe_regex");
      return regex(pb.safe_regex().regex(), path + ".safe_regex.regex");
    default:
      throw ConfigError(path + ": a string matcher needs one of exact, prefix, suffix, contains, safe_regex");
  }
  if (m.ignore_case_) m.value_ = toLower(m.value_);
  return m;
}

bool StringMatcher::match(std::string_view v) const {
  switch (kind_) {
    case Kind::Exact:
      return ignore_case_ ? equalsIgnoreCase(v, value_) : v == value_;
    case Kind::Prefix:
      return startsWith(v, value_, ignore_case_);
    case Kind::Suffix:
      return endsWith(v, value_, ignore_case_);
    case Kind::Contains:
      if (!ignore_case_) return v.find(value_) != std::string_view::npos;
      return toLower(v).find(value_) != std::string::npos;
    case Kind::Regex:
      return RE2::FullMatch(re2::StringPiece(v.data(), v.size()), *re_);
  }
  return false;
}

const std::string_view* requestHeader(const RequestHead& req, std::string_view name, std::string_view scheme) {
  if (!name.empty() && name[0] == ':') {
    static thread_local std::string_view scratch;
    if (name == ":path") return &req.target;
    if (name == ":method") return &req.method;
    if (name == ":authority") return &req.host;
    if (name == ":scheme") {
      scratch = scheme;
      return &scratch;
    }
    return nullptr;
  }
  if (equalsIgnoreCase(name, "host")) return &req.host;
  return req.find(name);
}

HeaderMatcher HeaderMatcher::compile(const envoy::config::route::v3::HeaderMatcher& pb, const std::string& path) {
  using P = envoy::config::route::v3::HeaderMatcher;
  HeaderMatcher m;
  m.name_ = toLower(pb.name());
  if (m.name_.empty()) throw ConfigError(path + ".name: must not be empty");
  m.invert_ = pb.invert_match();
  m.missing_as_empty_ = pb.treat_missing_header_as_empty();
  switch (pb.header_match_specifier_case()) {
    case P::kExactMatch:
      m.value_ = StringMatcher::exact(pb.exact_match());
      break;
    case P::kSafeRegexMatch:
      m.value_ = StringMatcher::regex(pb.safe_regex_match().regex(), path + ".safe_regex_match.regex");
      break;
    case P::kPrefixMatch: {
      envoy::type::matcher::v3::StringMatcher s;
      s.set_prefix(pb.prefix_match());
      m.value_ = StringMatcher::compile(s, path);
      break;
    }
    case P::kSuffixMatch: {
      envoy::type::matcher::v3::StringMatcher s;
      s.set_suffix(pb.suffix_match());
      m.value_ = StringMatcher::compile(s, path);
      break;
    }
    case P::kContainsMatch: {
      envoy::type::matcher::v3::StringMatcher s;
      s.set_contains(pb.contains_match());
      m.value_ = StringMatcher::compile(s, path);
      break;
    }
    case P::kStringMatch:
      m.value_ = StringMatcher::compile(pb.string_match(), path + ".string_match");
      break;
    case P::kPresentMatch:
      m.present_only_ = true;
      m.present_expected_ = pb.present_match();
      break;
    case P::HEADER_MATCH_SPECIFIER_NOT_SET:
      // Envoy: no specifier means "the header is present".
      m.present_only_ = true;
      break;
    default:
      throw ConfigError(path + ": this header match kind is not supported by weft-proxy");
  }
  return m;
}

bool HeaderMatcher::match(const RequestHead& req, std::string_view scheme) const {
  return matchValue(requestHeader(req, name_, scheme));
}

bool HeaderMatcher::matchValue(const std::string_view* v) const {
  static constexpr std::string_view kEmpty;
  if (v == nullptr && missing_as_empty_) v = &kEmpty;
  if (present_only_) return ((v != nullptr) == present_expected_) != invert_;
  // Envoy: inverting a value match never makes a missing header match.
  if (v == nullptr) return false;
  return value_.match(*v) != invert_;
}

QueryMatcher QueryMatcher::compile(const envoy::config::route::v3::QueryParameterMatcher& pb, const std::string& path) {
  QueryMatcher m;
  m.name_ = pb.name();
  if (m.name_.empty()) throw ConfigError(path + ".name: must not be empty");
  if (pb.has_string_match()) {
    m.value_ = StringMatcher::compile(pb.string_match(), path + ".string_match");
  } else {
    m.present_only_ = true;
  }
  return m;
}

std::optional<std::string_view> queryValue(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    auto eq = pair.find('=');
    if (pair.substr(0, eq) == name) return eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
  }
  return std::nullopt;
}

std::optional<std::string_view> cookieValue(const RequestHead& req, std::string_view name) {
  for (const Header& h : req.headers) {
    if (!equalsIgnoreCase(h.name, "cookie")) continue;
    std::string_view rest = h.value;
    while (!rest.empty()) {
      auto semi = rest.find(';');
      std::string_view pair = rest.substr(0, semi);
      rest = semi == std::string_view::npos ? std::string_view() : rest.substr(semi + 1);
      while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
      auto eq = pair.find('=');
      if (eq == std::string_view::npos || pair.substr(0, eq) != name) continue;
      std::string_view v = pair.substr(eq + 1);
      if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
      return v;
    }
  }
  return std::nullopt;
}

bool QueryMatcher::match(std::string_view query) const {
  auto value = queryValue(query, name_);
  if (!value) return false;
  return present_only_ || value_.match(*value);
}

}  // namespace weft::proxy::http
