// RDS generation: "PORT" route configurations (one virtual host per HTTP service on the port)
// for sidecars, "HOST:PORT" for proxyless gRPC; VirtualService -> Envoy route conversion.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <optional>
#include <set>

#include "control/control_test_support.h"
#include "envoy/config/route/v3/route.pb.h"
#include "envoy/extensions/filters/http/cors/v3/cors.pb.h"
#include "envoy/extensions/filters/http/fault/v3/fault.pb.h"
#include "envoy/extensions/retry/priority/previous_priorities/v3/previous_priorities_config.pb.h"

namespace weft::control::xds {
namespace {

using envoy::config::core::v3::HeaderValueOption;
using envoy::config::route::v3::Route;
using envoy::config::route::v3::RouteConfiguration;
using envoy::config::route::v3::VirtualHost;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using testing::kDetails;
using testing::kRatings;
using testing::kReviews;
using testing::modelFrom;
using testing::namesOf;
using ::testing::Not;
using testing::out;
using testing::proxyIn;
using ::testing::UnorderedElementsAre;
using testing::unpackNamed;
using testing::withBase;

RouteConfiguration routes(const MeshModel& m, const std::string& name, const ProxyInfo& p = proxyIn("default")) {
  auto rds = generateRoutes(m, p, {name});
  return unpackNamed<RouteConfiguration>(rds, name);
}

// A copy: callers often pass a temporary RouteConfiguration.
std::optional<VirtualHost> vhost(const RouteConfiguration& rc, const std::string& name) {
  for (const auto& vh : rc.virtual_hosts()) {
    if (vh.name() == name) return vh;
  }
  ADD_FAILURE() << "no virtual host " << name << " in route configuration " << rc.name();
  return std::nullopt;
}

std::vector<std::string> domains(const VirtualHost& vh) { return {vh.domains().begin(), vh.domains().end()}; }

TEST(RouteGenTest, PortRouteHasOneVirtualHostPerHttpService) {
  auto m = modelFrom(testing::kBaseMesh);
  RouteConfiguration rc = routes(*m, "9080");
  EXPECT_EQ(rc.name(), "9080");
  ASSERT_TRUE(rc.has_validate_clusters());
  EXPECT_FALSE(rc.validate_clusters().value());
  std::vector<std::string> names;
  for (const auto& vh : rc.virtual_hosts()) names.push_back(vh.name());
  EXPECT_THAT(names, UnorderedElementsAre(std::string(kDetails) + ":9080", std::string(kRatings) + ":9080",
                                          std::string(kReviews) + ":9080"));

  // grpc on 9090 is HTTP too; the TCP port has no virtual hosts.
  RouteConfiguration grpc = routes(*m, "9090");
  ASSERT_EQ(grpc.virtual_hosts_size(), 1);
  EXPECT_EQ(grpc.virtual_hosts(0).name(), std::string(kDetails) + ":9090");
  auto tcp = generateRoutes(*m, proxyIn("default"), {"3306"});
  if (tcp.count("3306")) {
    EXPECT_EQ(unpackNamed<RouteConfiguration>(tcp, "3306").virtual_hosts_size(), 0);
  }
  EXPECT_EQ(generateRoutes(*m, proxyIn("default"), {"9080"}).begin()->second.type_url(), kRouteType);
}

TEST(RouteGenTest, DomainsOfAVirtualHost) {
  auto m = modelFrom(testing::kBaseMesh);
  RouteConfiguration rc = routes(*m, "9080");
  auto reviews = vhost(rc, std::string(kReviews) + ":9080");
  ASSERT_TRUE(reviews);
  EXPECT_THAT(domains(*reviews),
              UnorderedElementsAre("reviews.default.svc.cluster.local", "reviews.default.svc.cluster.local:9080",
                                   "reviews.default.svc", "reviews.default.svc:9080", "reviews.default",
                                   "reviews.default:9080", "reviews", "reviews:9080", "10.96.0.10", "10.96.0.10:9080"));
  // Short names only resolve in the proxy's own namespace.
  auto details = vhost(rc, std::string(kDetails) + ":9080");
  ASSERT_TRUE(details);
  EXPECT_THAT(domains(*details),
              UnorderedElementsAre("details.prod.svc.cluster.local", "details.prod.svc.cluster.local:9080",
                                   "details.prod.svc", "details.prod.svc:9080", "details.prod", "details.prod:9080",
                                   "10.96.0.30", "10.96.0.30:9080"));

  RouteConfiguration fromProd = routes(*m, "9080", proxyIn("prod"));
  EXPECT_THAT(domains(*vhost(fromProd, std::string(kDetails) + ":9080")), Contains("details"));
  EXPECT_THAT(domains(*vhost(fromProd, std::string(kDetails) + ":9080")), Contains("details:9080"));
  EXPECT_THAT(domains(*vhost(fromProd, std::string(kReviews) + ":9080")), Not(Contains("reviews")));
  EXPECT_THAT(domains(*vhost(fromProd, std::string(kReviews) + ":9080")), Contains("reviews.default"));
}

TEST(RouteGenTest, NoDomainDuplicatedAcrossVirtualHosts) {
  // A ServiceEntry host equal to another service's "name.ns" form, and one whose address is a
  // Service's cluster IP: Envoy rejects a route configuration with a domain in two virtual hosts.
  auto m = modelFrom(withBase(R"(
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: alias, namespace: default}
spec:
  hosts: [reviews.default]
  addresses: [10.96.0.11]
  location: MESH_INTERNAL
  ports: [{number: 9080, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints: [{address: 10.1.0.1}]
)"));
  for (const auto& p : {proxyIn("default"), proxyIn("prod")}) {
    RouteConfiguration rc = routes(*m, "9080", p);
    EXPECT_EQ(rc.virtual_hosts_size(), 4);
    std::set<std::string> seen;
    for (const auto& vh : rc.virtual_hosts()) {
      EXPECT_GT(vh.domains_size(), 0) << vh.name();
      for (const auto& d : vh.domains())
        EXPECT_TRUE(seen.insert(d).second) << "domain " << d << " repeated in " << vh.name();
    }
    EXPECT_TRUE(seen.count("reviews.default"));
    EXPECT_TRUE(seen.count("10.96.0.11:9080"));
  }
}

TEST(RouteGenTest, DefaultRouteWithoutVirtualService) {
  auto m = modelFrom(testing::kBaseMesh);
  auto vh = vhost(routes(*m, "9080"), std::string(kRatings) + ":9080");
  ASSERT_TRUE(vh);
  ASSERT_EQ(vh->routes_size(), 1);
  const Route& r = vh->routes(0);
  EXPECT_EQ(r.name(), "default");
  EXPECT_EQ(r.match().prefix(), "/");
  EXPECT_EQ(r.route().cluster(), out(9080, kRatings));
  // Istio's default: no route timeout.
  ASSERT_TRUE(r.route().has_timeout());
  EXPECT_EQ(r.route().timeout().seconds(), 0);
  EXPECT_EQ(r.route().timeout().nanos(), 0);

  auto grpc = vhost(routes(*m, "9090"), std::string(kDetails) + ":9090");
  ASSERT_TRUE(grpc);
  EXPECT_EQ(grpc->routes(0).route().cluster(), out(9090, kDetails));
}

TEST(RouteGenTest, RetriesAsIstio) {
  // No `retries`: Istio's default policy, on default routes and VirtualService routes alike.
  auto m = modelFrom(withBase(R"(
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews]
  http:
  - name: none
    match: [{headers: {x: {exact: none}}}]
    route: [{destination: {host: reviews}}]
    retries: {attempts: 0}
  - name: custom
    match: [{headers: {x: {exact: custom}}}]
    route: [{destination: {host: reviews}}]
    retries: {attempts: 4, perTryTimeout: 250ms, retryOn: "gateway-error,503,429", retryIgnorePreviousHosts: false,
              backoff: 100ms, retryRemoteLocalities: true}
  - name: default
    route: [{destination: {host: reviews}}]
)"));
  auto dflt = vhost(routes(*m, "9080"), std::string(kRatings) + ":9080");
  ASSERT_TRUE(dflt);
  for (const auto& rp :
       {dflt->routes(0).route().retry_policy(),
        vhost(routes(*m, "9080"), std::string(kReviews) + ":9080")->routes(2).route().retry_policy()}) {
    EXPECT_EQ(rp.num_retries().value(), 2u);
    EXPECT_EQ(rp.retry_on(), "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes");
    EXPECT_EQ(rp.retriable_status_codes_size(), 0);  // today's Istio: none (503 was dropped)
    EXPECT_EQ(rp.host_selection_retry_max_attempts(), 5);
    ASSERT_EQ(rp.retry_host_predicate_size(), 1);
    EXPECT_EQ(rp.retry_host_predicate(0).name(), "envoy.retry_host_predicates.previous_hosts");
  }
  auto vh = vhost(routes(*m, "9080"), std::string(kReviews) + ":9080");
  ASSERT_TRUE(vh);
  EXPECT_FALSE(vh->routes(0).route().has_retry_policy());  // attempts 0: no retries
  const auto& c = vh->routes(1).route().retry_policy();
  EXPECT_EQ(c.num_retries().value(), 4u);
  EXPECT_EQ(c.retry_on(), "gateway-error,retriable-status-codes");
  EXPECT_THAT(std::vector<uint32_t>(c.retriable_status_codes().begin(), c.retriable_status_codes().end()),
              ElementsAre(503u, 429u));
  EXPECT_EQ(c.per_try_timeout().nanos(), 250000000);
  EXPECT_EQ(c.retry_back_off().base_interval().nanos(), 100000000);
  EXPECT_EQ(c.retry_host_predicate_size(), 0);  // retryIgnorePreviousHosts: false
  // retryRemoteLocalities: Istio's previous_priorities, updated every 2 attempts.
  EXPECT_EQ(c.retry_priority().name(), "envoy.retry_priorities.previous_priorities");
  envoy::extensions::retry::priority::previous_priorities::v3::PreviousPrioritiesConfig prio;
  ASSERT_TRUE(c.retry_priority().typed_config().UnpackTo(&prio));
  EXPECT_EQ(prio.update_frequency(), 2);
  EXPECT_FALSE(dflt->routes(0).route().retry_policy().has_retry_priority());
}

const char* kReviewsCanary = R"(
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews]
  http:
  - name: jason
    match: [{headers: {end-user: {exact: jason}}}]
    route: [{destination: {host: reviews, subset: v2}}]
  - name: split
    route:
    - {destination: {host: reviews, subset: v1}, weight: 80}
    - {destination: {host: reviews, subset: v3}, weight: 20}
    - {destination: {host: reviews, subset: v2}, weight: 0}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec:
  host: reviews
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
  - {name: v3, labels: {version: v3}}
)";

TEST(RouteGenTest, WeightedSplitUsesSubsetClusters) {
  auto m = modelFrom(withBase(kReviewsCanary));
  auto vh = vhost(routes(*m, "9080"), std::string(kReviews) + ":9080");
  ASSERT_TRUE(vh);
  ASSERT_EQ(vh->routes_size(), 2);

  const Route& jason = vh->routes(0);
  EXPECT_EQ(jason.name(), "jason");
  EXPECT_EQ(jason.match().prefix(), "/");
  ASSERT_EQ(jason.match().headers_size(), 1);
  EXPECT_EQ(jason.match().headers(0).name(), "end-user");
  EXPECT_EQ(jason.match().headers(0).string_match().exact(), "jason");
  EXPECT_FALSE(jason.match().headers(0).invert_match());
  EXPECT_EQ(jason.route().cluster(), out(9080, kReviews, "v2"));

  const Route& split = vh->routes(1);
  EXPECT_EQ(split.name(), "split");
  EXPECT_EQ(split.match().prefix(), "/");
  ASSERT_TRUE(split.route().has_weighted_clusters());
  const auto& wc = split.route().weighted_clusters();
  // Zero-weight destinations get no traffic and are left out.
  ASSERT_EQ(wc.clusters_size(), 2);
  EXPECT_EQ(wc.clusters(0).name(), out(9080, kReviews, "v1"));
  EXPECT_EQ(wc.clusters(0).weight().value(), 80u);
  EXPECT_EQ(wc.clusters(1).name(), out(9080, kReviews, "v3"));
  EXPECT_EQ(wc.clusters(1).weight().value(), 20u);
}

const char* kMatches = R"(
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ratings, namespace: default}
spec:
  hosts: [ratings]
  http:
  - match:
    - uri: {exact: /exact}
    - uri: {prefix: /prefix}
      ignoreUriCase: true
    - uri: {regex: "/re/[0-9]+"}
    route: [{destination: {host: ratings}}]
  - match:
    - headers:
        x-a: {exact: one}
        x-b: {prefix: pre}
        x-c: {regex: "c.*"}
      withoutHeaders:
        x-skip: {exact: "1"}
      queryParams:
        q: {exact: yes}
        r: {regex: "[a-z]+"}
      method: {exact: POST}
      authority: {prefix: ratings}
    route: [{destination: {host: reviews, port: {number: 9080}}}]
  - route: [{destination: {host: ratings}}]
)";

