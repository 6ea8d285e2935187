#pragma once
// Compiled Envoy matchers (StringMatcher, HeaderMatcher, QueryParameterMatcher). Regexes are
// RE2, compiled once at config time.
#include <re2/re2.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "envoy/config/route/v3/route_components.pb.h"
#include "envoy/type/matcher/v3/string.pb.h"
#include "proxy/http/headers.h"

namespace weft::proxy::http {

class StringMatcher {
 public:
  // Throws ConfigError naming `path` when the matcher is invalid (e.g. a bad regex).
  static StringMatcher compile(const envoy::type::matcher::v3::StringMatcher& m, const std::string& path);
  static StringMatcher exact(std::string value, bool ignore_case = false);
  static StringMatcher regex(const std::string& pattern, const std::string& path);
  bool match(std::string_view v) const;

 private:
  enum class Kind { Exact, Prefix, Suffix, Contains, Regex } kind_ = Kind::Exact;
  std::string value_;
  bool ignore_case_ = false;
  std::shared_ptr<const RE2> re_;
};

// Resolves a header name, including the pseudo headers :path, :method, :authority, :scheme.
const std::string_view* requestHeader(const RequestHead& req, std::string_view name, std::string_view scheme);

// The value of the first `name` parameter in a query string (without '?'); "" when it has no
// '='; nullopt when absent.
std::optional<std::string_view> queryValue(std::string_view query, std::string_view name);

// The value of cookie `name` in the request's Cookie headers (quotes removed), or none.
std::optional<std::string_view> cookieValue(const RequestHead& req, std::string_view name);

class HeaderMatcher {
 public:
  static HeaderMatcher compile(const envoy::config::route::v3::HeaderMatcher& m, const std::string& path);
  bool match(const RequestHead& req, std::string_view scheme) const;
  // The match on a header's value (null: the header is absent), for any kind of head.
  bool matchValue(const std::string_view* value) const;
  const std::string& name() const { return name_; }

 private:
  std::string name_;
  bool present_only_ = false;
  bool present_expected_ = true;
  bool invert_ = false;
  bool missing_as_empty_ = false;
  StringMatcher value_;
};

class QueryMatcher {
 public:
  static QueryMatcher compile(const envoy::config::route::v3::QueryParameterMatcher& m, const std::string& path);
  bool match(std::string_view query) const;

 private:
  std::string name_;
  bool present_only_ = false;
  StringMatcher value_;
};

}  // namespace weft::proxy::http
