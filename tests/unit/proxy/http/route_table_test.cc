#include "proxy/http/route_table.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/config/error.h"
#include "proxy/proxy_test_support.h"

namespace weft::proxy::http {
namespace {

const runtime::Snapshot kRuntime;  // no runtime overrides

using envoy::config::route::v3::RouteConfiguration;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using weft::testing::fromYaml;
using weft::testing::TestRequest;

std::shared_ptr<const RouteTable> compile(const std::string& yaml) {
  return RouteTable::compile(fromYaml<RouteConfiguration>(yaml), "route_config");
}

std::string compileError(const std::string& yaml) {
  try {
    compile(yaml);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "<no ConfigError>";
}

std::string vhostName(const RouteTable& t, std::string_view host) {
  const VirtualHost* vh = t.findVirtualHost(host);
  return vh ? vh->name : "<none>";
}

// The name of the route a request takes, "<none>" for no route.
std::string routeName(const RouteTable& t, const TestRequest& req, std::string_view scheme = "http") {
  const VirtualHost* vh = nullptr;
  const Route* r = t.route(req.head(), scheme, &vh, kRuntime, 0);
  return r ? r->name : "<none>";
}

std::string routeFor(const RouteTable& t, const std::string& target,
                     std::vector<std::pair<std::string, std::string>> headers = {}) {
  TestRequest req(target, "example.com", std::move(headers));
  return routeName(t, req);
}

// A virtual host with one route, named after the virtual host.
std::string vhost(const std::string& name, const std::string& domains) {
  return "- name: " + name + "\n  domains: " + domains + "\n  routes:\n  - {name: " + name +
         ", match: {prefix: /}, route: {cluster: c}}\n";
}

TEST(RouteTableDomainsTest, ExactBeatsSuffixBeatsPrefixBeatsDefault) {
  auto t = compile("virtual_hosts:\n" + vhost("default", "['*']") + vhost("suffix", "['*.example.com']") +
                   vhost("prefix", "['api.*']") + vhost("exact", "['api.example.com']"));
  EXPECT_EQ(vhostName(*t, "api.example.com"), "exact");
  EXPECT_EQ(vhostName(*t, "www.example.com"), "suffix");
  EXPECT_EQ(vhostName(*t, "api.example.com.evil"), "prefix");
  EXPECT_EQ(vhostName(*t, "api.other.org"), "prefix");
  EXPECT_EQ(vhostName(*t, "other.org"), "default");
  // A suffix match wins over a prefix match even when the prefix is longer.
  auto t2 = compile("virtual_hosts:\n" + vhost("suffix", "['*.org']") + vhost("prefix", "['www.example.*']"));
  EXPECT_EQ(vhostName(*t2, "www.example.org"), "suffix");
}

TEST(RouteTableDomainsTest, LongestSuffixAndLongestPrefixWin) {
  auto t = compile("virtual_hosts:\n" + vhost("short", "['*.com']") + vhost("long", "['*.bar.example.com']") +
                   vhost("mid", "['*.example.com']") + vhost("p_short", "['a.*']") + vhost("p_long", "['a.b.c.*']"));
  EXPECT_EQ(vhostName(*t, "x.bar.example.com"), "long");
  EXPECT_EQ(vhostName(*t, "x.foo.example.com"), "mid");
  EXPECT_EQ(vhostName(*t, "example.com"), "short");
  EXPECT_EQ(vhostName(*t, "a.b.c.d"), "p_long");
  EXPECT_EQ(vhostName(*t, "a.b.x"), "p_short");
}

TEST(RouteTableDomainsTest, WildcardMustMatchAtLeastOneCharacter) {
  auto t = compile("virtual_hosts:\n" + vhost("suffix", "['*.example.com']") + vhost("dash", "['*-bar.foo.com']") +
                   vhost("prefix", "['foo.*']"));
  EXPECT_EQ(vhostName(*t, "example.com"), "<none>");
  EXPECT_EQ(vhostName(*t, ".example.com"), "<none>");
  EXPECT_EQ(vhostName(*t, "baz-bar.foo.com"), "dash");
  EXPECT_EQ(vhostName(*t, "-bar.foo.com"), "<none>");
  EXPECT_EQ(vhostName(*t, "foo."), "<none>");
  EXPECT_EQ(vhostName(*t, "foo.x"), "prefix");
}

TEST(RouteTableDomainsTest, HostsAreCaseInsensitive) {
  auto t = compile("virtual_hosts:\n" + vhost("exact", "['API.Example.com']") + vhost("suffix", "['*.Example.ORG']") +
                   vhost("prefix", "['Www.*']"));
  EXPECT_EQ(vhostName(*t, "api.example.com"), "exact");
  EXPECT_EQ(vhostName(*t, "API.EXAMPLE.COM"), "exact");
  EXPECT_EQ(vhostName(*t, "a.EXAMPLE.org"), "suffix");
  EXPECT_EQ(vhostName(*t, "WWW.x"), "prefix");
}

TEST(RouteTableDomainsTest, PortIsPartOfTheHost) {
  auto t = compile("virtual_hosts:\n" + vhost("with_port", "['example.com:8080']") + vhost("plain", "['example.com']"));
  EXPECT_EQ(vhostName(*t, "example.com:8080"), "with_port");
  EXPECT_EQ(vhostName(*t, "example.com"), "plain");
  EXPECT_EQ(vhostName(*t, "example.com:9090"), "<none>");
}

TEST(RouteTableDomainsTest, NoMatchingHostMeansNoRoute) {
  auto t = compile("virtual_hosts:\n" + vhost("only", "['a.com']"));
  TestRequest req("/", "b.com");
  const VirtualHost* vh = reinterpret_cast<const VirtualHost*>(1);
  EXPECT_EQ(t->route(req.head(), "http", &vh, kRuntime, 0), nullptr);
  EXPECT_EQ(vh, nullptr);
}

constexpr const char* kPathRoutes = R"(
virtual_hosts:
- name: all
  domains: ['*']
  routes:
  - {name: exact, match: {path: /exact}, route: {cluster: c}}
  - {name: regex, match: {safe_regex: {regex: '/v[0-9]+/items'}}, route: {cluster: c}}
  - {name: separated, match: {path_separated_prefix: /sep}, route: {cluster: c}}
  - {name: insensitive, match: {prefix: /CaSe, case_sensitive: false}, route: {cluster: c}}
  - {name: insensitive_path, match: {path: /Loud, case_sensitive: false}, route: {cluster: c}}
  - {name: api, match: {prefix: /api}, route: {cluster: c}}
  - {name: root, match: {prefix: /}, route: {cluster: c}}
)";

TEST(RouteTableRoutesTest, PathSpecifiers) {
  auto t = compile(kPathRoutes);
  EXPECT_EQ(routeFor(*t, "/exact"), "exact");
  EXPECT_EQ(routeFor(*t, "/exact?x=1"), "exact");  // the query is not part of the path
  EXPECT_EQ(routeFor(*t, "/exact/"), "root");
  EXPECT_EQ(routeFor(*t, "/EXACT"), "root");

  EXPECT_EQ(routeFor(*t, "/v12/items"), "regex");
  EXPECT_EQ(routeFor(*t, "/v12/items?page=2"), "regex");
  EXPECT_EQ(routeFor(*t, "/v12/items/1"), "root");  // the whole path must match
  EXPECT_EQ(routeFor(*t, "/x/v1/items"), "root");

  EXPECT_EQ(routeFor(*t, "/sep"), "separated");
  EXPECT_EQ(routeFor(*t, "/sep/"), "separated");
  EXPECT_EQ(routeFor(*t, "/sep/deeper"), "separated");
  EXPECT_EQ(routeFor(*t, "/sep?q"), "separated");
  EXPECT_EQ(routeFor(*t, "/separate"), "root");

  EXPECT_EQ(routeFor(*t, "/api"), "api");
  EXPECT_EQ(routeFor(*t, "/apix"), "api");  // a plain string prefix
  EXPECT_EQ(routeFor(*t, "/API"), "root");
}

TEST(RouteTableRoutesTest, CaseSensitiveFalse) {
  auto t = compile(kPathRoutes);
  EXPECT_EQ(routeFor(*t, "/case/x"), "insensitive");
  EXPECT_EQ(routeFor(*t, "/CASE"), "insensitive");
  EXPECT_EQ(routeFor(*t, "/loud"), "insensitive_path");
  EXPECT_EQ(routeFor(*t, "/LOUD?x"), "insensitive_path");
  EXPECT_EQ(routeFor(*t, "/loud/x"), "root");
}

TEST(RouteTableRoutesTest, CaseSensitiveIsIgnoredForSafeRegex) {
  // route_components.proto: "Indicates that prefix/path matching should be case sensitive.
  // The default is true. Ignored for safe_regex matching."
  auto t = compile(R"(
virtual_hosts:
- name: all
  domains: ['*']
  routes:
  - {name: regex, match: {safe_regex: {regex: '/abc'}, case_sensitive: false}, route: {cluster: c}}
  - {name: root, match: {prefix: /}, route: {cluster: c}}
)");
  EXPECT_EQ(routeFor(*t, "/abc"), "regex");
  EXPECT_EQ(routeFor(*t, "/ABC"), "root");
}

TEST(RouteTableRoutesTest, FirstMatchingRouteWins) {
  auto t = compile(R"(
virtual_hosts:
- name: all
  domains: ['*']
  routes:
  - {name: first, match: {prefix: /a}, route: {cluster: c}}
  - {name: second, match: {prefix: /a/b}, route: {cluster: c}}
)");
  EXPECT_EQ(routeFor(*t, "/a/b/c"), "first");
  EXPECT_EQ(routeFor(*t, "/b"), "<none>");
}

TEST(RouteTableRoutesTest, HeaderAndQueryConditions) {
  auto t = compile(R"(
virtual_hosts:
- name: all
  domains: ['*']
  routes:
  - name: canary
    match:
      prefix: /
      headers:
      - {name: x-canary, string_match: {exact: 'yes'}}
      - {name: x-blocked, present_match: true, invert_match: true}
    route: {cluster: canary}
  - name: debug
    match:
      prefix: /
      query_parameters:
      - {name: debug, present_match: true}
      - {name: level, string_match: {exact: '2'}}
    route: {cluster: c}
  - {name: default, match: {prefix: /}, route: {cluster: c}}
)");
  EXPECT_EQ(routeFor(*t, "/", {{"x-canary", "yes"}}), "canary");
  EXPECT_EQ(routeFor(*t, "/", {{"X-Canary", "yes"}}), "canary");
  EXPECT_EQ(routeFor(*t, "/", {{"x-canary", "yes"}, {"x-blocked", "1"}}), "default");
  EXPECT_EQ(routeFor(*t, "/", {{"x-canary", "no"}}), "default");
  EXPECT_EQ(routeFor(*t, "/?debug&level=2"), "debug");
  EXPECT_EQ(routeFor(*t, "/?level=2&debug=1"), "debug");
  EXPECT_EQ(routeFor(*t, "/?debug&level=3"), "default");
  EXPECT_EQ(routeFor(*t, "/?level=2"), "default");
}

TEST(RouteTableActionsTest, ClusterActionDefaults) {
  auto t = compile(R"(
virtual_hosts:
- name: all
  domains: ['*']
  routes:
  - name: r
    match: {prefix: /old/}
    route: {cluster: backend, prefix_rewrite: /new/, host_rewrite_literal: internal.svc, timeout: 2.5s}
  - {name: plain, match: {prefix: /}, route: {cluster: other}}
  - {name: no_timeout, match: {prefix: /}, route: {cluster: other, timeout: 0s}}
)");
  const VirtualHost* vh = t->findVirtualHost("x");
  ASSERT_NE(vh, nullptr);
  const Route& r = vh->routes[0];
  EXPECT_EQ(r.action, Route::ActionKind::Cluster);
  ASSERT_EQ(r.targets.size(), 1u);
  EXPECT_EQ(r.targets[0].cluster, "backend");
  EXPECT_EQ(r.total_weight, 1u);
  EXPECT_TRUE(r.has_prefix_rewrite);
  EXPECT_EQ(r.prefix_rewrite, "/new/");
  EXPECT_EQ(r.host_rewrite, "internal.svc");
  EXPECT_EQ(r.timeout, std::chrono::milliseconds(2500));
  EXPECT_EQ(vh->routes[1].timeout, std::chrono::milliseconds(15000));  // Envoy's default
  EXPECT_FALSE(vh->routes[1].has_prefix_rewrite);
  EXPECT_EQ(vh->routes[2].timeout, std::chrono::milliseconds(0));  // disabled
}

TEST(RouteTableActionsTest, WeightedClusters) {
  auto t = compile(R"(
virtual_hosts:
- name: all
  domains: ['*']
  routes:
  - name: split
    match: {prefix: /}
    route:
      weighted_clusters:
        total_weight: 100
        clusters:
        - {name: v1, weight: 80, request_headers_to_add: [{header: {key: x-version, value: v1}}]}
        - {name: v2, weight: 20}
        - {name: v3, weight: 0}
)");
  const Route& r = t->findVirtualHost("x")->routes[0];
  ASSERT_EQ(r.targets.size(), 3u);
  EXPECT_EQ(r.total_weight, 100u);
  EXPECT_EQ(r.targets[0].cluster, "v1");
  EXPECT_EQ(r.targets[0].weight, 80u);
  EXPECT_EQ(r.targets[1].weight, 20u);
  EXPECT_EQ(r.targets[2].weight, 0u);
  ASSERT_EQ(r.targets[0].request_mutations.add.size(), 1u);
  EXPECT_EQ(r.targets[0].request_mutations.add[0].name, "x-version");
  auto refs = t->referencedClusters();
  ASSERT_EQ(refs.size(), 3u);
  EXPECT_EQ(refs[1].first, "v2");
  EXPECT_EQ(refs[1].second, "route_config.virtual_hosts[0].routes[0].route.weighted_clusters.clusters[1].name");
}

TEST(RouteTableActionsTest, WeightedClustersWithoutTotalWeightSumTheWeights) {
  auto t = compile(R"(
virtual_hosts:
- name: all
  domains: ['*']
  routes:
  - match: {prefix: /}
    route: {weighted_clusters: {clusters: [{name: a, weight: 3}, {name: b, weight: 4}]}}
)");
  EXPECT_EQ(t->findVirtualHost("x")->routes[0].total_weight, 7u);
}

TEST(RouteTableActionsTest, RedirectAndDirectResponse) {
  auto t = compile(R"(
virtual_hosts:
- name: all
  domains: ['*']
  routes:
  - match: {prefix: /r}
    redirect: {https_redirect: true, host_redirect: new.example.com, port_redirect: 8443, path_redirect: /landing,
               response_code: FOUND, strip_query: true}
  - match: {prefix: /p}
    redirect: {scheme_redirect: HTTP, prefix_rewrite: /q, response_code: PERMANENT_REDIRECT}
  - match: {prefix: /d}
    direct_response: {status: 418, body: {inline_string: "short and stout\n"}}
  - match: {prefix: /}
    direct_response: {status: 204}
)");
  const auto& routes = t->findVirtualHost("x")->routes;
  const Route& r = routes[0];
  EXPECT_EQ(r.action, Route::ActionKind::Redirect);
  EXPECT_EQ(r.redirect.scheme, "https");
  EXPECT_EQ(r.redirect.host, "new.example.com");
  EXPECT_EQ(r.redirect.port, 8443u);
  EXPECT_EQ(r.redirect.path, "/landing");
  EXPECT_TRUE(r.redirect.strip_query);
  EXPECT_EQ(r.redirect.status, 302);
  EXPECT_EQ(routes[1].redirect.scheme, "http");
  EXPECT_TRUE(routes[1].redirect.has_prefix_rewrite);
  EXPECT_EQ(routes[1].redirect.prefix_rewrite, "/q");
  EXPECT_EQ(routes[1].redirect.status, 308);
  EXPECT_EQ(routes[2].action, Route::ActionKind::DirectResponse);
  EXPECT_EQ(routes[2].direct_status, 418);
  EXPECT_EQ(routes[2].direct_body, "short and stout\n");
  EXPECT_EQ(routes[3].direct_status, 204);
  EXPECT_EQ(routes[3].direct_body, "");
  EXPECT_TRUE(t->referencedClusters().empty());
}

TEST(RouteTableActionsTest, HeaderMutationsAtEveryLevel) {
  auto t = compile(R"(
name: rc
request_headers_to_add: [{header: {key: X-Table, value: t}}]
response_headers_to_remove: [X-Internal]
virtual_hosts:
- name: all
  domains: ['*']
  request_headers_to_add: [{header: {key: x-vhost, value: v}}]
  routes:
  - match: {prefix: /}
    route: {cluster: c}
    response_headers_to_add: [{header: {key: x-route, value: r}, append_action: OVERWRITE_IF_EXISTS_OR_ADD}]
)");
  EXPECT_EQ(t->name(), "rc");
  ASSERT_EQ(t->requestMutations().add.size(), 1u);
  EXPECT_EQ(t->requestMutations().add[0].name, "x-table");
  ASSERT_EQ(t->responseMutations().remove.size(), 1u);
  EXPECT_EQ(t->responseMutations().remove[0], "x-internal");
  const VirtualHost* vh = t->findVirtualHost("x");
  EXPECT_EQ(vh->request_mutations.add[0].name, "x-vhost");
  EXPECT_EQ(vh->routes[0].response_mutations.add[0].action, HeaderMutations::Action::OverwriteOrAdd);
}

TEST(RouteTableErrorsTest, BadRegexNamesThePath) {
  std::string e = compileError(R"(
virtual_hosts:
- name: a
  domains: ['*']
  routes:
  - {match: {prefix: /}, route: {cluster: c}}
  - {match: {safe_regex: {regex: '/(unclosed'}}, route: {cluster: c}}
)");
  EXPECT_THAT(e,
              StartsWith("route_config.virtual_hosts[0].routes[1].match.safe_regex.regex: invalid regex '/(unclosed'"));
}

TEST(RouteTableErrorsTest, BadHeaderMatcherRegexNamesThePath) {
  std::string e = compileError(R"(
virtual_hosts:
- name: a
  domains: ['*']
  routes:
  - {match: {prefix: /, headers: [{name: x, exact_match: a}, {name: y, string_match: {safe_regex: {regex: '*'}}}]},
     route: {cluster: c}}
)");
  EXPECT_THAT(e, StartsWith("route_config.virtual_hosts[0].routes[0].match.headers[1].string_match.safe_regex.regex: "
                            "invalid regex '*'"));
}

TEST(RouteTableErrorsTest, TotalWeightMismatch) {
  std::string e = compileError(R"(
virtual_hosts:
- name: a
  domains: ['*']
  routes:
  - match: {prefix: /}
    route: {weighted_clusters: {total_weight: 100, clusters: [{name: a, weight: 50}, {name: b, weight: 30}]}}
)");
  EXPECT_EQ(e,
            "route_config.virtual_hosts[0].routes[0].route.weighted_clusters.total_weight: is 100 but the weights "
            "add up to 80");
}

TEST(RouteTableErrorsTest, AllZeroWeightsAndEmptyNames) {
  EXPECT_EQ(compileError(R"(
virtual_hosts:
- name: a
  domains: ['*']
  routes:
  - match: {prefix: /}
    route: {weighted_clusters: {clusters: [{name: a, weight: 0}]}}
)"),
            "route_config.virtual_hosts[0].routes[0].route.weighted_clusters: the weights must not all be zero");
  EXPECT_EQ(compileError(R"(
virtual_hosts:
- name: a
  domains: ['*']
  routes:
  - match: {prefix: /}
    route: {weighted_clusters: {clusters: [{name: a, weight: 1}, {weight: 1}]}}
)"),
            "route_config.virtual_hosts[0].routes[0].route.weighted_clusters.clusters[1].name: must not be empty");
}

TEST(RouteTableErrorsTest, DuplicateDomains) {
  EXPECT_EQ(compileError("virtual_hosts:\n" + vhost("a", "['a.com', 'b.com']") + vhost("b", "['c.com', 'B.com']")),
            "route_config.virtual_hosts[1].domains[1]: domain 'b.com' appears in more than one virtual host");
  EXPECT_EQ(compileError("virtual_hosts:\n" + vhost("a", "['*']") + vhost("b", "['*']")),
            "route_config.virtual_hosts[1].domains[0]: domain '*' appears in more than one virtual host");
  EXPECT_EQ(compileError("virtual_hosts:\n" + vhost("a", "['*.x.com']") + vhost("b", "['*.x.com']")),
            "route_config.virtual_hosts[1].domains[0]: domain '*.x.com' appears in more than one virtual host");
  EXPECT_EQ(compileError("virtual_hosts:\n" + vhost("a", "['x.*']") + vhost("b", "['x.*']")),
            "route_config.virtual_hosts[1].domains[0]: domain 'x.*' appears in more than one virtual host");
}

TEST(RouteTableErrorsTest, WildcardInTheMiddle) {
  EXPECT_EQ(compileError("virtual_hosts:\n" + vhost("a", "['ok.com', 'a.*.com']")),
            "route_config.virtual_hosts[0].domains[1]: 'a.*.com': a wildcard may only be the first or last character");
}

TEST(RouteTableErrorsTest, DirectResponseStatusOutOfRange) {
  const char* tmpl = R"(
virtual_hosts:
- name: a
  domains: ['*']
  routes:
  - {match: {prefix: /}, direct_response: {status: STATUS}}
)";
  auto with = [&](const std::string& status) {
    std::string y = tmpl;
    y.replace(y.find("STATUS"), 6, status);
    return compileError(y);
  };
  EXPECT_EQ(with("600"),
            "route_config.virtual_hosts[0].routes[0].direct_response.status: must be in [200, 599], got 600");
  EXPECT_EQ(with("199"),
            "route_config.virtual_hosts[0].routes[0].direct_response.status: must be in [200, 599], got 199");
  EXPECT_EQ(with("200"), "<no ConfigError>");
  EXPECT_EQ(with("599"), "<no ConfigError>");
}

TEST(RouteTableErrorsTest, OtherStructuralErrors) {
  EXPECT_EQ(compileError("virtual_hosts:\n- name: a\n  routes: []\n"),
            "route_config.virtual_hosts[0].domains: must not be empty");
  EXPECT_EQ(compileError("virtual_hosts:\n- name: a\n  domains: ['*']\n  routes:\n  - {match: {prefix: /}}\n"),
            "route_config.virtual_hosts[0].routes[0]: a route needs one of route, redirect, direct_response");
  EXPECT_EQ(
      compileError("virtual_hosts:\n- name: a\n  domains: ['*']\n  routes:\n  - {match: {}, route: {cluster: c}}\n"),
      "route_config.virtual_hosts[0].routes[0].match: a route match needs one of prefix, path, safe_regex, "
      "path_separated_prefix");
  EXPECT_EQ(compileError("virtual_hosts:\n- name: a\n  domains: ['*']\n  routes:\n"
                         "  - {match: {safe_regex: {regex: '/a'}}, route: {cluster: c, prefix_rewrite: /b}}\n"),
            "route_config.virtual_hosts[0].routes[0].route.prefix_rewrite: cannot be used with a safe_regex match");
  EXPECT_EQ(compileError("virtual_hosts:\n- name: a\n  domains: ['*']\n  routes:\n"
                         "  - {match: {path_separated_prefix: /a/}, route: {cluster: c}}\n"),
            "route_config.virtual_hosts[0].routes[0].match.path_separated_prefix: must not contain '?' or '#' nor "
            "end with '/'");
  EXPECT_THAT(compileError("virtual_hosts:\n- name: a\n  domains: ['*']\n  routes:\n"
                           "  - {match: {prefix: /}, route: {cluster: c}, request_headers_to_add: "
                           "[{header: {key: x, value: '%REQ(a)%'}}]}\n"),
              StartsWith("route_config.virtual_hosts[0].routes[0].request_headers_to_add[0].header.value: '%'"));
}

}  // namespace
}  // namespace weft::proxy::http