TEST(RouteGenTest, MatchConversions) {
  auto m = modelFrom(withBase(kMatches));
  auto vh = vhost(routes(*m, "9080"), std::string(kRatings) + ":9080");
  ASSERT_TRUE(vh);
  ASSERT_EQ(vh->routes_size(), 5);  // one Envoy route per Istio match, in order

  EXPECT_EQ(vh->routes(0).match().path(), "/exact");
  EXPECT_FALSE(vh->routes(0).match().has_case_sensitive());
  EXPECT_EQ(vh->routes(1).match().prefix(), "/prefix");
  ASSERT_TRUE(vh->routes(1).match().has_case_sensitive());
  EXPECT_FALSE(vh->routes(1).match().case_sensitive().value());
  EXPECT_EQ(vh->routes(2).match().safe_regex().regex(), "/re/[0-9]+");
  for (int i = 0; i < 3; ++i) EXPECT_EQ(vh->routes(i).route().cluster(), out(9080, kRatings)) << i;

  const auto& rm = vh->routes(3).match();
  EXPECT_EQ(rm.prefix(), "/");
  std::map<std::string, const envoy::config::route::v3::HeaderMatcher*> hs;
  for (const auto& h : rm.headers()) hs[h.name()] = &h;
  ASSERT_EQ(hs.size(), 6u);
  EXPECT_EQ(hs.at("x-a")->string_match().exact(), "one");
  EXPECT_EQ(hs.at("x-b")->string_match().prefix(), "pre");
  EXPECT_EQ(hs.at("x-c")->string_match().safe_regex().regex(), "c.*");
  EXPECT_FALSE(hs.at("x-a")->invert_match());
  EXPECT_EQ(hs.at("x-skip")->string_match().exact(), "1");
  EXPECT_TRUE(hs.at("x-skip")->invert_match());
  EXPECT_EQ(hs.at(":method")->string_match().exact(), "POST");
  EXPECT_FALSE(hs.at(":method")->invert_match());
  EXPECT_EQ(hs.at(":authority")->string_match().prefix(), "ratings");
  ASSERT_EQ(rm.query_parameters_size(), 2);
  std::map<std::string, const envoy::config::route::v3::QueryParameterMatcher*> qs;
  for (const auto& q : rm.query_parameters()) qs[q.name()] = &q;
  EXPECT_EQ(qs.at("q")->string_match().exact(), "yes");
  EXPECT_EQ(qs.at("r")->string_match().safe_regex().regex(), "[a-z]+");
  EXPECT_EQ(vh->routes(3).route().cluster(), out(9080, kReviews));

  EXPECT_EQ(vh->routes(4).match().prefix(), "/");
  EXPECT_EQ(vh->routes(4).match().headers_size(), 0);
}

