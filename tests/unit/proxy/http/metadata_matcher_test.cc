// Envoy's MetadataMatcher and ValueMatcher over dynamic metadata: each value kind, lists, or,
// invert, and what a missing value matches.
#include "proxy/http/metadata_matcher.h"

#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/config/error.h"

namespace weft::proxy::http {
namespace {

MetadataMatcher compile(const std::string& json) {
  envoy::type::matcher::v3::MetadataMatcher m;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, &m).ok()) << json;
  return MetadataMatcher::compile(m, "m");
}

std::string value(const std::string& v) {
  return R"({"filter": "f", "path": [{"key": "k"}, {"key": "c"}], "value": )" + v + "}";
}

TEST(MetadataMatcherTest, ValueKinds) {
  DynamicMetadata md;
  md.set("f", "k",
         nlohmann::json{{"c", 7}, {"s", "x"}, {"b", true}, {"n", nullptr}, {"l", nlohmann::json::array({"a", "b"})}});
  EXPECT_TRUE(compile(value(R"({"doubleMatch": {"exact": 7}})")).match(&md));
  EXPECT_TRUE(compile(value(R"({"doubleMatch": {"range": {"start": 5, "end": 8}}})")).match(&md));
  EXPECT_FALSE(compile(value(R"({"doubleMatch": {"range": {"start": 8, "end": 9}}})")).match(&md));
  EXPECT_FALSE(compile(value(R"({"stringMatch": {"exact": "7"}})")).match(&md));  // a number is not a string
  EXPECT_TRUE(compile(value(R"({"presentMatch": true})")).match(&md));
  auto at = [](const std::string& key, const std::string& v) {
    return R"({"filter": "f", "path": [{"key": "k"}, {"key": ")" + key + R"("}], "value": )" + v + "}";
  };
  EXPECT_TRUE(compile(at("s", R"({"stringMatch": {"prefix": "x"}})")).match(&md));
  EXPECT_TRUE(compile(at("b", R"({"boolMatch": true})")).match(&md));
  EXPECT_FALSE(compile(at("b", R"({"boolMatch": false})")).match(&md));
  EXPECT_TRUE(compile(at("n", R"({"nullMatch": {}})")).match(&md));
  EXPECT_TRUE(compile(at("l", R"({"listMatch": {"oneOf": {"stringMatch": {"exact": "b"}}}})")).match(&md));
  EXPECT_FALSE(compile(at("l", R"({"listMatch": {"oneOf": {"stringMatch": {"exact": "c"}}}})")).match(&md));
  EXPECT_FALSE(compile(at("s", R"({"listMatch": {"oneOf": {"stringMatch": {"exact": "x"}}}})")).match(&md));
  EXPECT_TRUE(compile(at("s", R"({"orMatch": {"valueMatchers": [{"boolMatch": true},
                                   {"stringMatch": {"exact": "x"}}]}})"))
                  .match(&md));
}

TEST(MetadataMatcherTest, MissingValuesAndInvert) {
  DynamicMetadata md;
  EXPECT_FALSE(compile(value(R"({"presentMatch": true})")).match(&md));
  EXPECT_FALSE(compile(value(R"({"presentMatch": true})")).match(nullptr));
  EXPECT_FALSE(compile(value(R"({"nullMatch": {}})")).match(&md));  // missing is not null
  EXPECT_TRUE(compile(R"({"filter": "f", "path": [{"key": "k"}], "invert": true,
                          "value": {"stringMatch": {"exact": "x"}}})")
                  .match(&md));
  md.set("f", "k", "x");
  // A path through a non-struct value finds nothing.
  EXPECT_FALSE(compile(value(R"({"presentMatch": true})")).match(&md));
  EXPECT_TRUE(
      compile(R"({"filter": "f", "path": [{"key": "k"}], "value": {"stringMatch": {"exact": "x"}}})").match(&md));
  md.clear();
  EXPECT_TRUE(md.empty());
}

TEST(MetadataMatcherTest, ErrorsNameTheField) {
  auto error = [](const std::string& json) {
    try {
      compile(json);
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_EQ(error(R"({"path": [{"key": "k"}], "value": {"presentMatch": true}})"), "m.filter: must not be empty");
  EXPECT_EQ(error(R"({"filter": "f", "value": {"presentMatch": true}})"), "m.path: at least one segment is required");
  EXPECT_EQ(error(value(R"({"orMatch": {"valueMatchers": [{"boolMatch": true}]}})")),
            "m.value.or_match.value_matchers: at least 2 are required");
  EXPECT_EQ(error(value(R"({"listMatch": {}})")), "m.value.list_match.one_of: required");
  EXPECT_EQ(error(value(R"({"stringMatch": {"safeRegex": {"regex": "("}}})")).rfind("m.value.string_match", 0), 0u);
}

}  // namespace
}  // namespace weft::proxy::http
