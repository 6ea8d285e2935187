// CEL parsing, binding and evaluation, against a small attribute set shaped like Envoy's
// (request.host, request.headers[...], response.code, request.duration).
#include "common/cel/program.h"

#include <gtest/gtest.h>

#include <map>

namespace weft::cel {
namespace {

enum Attr { kHost, kHeader, kCode, kDuration };

class TestBinder : public Binder {
 public:
  std::optional<Bound> bind(std::string_view root, const std::vector<std::string>& path, std::string& error) override {
    if (root == "request" && path.size() >= 1 && path[0] == "host") return Bound{kHost, 1, "", false};
    if (root == "request" && path.size() >= 1 && path[0] == "duration") return Bound{kDuration, 1, "", false};
    if (root == "request" && path.size() >= 1 && path[0] == "headers") {
      if (path.size() == 1) return Bound{kHeader, 1, "", true};
      return Bound{kHeader, 2, path[1], false};
    }
    if (root == "response" && path.size() >= 1 && path[0] == "code") return Bound{kCode, 1, "", false};
    if (root == "response" || root == "request") error = "unknown attribute of " + std::string(root);
    return std::nullopt;
  }
};

class TestActivation : public Activation {
 public:
  std::string host = "reviews:9080";
  std::map<std::string, std::string> headers;
  int64_t code = 200;
  Value attribute(int id, std::string_view key) const override {
    switch (id) {
      case kHost:
        return Value::string(host);
      case kCode:
        return Value::integer(code);
      case kDuration:
        return Value::duration(std::chrono::milliseconds(1500));
      case kHeader: {
        auto it = headers.find(std::string(key));
        return it == headers.end() ? Value::absent(std::string(key)) : Value::string(it->second);
      }
    }
    return Value::error("?");
  }
};

Value run(const std::string& text, const TestActivation& a = TestActivation()) {
  TestBinder b;
  return Program::compile(text, b)->evaluate(a);
}

std::string str(const std::string& text, const TestActivation& a = TestActivation()) { return run(text, a).toString(); }

std::string compileError(const std::string& text) {
  TestBinder b;
  try {
    Program::compile(text, b);
  } catch (const CompileError& e) {
    return e.what();
  }
  return "";
}

TEST(CelTest, IstioTagOverrideExamples) {
  EXPECT_EQ(str("request.host"), "reviews:9080");
  EXPECT_EQ(str("string(response.code)"), "200");
  EXPECT_EQ(str("request.host.startsWith('reviews') ? 'r' : 'other'"), "r");
  TestActivation a;
  a.headers["x-user"] = "jason";
  EXPECT_EQ(str("has(request.headers.x) ? 'x' : request.headers['x-user']", a), "jason");
  EXPECT_EQ(str("'x-user' in request.headers", a), "true");
  EXPECT_EQ(str("'x-other' in request.headers", a), "false");
}

TEST(CelTest, AccessLogFilterExamples) {
  TestActivation a;
  a.code = 503;
  EXPECT_EQ(run("response.code >= 400", a).asBool(), true);
  EXPECT_EQ(run("response.code >= 400 && request.host == 'x'", a).asBool(), false);
  EXPECT_EQ(run("response.code in [500, 502, 503]", a).asBool(), true);
  EXPECT_EQ(run("request.duration > duration('1s')", a).asBool(), true);
  EXPECT_EQ(run("request.duration < duration('1m30s')", a).asBool(), true);
  EXPECT_EQ(str("request.duration"), "1.5s");
}

TEST(CelTest, ErrorsPropagateAndAreAbsorbed) {
  // A missing header is an error, which || absorbs when the other side decides.
  EXPECT_TRUE(run("request.headers['nope'] == 'x'").isAbsent());
  EXPECT_EQ(run("request.headers['nope'] == 'x' || true").asBool(), true);
  EXPECT_EQ(run("false && request.headers['nope'] == 'x'").asBool(), false);
  EXPECT_TRUE(run("1 / 0 == 1").isError());
  EXPECT_EQ(run("1 / 0").asString(), "division by zero");
  EXPECT_TRUE(run("9223372036854775807 + 1").isError());
  EXPECT_TRUE(run("'a' + 1").isError());
  EXPECT_EQ(run("'a' < 1").asString(), "no such overload: ordering of string and int");
}

TEST(CelTest, Arithmetic) {
  EXPECT_EQ(str("1 + 2 * 3 - 4 / 2 % 3"), "5");
  EXPECT_EQ(str("-(3 - 5)"), "2");
  EXPECT_EQ(str("-9223372036854775808"), "-9223372036854775808");
  EXPECT_EQ(str("7u / 2u"), "3");
  EXPECT_EQ(str("1.5 * 2.0"), "3");
  EXPECT_EQ(str("'a' + \"b\" + '''c'''"), "abc");
  EXPECT_EQ(str("size('héllo') + size([1, 2])"), "7");
  EXPECT_EQ(str("[1, 2] + [3]"), "[1, 2, 3]");
  EXPECT_EQ(str("[10, 20][1]"), "20");
  EXPECT_EQ(run("1 == 1u && 1 == 1.0 && 2u > 1 && -1 < 1u").asBool(), true);
  EXPECT_EQ(run("1 == '1'").asBool(), false);
  EXPECT_EQ(str("int('42') + int(3.9) + int(2u)"), "47");
  EXPECT_EQ(str("uint(7)"), "7");
  EXPECT_EQ(str("double(1) / 4.0"), "0.25");
  EXPECT_TRUE(run("uint(-1)").isError());
}

TEST(CelTest, Strings) {
  EXPECT_EQ(run("'reviews-v1'.matches('^reviews-v[0-9]+$')").asBool(), true);
  EXPECT_EQ(run("matches('abc', 'b')").asBool(), true);
  EXPECT_EQ(run("'abc'.contains('bc') && 'abc'.endsWith('c') && !'abc'.startsWith('b')").asBool(), true);
  EXPECT_EQ(str("'tab\\there\\x41\\u00e9\\101'"),
            "tab\there\x41\xc3\xa9"
            "A");
  EXPECT_EQ(str("r'raw\\n'"), "raw\\n");
  EXPECT_EQ(str("string(true) + string(2.5) + string(duration('90s'))"), "true2.590s");
}

TEST(CelTest, CompileErrorsNameThePlace) {
  EXPECT_EQ(compileError("response.code >="), "offset 16: unexpected end of the expression");
  EXPECT_EQ(compileError("(1 + 2"), "offset 6: expected ')'");
  EXPECT_EQ(compileError("foo.bar"), "offset 3: undeclared reference to 'foo.bar'");
  EXPECT_EQ(compileError("response.nope"), "offset 8: unknown attribute of response");
  EXPECT_EQ(compileError("request.host.x"), "offset 12: 'request.host.x': no such attribute");
  EXPECT_EQ(compileError("request.headers == 1"),
            "offset 7: 'request.headers' is a map: index it with a string literal, or test a key with `in` or has()");
  EXPECT_EQ(compileError("request.headers[request.host]"),
            "offset 7: 'request.headers' is a map: index it with a string literal, or test a key with `in` or has()");
  EXPECT_EQ(compileError("frobnicate(1)"), "offset 0: unknown function 'frobnicate'");
  EXPECT_EQ(compileError("'a'.size(1)"), "offset 3: 'size' does not take 1 argument(s) in this form");
  EXPECT_EQ(compileError("[1].exists(x, x > 0)"), "offset 3: the comprehension macro exists() is not supported");
  EXPECT_EQ(compileError("request.host.matches('(')"), "offset 21: invalid regular expression: missing ): (");
  EXPECT_EQ(compileError("{'a': 1}"), "offset 0: map literals are not supported");
  EXPECT_EQ(compileError("b'abc'"), "offset 0: bytes literals are not supported");
  EXPECT_EQ(compileError("'unterminated"), "offset 0: unterminated string");
  EXPECT_EQ(compileError("99999999999999999999"), "offset 0: integer literal out of range or malformed");
  EXPECT_EQ(compileError("1 + 2 3"), "offset 6: unexpected '' after the expression");
  std::string deep(100, '(');
  EXPECT_EQ(compileError(deep + "1" + std::string(100, ')')).rfind("offset ", 0), 0u);
  EXPECT_NE(compileError(deep).find("nested too deeply"), std::string::npos);
  EXPECT_NE(compileError(std::string(20000, '1')).find("more than the limit of 16384"), std::string::npos);
}

}  // namespace
}  // namespace weft::cel