TEST(RouteGenTest, PortScopedMatches) {
  auto m = modelFrom(withBase(R"(
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: details, namespace: prod}
spec:
  hosts: [details]
  http:
  - name: grpc-only
    match: [{port: 9090, uri: {prefix: /details.Details/}}]
    route: [{destination: {host: details, subset: v2}}]
  - name: rest
    route: [{destination: {host: details}}]
)"));
  auto http = vhost(routes(*m, "9080"), std::string(kDetails) + ":9080");
  ASSERT_TRUE(http);
  ASSERT_EQ(http->routes_size(), 1);
  EXPECT_EQ(http->routes(0).name(), "rest");
  // The destination has no port and details has two: the listener's port is used.
  EXPECT_EQ(http->routes(0).route().cluster(), out(9080, kDetails));

  auto grpc = vhost(routes(*m, "9090"), std::string(kDetails) + ":9090");
  ASSERT_TRUE(grpc);
  ASSERT_EQ(grpc->routes_size(), 2);
  EXPECT_EQ(grpc->routes(0).name(), "grpc-only");
  EXPECT_EQ(grpc->routes(0).match().prefix(), "/details.Details/");
  // "details" in a VirtualService of namespace prod is details.prod.svc.cluster.local.
  EXPECT_EQ(grpc->routes(0).route().cluster(), out(9090, kDetails, "v2"));
  EXPECT_EQ(grpc->routes(1).route().cluster(), out(9090, kDetails));
}

