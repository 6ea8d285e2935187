#include "proxy/http/header_mutations.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/config/error.h"
#include "envoy/config/route/v3/route_components.pb.h"
#include "proxy/proxy_test_support.h"

namespace weft::proxy::http {
namespace {

using Action = HeaderMutations::Action;
using ::testing::StartsWith;
using weft::testing::fromYaml;

// Compiles the request_headers_to_add/remove of a VirtualHost written in YAML.
HeaderMutations compileVh(const std::string& yaml) {
  auto vh = fromYaml<envoy::config::route::v3::VirtualHost>(yaml);
  return HeaderMutations::compile(vh.request_headers_to_add(), vh.request_headers_to_remove(), "vh",
                                  "request_headers_to_add", "request_headers_to_remove");
}

std::string compileError(const std::string& yaml) {
  try {
    compileVh(yaml);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "<no ConfigError>";
}

TEST(HeaderMutationsTest, AppendAndAppendActionSemantics) {
  auto m = compileVh(R"(
request_headers_to_add:
- header: {key: X-Default, value: d}
- header: {key: x-append-true, value: a}
  append: true
- header: {key: x-append-false, value: b}
  append: false
- header: {key: x-add-if-absent, value: c}
  append_action: ADD_IF_ABSENT
- header: {key: x-overwrite-or-add, value: e}
  append_action: OVERWRITE_IF_EXISTS_OR_ADD
- header: {key: x-overwrite-if-exists, value: f}
  append_action: OVERWRITE_IF_EXISTS
- header: {key: x-explicit-append, value: g}
  append_action: APPEND_IF_EXISTS_OR_ADD
- header: {key: x-append-true-default-action, value: h}
  append: true
  append_action: APPEND_IF_EXISTS_OR_ADD
request_headers_to_remove: [X-Remove-Me, x-other]
)");
  ASSERT_EQ(m.add.size(), 8u);
  EXPECT_EQ(m.add[0].name, "x-default");  // lower-cased
  EXPECT_EQ(m.add[0].value, "d");
  EXPECT_EQ(m.add[0].action, Action::AppendOrAdd);  // Envoy's default
  EXPECT_EQ(m.add[1].action, Action::AppendOrAdd);
  EXPECT_EQ(m.add[2].action, Action::OverwriteOrAdd);
  EXPECT_EQ(m.add[3].action, Action::AddIfAbsent);
  EXPECT_EQ(m.add[4].action, Action::OverwriteOrAdd);
  EXPECT_EQ(m.add[5].action, Action::OverwriteIfExists);
  EXPECT_EQ(m.add[6].action, Action::AppendOrAdd);
  EXPECT_EQ(m.add[7].action, Action::AppendOrAdd);
  EXPECT_EQ(m.remove, (std::vector<std::string>{"x-remove-me", "x-other"}));
  EXPECT_FALSE(m.empty());
}

TEST(HeaderMutationsTest, EmptyInputIsEmpty) {
  auto m = compileVh("name: vh\n");
  EXPECT_TRUE(m.empty());
  EXPECT_FALSE(m.replaces("anything"));
}

TEST(HeaderMutationsTest, ReplacesOnlyForRemovalsAndOverwrites) {
  auto m = compileVh(R"(
request_headers_to_add:
- {header: {key: x-append, value: a}}
- {header: {key: x-absent, value: a}, append_action: ADD_IF_ABSENT}
- {header: {key: x-over, value: a}, append_action: OVERWRITE_IF_EXISTS_OR_ADD}
- {header: {key: x-over-existing, value: a}, append_action: OVERWRITE_IF_EXISTS}
- {header: {key: x-legacy-over, value: a}, append: false}
request_headers_to_remove: [x-gone]
)");
  EXPECT_FALSE(m.replaces("x-append"));
  EXPECT_FALSE(m.replaces("x-absent"));
  EXPECT_TRUE(m.replaces("x-over"));
  EXPECT_TRUE(m.replaces("X-Over"));
  EXPECT_TRUE(m.replaces("x-over-existing"));
  EXPECT_TRUE(m.replaces("x-legacy-over"));
  EXPECT_TRUE(m.replaces("X-GONE"));
  EXPECT_FALSE(m.replaces("x-unrelated"));
}

TEST(HeaderMutationsTest, PercentIsRejectedWithPath) {
  EXPECT_EQ(compileError(R"(
request_headers_to_add:
- {header: {key: x-ok, value: fine}}
- {header: {key: x-client, value: '%DOWNSTREAM_REMOTE_ADDRESS%'}}
)"),
            "vh.request_headers_to_add[1].header.value: '%' command operators in header values are not supported by "
            "weft-proxy");
}

TEST(HeaderMutationsTest, BothAppendAndAppendActionRejected) {
  EXPECT_EQ(compileError(R"(
request_headers_to_add:
- {header: {key: x, value: v}, append: true, append_action: OVERWRITE_IF_EXISTS}
)"),
            "vh.request_headers_to_add[0]: append and append_action cannot both be set");
}

TEST(HeaderMutationsTest, OtherErrors) {
  EXPECT_EQ(compileError("request_headers_to_add: [{header: {value: v}}]\n"),
            "vh.request_headers_to_add[0].header.key: must not be empty");
  EXPECT_EQ(compileError("request_headers_to_add: [{header: {key: x, value: \"a\\nb\"}}]\n"),
            "vh.request_headers_to_add[0].header.value: contains control characters");
  EXPECT_EQ(compileError("request_headers_to_remove: [x-a, '']\n"),
            "vh.request_headers_to_remove[1]: must not be empty");
  // A tab is a legal header value byte.
  EXPECT_EQ(compileError("request_headers_to_add: [{header: {key: x, value: \"a\\tb\"}}]\n"), "<no ConfigError>");
}

}  // namespace
}  // namespace weft::proxy::http
