#include "proxy/http/matchers.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/config/error.h"
#include "proxy/proxy_test_support.h"

namespace weft::proxy::http {
namespace {

using envoy::config::route::v3::HeaderMatcher;
using envoy::config::route::v3::QueryParameterMatcher;
using ::testing::HasSubstr;
using weft::testing::fromYaml;
using weft::testing::TestRequest;
using PbStringMatcher = envoy::type::matcher::v3::StringMatcher;

StringMatcher sm(const std::string& yaml) { return StringMatcher::compile(fromYaml<PbStringMatcher>(yaml), "m"); }
http::HeaderMatcher hm(const std::string& yaml) {
  return http::HeaderMatcher::compile(fromYaml<HeaderMatcher>(yaml), "route.match.headers[0]");
}
QueryMatcher qm(const std::string& yaml) {
  return QueryMatcher::compile(fromYaml<QueryParameterMatcher>(yaml), "route.match.query_parameters[0]");
}

template <typename Fn>
std::string configError(Fn fn) {
  try {
    fn();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "<no ConfigError>";
}

TEST(StringMatcherTest, Exact) {
  auto m = sm("exact: Foo");
  EXPECT_TRUE(m.match("Foo"));
  EXPECT_FALSE(m.match("foo"));
  EXPECT_FALSE(m.match("Foo "));
  EXPECT_FALSE(m.match(""));
  auto ic = sm("{exact: Foo, ignore_case: true}");
  EXPECT_TRUE(ic.match("fOO"));
  EXPECT_FALSE(ic.match("fOOd"));
}

TEST(StringMatcherTest, PrefixSuffixContains) {
  auto p = sm("prefix: /api");
  EXPECT_TRUE(p.match("/api"));
  EXPECT_TRUE(p.match("/api/v1"));
  EXPECT_FALSE(p.match("/ap"));
  EXPECT_FALSE(p.match("/API"));
  EXPECT_TRUE(sm("{prefix: /API, ignore_case: true}").match("/api/x"));

  auto s = sm("suffix: .json");
  EXPECT_TRUE(s.match("a.json"));
  EXPECT_FALSE(s.match("a.JSON"));
  EXPECT_FALSE(s.match("json"));
  EXPECT_TRUE(sm("{suffix: .JSON, ignore_case: true}").match("a.json"));

  auto c = sm("contains: mid");
  EXPECT_TRUE(c.match("amidst"));
  EXPECT_FALSE(c.match("aMIDst"));
  EXPECT_TRUE(sm("{contains: MiD, ignore_case: true}").match("aMIDst"));
  EXPECT_FALSE(sm("{contains: MiD, ignore_case: true}").match("a-m-i-d"));
}

TEST(StringMatcherTest, RegexMustMatchWholeValue) {
  auto r = sm("safe_regex: {regex: 'v[0-9]+'}");
  EXPECT_TRUE(r.match("v12"));
  EXPECT_FALSE(r.match("xv12"));
  EXPECT_FALSE(r.match("v12x"));
  EXPECT_FALSE(r.match("v"));
}

TEST(StringMatcherTest, Errors) {
  EXPECT_EQ(configError([] { sm("safe_regex: {regex: 'a(b'}"); }).rfind("m.safe_regex.regex: invalid regex 'a(b'", 0),
            0u);
  EXPECT_EQ(configError([] { sm("{safe_regex: {regex: 'ab'}, ignore_case: true}"); }),
            "m.ignore_case: cannot be combined with safe_regex");
  EXPECT_THAT(configError([] { sm("ignore_case: true"); }), HasSubstr("m: a string matcher needs one of"));
}

TEST(StringMatcherTest, ExactFactory) {
  EXPECT_TRUE(StringMatcher::exact("abc").match("abc"));
  EXPECT_FALSE(StringMatcher::exact("abc").match("ABC"));
  EXPECT_TRUE(StringMatcher::exact("abc", true).match("ABC"));
}

TEST(HeaderMatcherTest, ExactMatchAndCaseInsensitiveName) {
  TestRequest req("/", "example.com", {{"X-Env", "prod"}});
  EXPECT_TRUE(hm("{name: x-env, exact_match: prod}").match(req.head(), "http"));
  EXPECT_TRUE(hm("{name: X-ENV, exact_match: prod}").match(req.head(), "http"));
  EXPECT_FALSE(hm("{name: x-env, exact_match: Prod}").match(req.head(), "http"));
  EXPECT_FALSE(hm("{name: x-other, exact_match: prod}").match(req.head(), "http"));
}

TEST(HeaderMatcherTest, PresentMatch) {
  TestRequest with("/", "h", {{"x-flag", ""}});
  TestRequest without("/", "h");
  auto present = hm("{name: x-flag, present_match: true}");
  EXPECT_TRUE(present.match(with.head(), "http"));
  EXPECT_FALSE(present.match(without.head(), "http"));
  // present_match false: the header must be absent.
  auto absent = hm("{name: x-flag, present_match: false}");
  EXPECT_FALSE(absent.match(with.head(), "http"));
  EXPECT_TRUE(absent.match(without.head(), "http"));
  // No specifier at all: presence.
  auto bare = hm("{name: x-flag}");
  EXPECT_TRUE(bare.match(with.head(), "http"));
  EXPECT_FALSE(bare.match(without.head(), "http"));
}

TEST(HeaderMatcherTest, InvertMatch) {
  TestRequest prod("/", "h", {{"x-env", "prod"}});
  TestRequest dev("/", "h", {{"x-env", "dev"}});
  auto not_prod = hm("{name: x-env, exact_match: prod, invert_match: true}");
  EXPECT_FALSE(not_prod.match(prod.head(), "http"));
  EXPECT_TRUE(not_prod.match(dev.head(), "http"));

  TestRequest none("/", "h");
  auto not_present = hm("{name: x-env, present_match: true, invert_match: true}");
  EXPECT_TRUE(not_present.match(none.head(), "http"));
  EXPECT_FALSE(not_present.match(prod.head(), "http"));
}

TEST(HeaderMatcherTest, InvertedValueMatchOnMissingHeaderDoesNotMatch) {
  // Envoy (route_components.proto, treat_missing_header_as_empty): with invert_match set and
  // treat_missing_header_as_empty false, a missing header makes the rule not match.
  TestRequest none("/", "h");
  EXPECT_FALSE(hm("{name: x-env, exact_match: prod, invert_match: true}").match(none.head(), "http"));
  EXPECT_FALSE(hm("{name: x-env, string_match: {prefix: p}, invert_match: true}").match(none.head(), "http"));
}

TEST(HeaderMatcherTest, StringMatchKinds) {
  TestRequest req("/", "h", {{"user-agent", "Mozilla/5.0 (X11) Firefox/120"}});
  EXPECT_TRUE(hm("{name: user-agent, string_match: {prefix: Mozilla/}}").match(req.head(), "http"));
  EXPECT_TRUE(hm("{name: user-agent, string_match: {suffix: Firefox/120}}").match(req.head(), "http"));
  EXPECT_TRUE(hm("{name: user-agent, string_match: {contains: X11}}").match(req.head(), "http"));
  EXPECT_TRUE(hm("{name: user-agent, string_match: {contains: x11, ignore_case: true}}").match(req.head(), "http"));
  EXPECT_FALSE(hm("{name: user-agent, string_match: {contains: x11}}").match(req.head(), "http"));
  EXPECT_TRUE(
      hm("{name: user-agent, string_match: {safe_regex: {regex: '.*Firefox/[0-9]+'}}}").match(req.head(), "http"));
  EXPECT_TRUE(hm("{name: user-agent, prefix_match: Mozilla}").match(req.head(), "http"));
  EXPECT_TRUE(hm("{name: user-agent, suffix_match: '/120'}").match(req.head(), "http"));
  EXPECT_TRUE(hm("{name: user-agent, contains_match: '(X11)'}").match(req.head(), "http"));
  EXPECT_FALSE(hm("{name: user-agent, prefix_match: Chrome}").match(req.head(), "http"));
  EXPECT_TRUE(hm("{name: user-agent, safe_regex_match: {regex: 'Mozilla.*'}}").match(req.head(), "http"));
  EXPECT_FALSE(hm("{name: user-agent, safe_regex_match: {regex: 'Firefox'}}").match(req.head(), "http"));
}

TEST(HeaderMatcherTest, TreatMissingHeaderAsEmpty) {
  TestRequest none("/", "h");
  EXPECT_FALSE(hm("{name: x-a, exact_match: ''}").match(none.head(), "http"));
  EXPECT_TRUE(hm("{name: x-a, exact_match: '', treat_missing_header_as_empty: true}").match(none.head(), "http"));
  EXPECT_TRUE(hm("{name: x-a, string_match: {safe_regex: {regex: '^$'}}, treat_missing_header_as_empty: true}")
                  .match(none.head(), "http"));
  // An empty value does not match "prod"; inverted, it does.
  EXPECT_TRUE(hm("{name: x-a, exact_match: prod, invert_match: true, treat_missing_header_as_empty: true}")
                  .match(none.head(), "http"));
}

TEST(HeaderMatcherTest, PseudoHeaders) {
  TestRequest req("/api/x?q=1", "Example.com:8080", {}, "POST");
  EXPECT_TRUE(hm("{name: ':method', exact_match: POST}").match(req.head(), "http"));
  EXPECT_TRUE(hm("{name: ':path', exact_match: '/api/x?q=1'}").match(req.head(), "http"));
  EXPECT_TRUE(hm("{name: ':authority', exact_match: 'Example.com:8080'}").match(req.head(), "http"));
  EXPECT_TRUE(hm("{name: host, exact_match: 'Example.com:8080'}").match(req.head(), "http"));
  EXPECT_TRUE(hm("{name: ':scheme', exact_match: https}").match(req.head(), "https"));
  EXPECT_FALSE(hm("{name: ':scheme', exact_match: https}").match(req.head(), "http"));
  EXPECT_FALSE(hm("{name: ':unknown', present_match: true}").match(req.head(), "http"));
}

TEST(HeaderMatcherTest, Errors) {
  EXPECT_EQ(configError([] { hm("{exact_match: x}"); }), "route.match.headers[0].name: must not be empty");
  EXPECT_EQ(configError([] {
              hm("{name: a, safe_regex_match: {regex: '('}}");
            }).rfind("route.match.headers[0].safe_regex_match.regex: invalid regex '('", 0),
            0u);
  EXPECT_EQ(configError([] {
              hm("{name: a, string_match: {safe_regex: {regex: '['}}}");
            }).rfind("route.match.headers[0].string_match.safe_regex.regex: invalid regex '['", 0),
            0u);
  EXPECT_EQ(configError([] { hm("{name: a, range_match: {start: 1, end: 5}}"); }),
            "route.match.headers[0]: this header match kind is not supported by weft-proxy");
}

TEST(QueryMatcherTest, PresentAndValue) {
  auto present = qm("{name: debug, present_match: true}");
  EXPECT_TRUE(present.match("a=1&debug=0"));
  EXPECT_TRUE(present.match("debug"));
  EXPECT_FALSE(present.match("debugging=1"));
  EXPECT_FALSE(present.match(""));

  auto exact = qm("{name: v, string_match: {exact: '2'}}");
  EXPECT_TRUE(exact.match("v=2"));
  EXPECT_TRUE(exact.match("a=1&v=2&b=3"));
  EXPECT_FALSE(exact.match("v=22"));
  EXPECT_FALSE(exact.match("v"));
  EXPECT_FALSE(exact.match("xv=2"));

  auto prefix = qm("{name: user, string_match: {prefix: adm}}");
  EXPECT_TRUE(prefix.match("user=admin"));
  EXPECT_FALSE(prefix.match("user=guest"));

  auto empty = qm("{name: flag, string_match: {exact: ''}}");
  EXPECT_TRUE(empty.match("flag"));
  EXPECT_TRUE(empty.match("flag="));
}

TEST(QueryMatcherTest, FirstOccurrenceDecides) {
  auto exact = qm("{name: v, string_match: {exact: '1'}}");
  EXPECT_TRUE(exact.match("v=1&v=2"));
  EXPECT_FALSE(exact.match("v=2&v=1"));
}

TEST(QueryMatcherTest, Errors) {
  EXPECT_EQ(configError([] { qm("{present_match: true}"); }),
            "route.match.query_parameters[0].name: must not be empty");
  EXPECT_EQ(configError([] {
              qm("{name: a, string_match: {safe_regex: {regex: '('}}}");
            }).rfind("route.match.query_parameters[0].string_match.safe_regex.regex: invalid regex", 0),
            0u);
}

}  // namespace
}  // namespace weft::proxy::http