TEST(RouteGenTest, SourceLabelsScopedToTheProxy) {
  auto m = modelFrom(withBase(R"(
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ratings, namespace: default}
spec:
  hosts: [ratings]
  http:
  - name: from-reviews-v2
    match: [{sourceLabels: {app: reviews, version: v2}}]
    directResponse: {status: 503}
  - name: rest
    route: [{destination: {host: ratings}}]
)"));
  auto count = [&](const ProxyInfo& p) {
    auto vh = vhost(routes(*m, "9080", p), std::string(kRatings) + ":9080");
    return vh ? vh->routes_size() : -1;
  };
  EXPECT_EQ(count(proxyIn("default", {{"app", "reviews"}, {"version", "v2"}, {"extra", "x"}})), 2);
  EXPECT_EQ(count(proxyIn("default", {{"app", "reviews"}, {"version", "v1"}})), 1);
  EXPECT_EQ(count(proxyIn("default")), 1);
  auto vh = vhost(routes(*m, "9080", proxyIn("default", {{"app", "reviews"}, {"version", "v2"}})),
                  std::string(kRatings) + ":9080");
  ASSERT_TRUE(vh);
  EXPECT_EQ(vh->routes(0).name(), "from-reviews-v2");
  EXPECT_EQ(vh->routes(0).direct_response().status(), 503u);
}

const char* kActions = R"(
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ratings, namespace: default}
spec:
  hosts: [ratings]
  http:
  - name: moved
    match: [{uri: {prefix: /old}}]
    redirect: {uri: /new, authority: new.example.com, port: 8443, scheme: https, redirectCode: 302}
  - name: plain-redirect
    match: [{uri: {exact: /r}}]
    redirect: {uri: /s}
  - name: teapot
    match: [{uri: {exact: /tea}}]
    directResponse: {status: 418, body: {string: "short and stout"}}
  - name: empty
    match: [{uri: {exact: /empty}}]
    directResponse: {status: 204}
  - name: rewritten
    match: [{uri: {prefix: /v1/}}]
    rewrite: {uri: /v2/, authority: ratings.internal}
    timeout: 1.5s
    route: [{destination: {host: ratings}}]
  - name: headers
    headers:
      request:
        set: {x-set: s}
        add: {x-add: a}
        remove: [x-remove]
      response:
        set: {x-resp: r}
        remove: [server]
    route:
    - destination: {host: reviews, subset: v1}
      weight: 90
      headers:
        request: {set: {x-dest: v1}}
        response: {add: {x-from: v1}, remove: [x-internal]}
    - destination: {host: reviews, subset: v2}
      weight: 10
)";

TEST(RouteGenTest, RedirectDirectResponseRewriteTimeout) {
  auto m = modelFrom(withBase(kActions));
  auto vh = vhost(routes(*m, "9080"), std::string(kRatings) + ":9080");
  ASSERT_TRUE(vh);
  ASSERT_EQ(vh->routes_size(), 6);

  const Route& moved = vh->routes(0);
  ASSERT_TRUE(moved.has_redirect());
  EXPECT_FALSE(moved.has_route());
  EXPECT_EQ(moved.redirect().path_redirect(), "/new");
  EXPECT_EQ(moved.redirect().host_redirect(), "new.example.com");
  EXPECT_EQ(moved.redirect().port_redirect(), 8443u);
  EXPECT_EQ(moved.redirect().scheme_redirect(), "https");
  EXPECT_EQ(moved.redirect().response_code(), envoy::config::route::v3::RedirectAction::FOUND);
  const Route& plain = vh->routes(1);
  ASSERT_TRUE(plain.has_redirect());
  EXPECT_EQ(plain.redirect().path_redirect(), "/s");
  EXPECT_EQ(plain.redirect().host_redirect(), "");
  EXPECT_EQ(plain.redirect().response_code(), envoy::config::route::v3::RedirectAction::MOVED_PERMANENTLY);

  const Route& teapot = vh->routes(2);
  ASSERT_TRUE(teapot.has_direct_response());
  EXPECT_EQ(teapot.direct_response().status(), 418u);
  EXPECT_EQ(teapot.direct_response().body().inline_string(), "short and stout");
  EXPECT_EQ(vh->routes(3).direct_response().status(), 204u);
  EXPECT_FALSE(vh->routes(3).direct_response().has_body());

  const Route& rw = vh->routes(4);
  ASSERT_TRUE(rw.has_route());
  EXPECT_EQ(rw.route().prefix_rewrite(), "/v2/");
  EXPECT_EQ(rw.route().host_rewrite_literal(), "ratings.internal");
  EXPECT_EQ(rw.route().timeout().seconds(), 1);
  EXPECT_EQ(rw.route().timeout().nanos(), 500000000);
  EXPECT_EQ(rw.route().cluster(), out(9080, kRatings));
}

// Istio's bookinfo samples/bookinfo/networking/virtual-service-ratings-test-delay.yaml (and an
// abort, a gRPC abort and a CORS policy): per-route configs for the sidecar's fault and CORS filters.
const char* kFaultCors = R"(
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ratings, namespace: default}
spec:
  hosts: [ratings]
  http:
  - match:
    - headers:
        end-user:
          exact: jason
    fault:
      delay:
        percentage:
          value: 100.0
        fixedDelay: 7s
    route:
    - destination:
        host: ratings
  - match: [{uri: {prefix: /abort}}]
    fault:
      abort: {httpStatus: 555, percentage: {value: 12.5}}
    route: [{destination: {host: ratings}}]
  - match: [{uri: {prefix: /grpc}}]
    fault:
      abort: {grpcStatus: UNAVAILABLE}
      delay: {fixedDelay: 250ms, percent: 50}
    route: [{destination: {host: ratings}}]
  - corsPolicy:
      allowOrigins: [{exact: "https://a.example"}, {prefix: "https://b."}]
      allowMethods: [GET, POST]
      allowHeaders: [x-token]
      exposeHeaders: [x-trace]
      maxAge: 24h
      allowCredentials: true
    route: [{destination: {host: ratings}}]
)";

TEST(RouteGenTest, FaultAndCorsBecomePerRouteFilterConfig) {
  using envoy::extensions::filters::http::cors::v3::CorsPolicy;
  using envoy::extensions::filters::http::fault::v3::HTTPFault;
  auto m = modelFrom(withBase(kFaultCors));
  auto vh = vhost(routes(*m, "9080"), std::string(kRatings) + ":9080");
  ASSERT_TRUE(vh);
  ASSERT_EQ(vh->routes_size(), 4);
  auto fault = [&](int i) {
    HTTPFault f;
    const auto& cfg = vh->routes(i).typed_per_filter_config();
    EXPECT_EQ(cfg.count("envoy.filters.http.fault"), 1u) << "route " << i;
    if (cfg.count("envoy.filters.http.fault")) {
      EXPECT_TRUE(cfg.at("envoy.filters.http.fault").UnpackTo(&f));
    }
    return f;
  };
  HTTPFault delay = fault(0);
  EXPECT_EQ(delay.delay().fixed_delay().seconds(), 7);
  EXPECT_EQ(delay.delay().percentage().numerator(), 1000000u);
  EXPECT_EQ(delay.delay().percentage().denominator(), envoy::type::v3::FractionalPercent::MILLION);
  EXPECT_FALSE(delay.has_abort());
  EXPECT_EQ(vh->routes(0).match().headers(0).name(), "end-user");
  HTTPFault abort = fault(1);
  EXPECT_EQ(abort.abort().http_status(), 555u);
  EXPECT_EQ(abort.abort().percentage().numerator(), 125000u);
  HTTPFault grpc = fault(2);
  EXPECT_EQ(grpc.abort().grpc_status(), 14u);
  EXPECT_EQ(grpc.abort().percentage().numerator(), 1000000u);  // no percentage: 100%
  EXPECT_EQ(grpc.delay().fixed_delay().nanos(), 250000000);
  EXPECT_EQ(grpc.delay().percentage().numerator(), 500000u);  // the deprecated integer percent
  CorsPolicy cors;
  ASSERT_TRUE(vh->routes(3).typed_per_filter_config().at("envoy.filters.http.cors").UnpackTo(&cors));
  ASSERT_EQ(cors.allow_origin_string_match_size(), 2);
  EXPECT_EQ(cors.allow_origin_string_match(0).exact(), "https://a.example");
  EXPECT_EQ(cors.allow_origin_string_match(1).prefix(), "https://b.");
  EXPECT_EQ(cors.allow_methods(), "GET,POST");
  EXPECT_EQ(cors.allow_headers(), "x-token");
  EXPECT_EQ(cors.expose_headers(), "x-trace");
  EXPECT_EQ(cors.max_age(), "86400");
  EXPECT_TRUE(cors.allow_credentials().value());
  EXPECT_TRUE(cors.forward_not_matching_preflights().value());
  EXPECT_EQ(vh->routes(3).typed_per_filter_config().count("envoy.filters.http.fault"), 0u);
}

TEST(RouteGenTest, HeaderOperations) {
  auto m = modelFrom(withBase(std::string(kActions) + "---\n" + R"(
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec:
  host: reviews
  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]
)"));
  auto vh = vhost(routes(*m, "9080"), std::string(kRatings) + ":9080");
  ASSERT_TRUE(vh);
  ASSERT_EQ(vh->routes_size(), 6);
  const Route& r = vh->routes(5);
  std::map<std::string, std::pair<std::string, HeaderValueOption::HeaderAppendAction>> req, resp;
  for (const auto& h : r.request_headers_to_add()) req[h.header().key()] = {h.header().value(), h.append_action()};
  for (const auto& h : r.response_headers_to_add()) resp[h.header().key()] = {h.header().value(), h.append_action()};
  ASSERT_EQ(req.size(), 2u);
  EXPECT_EQ(req.at("x-set").first, "s");
  EXPECT_EQ(req.at("x-set").second, HeaderValueOption::OVERWRITE_IF_EXISTS_OR_ADD);
  EXPECT_EQ(req.at("x-add").first, "a");
  EXPECT_EQ(req.at("x-add").second, HeaderValueOption::APPEND_IF_EXISTS_OR_ADD);
  EXPECT_THAT(r.request_headers_to_remove(), ElementsAre("x-remove"));
  ASSERT_EQ(resp.size(), 1u);
  EXPECT_EQ(resp.at("x-resp").second, HeaderValueOption::OVERWRITE_IF_EXISTS_OR_ADD);
  EXPECT_THAT(r.response_headers_to_remove(), ElementsAre("server"));

  // Per-destination operations travel with the weighted cluster.
  ASSERT_TRUE(r.route().has_weighted_clusters());
  const auto& wc = r.route().weighted_clusters();
  ASSERT_EQ(wc.clusters_size(), 2);
  const auto& v1 = wc.clusters(0);
  EXPECT_EQ(v1.name(), out(9080, kReviews, "v1"));
  EXPECT_EQ(v1.weight().value(), 90u);
  ASSERT_EQ(v1.request_headers_to_add_size(), 1);
  EXPECT_EQ(v1.request_headers_to_add(0).header().key(), "x-dest");
  EXPECT_EQ(v1.request_headers_to_add(0).append_action(), HeaderValueOption::OVERWRITE_IF_EXISTS_OR_ADD);
  ASSERT_EQ(v1.response_headers_to_add_size(), 1);
  EXPECT_EQ(v1.response_headers_to_add(0).header().key(), "x-from");
  EXPECT_EQ(v1.response_headers_to_add(0).append_action(), HeaderValueOption::APPEND_IF_EXISTS_OR_ADD);
  EXPECT_THAT(v1.response_headers_to_remove(), ElementsAre("x-internal"));
  EXPECT_EQ(wc.clusters(1).request_headers_to_add_size(), 0);
}

TEST(RouteGenTest, HostPortRouteForProxyless) {
  auto m = modelFrom(withBase(kReviewsCanary));
  const std::string name = std::string(kReviews) + ":9080";
  auto rds = generateRoutes(*m, proxyIn("default"),
                            {name, "nowhere.default.svc.cluster.local:9080", std::string(kReviews) + ":1234",
                             std::string(kReviews) + ":abc", "not-a-route-name"});
  EXPECT_THAT(namesOf(rds), ElementsAre(name));
  RouteConfiguration rc = unpackNamed<RouteConfiguration>(rds, name);
  EXPECT_EQ(rc.name(), name);
  ASSERT_EQ(rc.virtual_hosts_size(), 1);
  const VirtualHost& vh = rc.virtual_hosts(0);
  EXPECT_EQ(vh.name(), name);
  EXPECT_THAT(domains(vh), Contains(name));
  EXPECT_THAT(domains(vh), Contains("*"));
  ASSERT_EQ(vh.routes_size(), 2);
  EXPECT_EQ(vh.routes(0).route().cluster(), out(9080, kReviews, "v2"));
  EXPECT_TRUE(vh.routes(1).route().has_weighted_clusters());

  // Without a VirtualService: the default route.
  auto plain = generateRoutes(*m, proxyIn("default"), {std::string(kDetails) + ":9090"});
  RouteConfiguration prc = unpackNamed<RouteConfiguration>(plain, std::string(kDetails) + ":9090");
  ASSERT_EQ(prc.virtual_hosts_size(), 1);
  EXPECT_EQ(prc.virtual_hosts(0).routes(0).route().cluster(), out(9090, kDetails));
}

TEST(RouteGenTest, WildcardRdsRequestGivesNothing) {
  auto m = modelFrom(testing::kBaseMesh);
  EXPECT_THAT(generateRoutes(*m, proxyIn("default"), {}), IsEmpty());
}

// A route name is whatever a proxy puts in resource_names: a run of digits too long for a port
// must be ignored like any other unknown name, not throw out of the generator (it runs on the
// gRPC server's threads; an escaping std::out_of_range takes weftd down).
TEST(RouteGenTest, HugeNumericRouteNameIsIgnored) {
  auto m = modelFrom(testing::kBaseMesh);
  ResourceMap rds;
  EXPECT_NO_THROW(rds = generateRoutes(*m, proxyIn("default"), {"99999999999999999999999", "9080"}));
  EXPECT_EQ(rds.count("9080"), 1u);
  if (rds.count("99999999999999999999999")) {
    EXPECT_EQ(unpackNamed<RouteConfiguration>(rds, "99999999999999999999999").virtual_hosts_size(), 0);
  }
}

TEST(RouteGenTest, SidecarScopeLimitsVirtualHosts) {
  auto m = modelFrom(withBase(R"(
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: default}
spec:
  egress: [{hosts: ["./*"]}]
)"));
  RouteConfiguration rc = routes(*m, "9080");
  std::vector<std::string> names;
  for (const auto& vh : rc.virtual_hosts()) names.push_back(vh.name());
  EXPECT_THAT(names, UnorderedElementsAre(std::string(kRatings) + ":9080", std::string(kReviews) + ":9080"));
}

}  // namespace
}  // namespace weft::control::xds

namespace weft::control::xds {
namespace {

// Istio turns rewrite.uri into prefix_rewrite whatever the match kind; with a safe_regex match
// Envoy then replaces the whole path. Weft's rule is that config it cannot honour is rejected,
// never silently ignored: so a rewrite.uri under a regex match must either reach the route or
// make the VirtualService invalid — it must not just vanish.
TEST(RouteGenTest, RewriteUnderRegexMatchIsNotSilentlyDropped) {
  const std::string vs = R"(
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ratings, namespace: default}
spec:
  hosts: [ratings]
  http:
  - match: [{uri: {regex: "/v1/.*"}}]
    rewrite: {uri: /v2/}
    route: [{destination: {host: ratings}}]
)";
  auto snap = std::make_shared<ConfigSnapshot>(testing::snapshotFrom(withBase(vs)));
  if (!snap->rejected.empty()) {
    ASSERT_EQ(snap->rejected.size(), 1u);
    EXPECT_EQ(snap->rejected[0].source.kind, "VirtualService");
    return;  // rejected with a reason: acceptable
  }
  auto m = buildModel(snap);
  auto vh = vhost(routes(*m, "9080"), std::string(kRatings) + ":9080");
  ASSERT_TRUE(vh);
  ASSERT_EQ(vh->routes_size(), 1);
  EXPECT_EQ(vh->routes(0).match().safe_regex().regex(), "/v1/.*");
  const auto& ra = vh->routes(0).route();
  EXPECT_TRUE(ra.prefix_rewrite() == "/v2/" || ra.has_regex_rewrite())
      << "rewrite.uri was accepted but is missing from the Envoy route";
}

}  // namespace
}  // namespace weft::control::xds

namespace weft::control::xds {
namespace {

// Istio: "exportTo: ['.']" keeps a VirtualService to its own namespace; proxies elsewhere route
// by the default rules. decode.cc accepts and keeps export_to, so it must be honoured.
TEST(RouteGenTest, VirtualServiceExportToLimitsWhoSeesIt) {
  auto m = modelFrom(withBase(R"(
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ratings, namespace: default}
spec:
  hosts: [ratings]
  exportTo: ["."]
  http:
  - name: maintenance
    directResponse: {status: 503}
)"));
  auto own = vhost(routes(*m, "9080", proxyIn("default")), std::string(kRatings) + ":9080");
  ASSERT_TRUE(own);
  ASSERT_EQ(own->routes_size(), 1);
  EXPECT_EQ(own->routes(0).name(), "maintenance");

  auto other = vhost(routes(*m, "9080", proxyIn("prod")), std::string(kRatings) + ":9080");
  ASSERT_TRUE(other);
  ASSERT_EQ(other->routes_size(), 1);
  EXPECT_EQ(other->routes(0).name(), "default") << "a VirtualService exported only to 'default' applied in 'prod'";
  EXPECT_EQ(other->routes(0).route().cluster(), out(9080, kRatings));
}

// Istio: a VirtualService host may be a wildcard ("*.example.com"); it applies to every service
// whose host name it matches. It is accepted by decode.cc, so it must not be dropped.
TEST(RouteGenTest, WildcardVirtualServiceHostAppliesToMatchingServices) {
  auto m = modelFrom(R"(
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ext, namespace: default}
spec:
  hosts: [api.example.com]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: DNS
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ext, namespace: default}
spec:
  hosts: ["*.example.com"]
  http:
  - name: blocked
    directResponse: {status: 403}
)");
  auto vh = vhost(routes(*m, "80"), "api.example.com:80");
  ASSERT_TRUE(vh);
  ASSERT_EQ(vh->routes_size(), 1);
  EXPECT_EQ(vh->routes(0).name(), "blocked") << "the *.example.com VirtualService was not applied";
  EXPECT_EQ(vh->routes(0).direct_response().status(), 403u);
}

}  // namespace
TEST(RouteGenTest, ConsistentHashAsIstio) {
  // The destination's subset's consistentHash, else its rule's, becomes the route's hash_policy;
  // a route to one hashed destination retries without previous_hosts.
  auto m = modelFrom(withBase(R"(
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec:
  host: reviews
  trafficPolicy:
    loadBalancer: {consistentHash: {httpHeaderName: x-user}}
  subsets:
  - {name: v1, labels: {version: v1}}
  - name: v2
    labels: {version: v2}
    trafficPolicy:
      loadBalancer:
        consistentHash:
          httpCookie: {name: sticky, path: /, ttl: 60s, attributes: [{name: SameSite, value: Lax}]}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ratings, namespace: default}
spec:
  host: ratings
  trafficPolicy:
    loadBalancer: {consistentHash: {useSourceIp: true, maglev: {tableSize: 1021}}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews]
  http:
  - name: v1
    match: [{headers: {x: {exact: v1}}}]
    route: [{destination: {host: reviews, subset: v1}}]
  - name: split
    route:
    - {destination: {host: reviews, subset: v1}, weight: 50}
    - {destination: {host: reviews, subset: v2}, weight: 50}
)"));
  auto vh = vhost(routes(*m, "9080"), std::string(kReviews) + ":9080");
  ASSERT_TRUE(vh);
  const auto& v1 = vh->routes(0).route();
  ASSERT_EQ(v1.hash_policy_size(), 1);
  EXPECT_EQ(v1.hash_policy(0).header().header_name(), "x-user");
  EXPECT_EQ(v1.retry_policy().retry_host_predicate_size(), 0);
  EXPECT_EQ(v1.retry_policy().num_retries().value(), 2u);
  const auto& split = vh->routes(1).route();
  ASSERT_EQ(split.hash_policy_size(), 2);  // one per destination, as Istio appends them
  EXPECT_EQ(split.hash_policy(1).cookie().name(), "sticky");
  EXPECT_EQ(split.hash_policy(1).cookie().path(), "/");
  EXPECT_EQ(split.hash_policy(1).cookie().ttl().seconds(), 60);
  EXPECT_EQ(split.hash_policy(1).cookie().attributes(0).name(), "SameSite");
  EXPECT_EQ(split.retry_policy().retry_host_predicate_size(), 1);  // two destinations: previous_hosts stays
  // No VirtualService: the rule's consistentHash on the default route.
  auto r = vhost(routes(*m, "9080"), std::string(kRatings) + ":9080");
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->routes(0).route().hash_policy(0).connection_properties().source_ip());
  EXPECT_EQ(r->routes(0).route().retry_policy().retry_host_predicate_size(), 0);
}

TEST(RouteGenTest, MirrorsAsIstio) {
  auto m = modelFrom(withBase(R"(
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews]
  http:
  - name: one
    match: [{headers: {x: {exact: one}}}]
    route: [{destination: {host: reviews, subset: v1}}]
    mirror: {host: reviews, subset: v2}
    mirrorPercentage: {value: 12.5}
  - name: many
    match: [{headers: {x: {exact: many}}}]
    route: [{destination: {host: reviews, subset: v1}}]
    mirrors:
    - destination: {host: ratings}
    - {destination: {host: reviews, subset: v2}, percentage: {value: 0}}
  - name: old
    route: [{destination: {host: reviews, subset: v1}}]
    mirror: {host: ratings}
    mirrorPercent: 30
)"));
  auto vh = vhost(routes(*m, "9080"), std::string(kReviews) + ":9080");
  ASSERT_TRUE(vh);
  const auto& one = vh->routes(0).route();
  ASSERT_EQ(one.request_mirror_policies_size(), 1);
  EXPECT_EQ(one.request_mirror_policies(0).cluster(), out(9080, kReviews, "v2"));
  EXPECT_EQ(one.request_mirror_policies(0).runtime_fraction().default_value().numerator(), 125000u);
  EXPECT_EQ(one.request_mirror_policies(0).runtime_fraction().default_value().denominator(),
            envoy::type::v3::FractionalPercent::MILLION);
  EXPECT_FALSE(one.request_mirror_policies(0).trace_sampled().value());
  // A 0% mirror is left out; one without a percentage is 100 per hundred.
  const auto& many = vh->routes(1).route();
  ASSERT_EQ(many.request_mirror_policies_size(), 1);
  EXPECT_EQ(many.request_mirror_policies(0).cluster(), out(9080, kRatings));
  EXPECT_EQ(many.request_mirror_policies(0).runtime_fraction().default_value().numerator(), 100u);
  EXPECT_EQ(many.request_mirror_policies(0).runtime_fraction().default_value().denominator(),
            envoy::type::v3::FractionalPercent::HUNDRED);
  EXPECT_EQ(vh->routes(2).route().request_mirror_policies(0).runtime_fraction().default_value().numerator(), 30u);
}

}  // namespace weft::control::xds
