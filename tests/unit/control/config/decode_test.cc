// decodeResource() through addDocuments(): what each kind keeps, and the exact field path of
// every validation error (the same messages reach /debug/configz, the logs and /validate).
#include "control/config/decode.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "control/config/decode_util.h"
#include "control/control_test_support.h"

namespace weft::control {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::rejectedText;
using testing::snapshotFrom;
using ::testing::StartsWith;

// The one rejected resource of `yaml` (which must hold exactly one), its errors checked by callers.
Rejected rejectOne(const std::string& yaml) {
  ConfigSnapshot snap = snapshotFrom(yaml);
  EXPECT_THAT(snap.accepted, IsEmpty());
  if (snap.rejected.size() != 1) {
    ADD_FAILURE() << "expected one rejected resource, got " << snap.rejected.size() << "\n" << rejectedText(snap);
    return {};
  }
  return snap.rejected[0];
}

std::string vs(const std::string& http) {
  return "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: reviews, namespace: bookinfo}\n"
         "spec:\n  hosts: [reviews]\n  http:\n" +
         http;
}

std::string dr(const std::string& spec) {
  return "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: reviews, namespace: bookinfo}\n"
         "spec:\n  host: reviews\n" +
         spec;
}

TEST(DecodeTest, VirtualServiceNegativeWeightNamesThePath) {
  Rejected r = rejectOne(vs(R"(
  - route:
    - destination: {host: reviews, subset: v1}
      weight: -1
    - destination: {host: reviews, subset: v2}
      weight: 101
)"));
  EXPECT_EQ(r.source.file, "f.yaml");
  EXPECT_EQ(r.source.document, 0u);
  EXPECT_EQ(r.source.kind, "VirtualService");
  EXPECT_EQ(r.source.ns, "bookinfo");
  EXPECT_EQ(r.source.name, "reviews");
  EXPECT_THAT(r.errors, ElementsAre("spec.http[0].route[0].weight: must be >= 0, got -1"));
}

TEST(DecodeTest, VirtualServiceAllZeroWeights) {
  Rejected r = rejectOne(vs(R"(
  - route:
    - destination: {host: reviews, subset: v1}
      weight: 0
    - destination: {host: reviews, subset: v2}
      weight: 0
)"));
  EXPECT_THAT(r.errors, ElementsAre("spec.http[0].route: the weights must not all be zero"));
}

TEST(DecodeTest, VirtualServiceSeveralDestinationsNeedWeights) {
  Rejected r = rejectOne(vs(R"(
  - route:
    - destination: {host: reviews, subset: v1}
    - destination: {host: reviews, subset: v2}
)"));
  EXPECT_THAT(r.errors,
              ElementsAre("spec.http[0].route: weights are required when there is more than one destination"));
}

TEST(DecodeTest, VirtualServiceFaultAndCorsErrorsNameTheField) {
  Rejected r = rejectOne(vs(R"(
  - route:
    - destination: {host: reviews}
    fault:
      delay: {percentage: {value: 120}}
      abort: {grpcStatus: NOPE}
    corsPolicy:
      allowOrigins: [{exact: "https://a"}]
      allowCredentials: maybe
      unmatchedPreflights: DROP
)"));
  EXPECT_THAT(r.errors,
              ElementsAre("spec.http[0].fault.delay.percentage.value: must be in [0, 100], got 120",
                          "spec.http[0].fault.abort.grpcStatus: gRPC status \"NOPE\" is not supported. See "
                          "https://github.com/grpc/grpc/blob/master/doc/statuscodes.md for a list of supported "
                          "codes, for example 'NOT_FOUND'",
                          "spec.http[0].corsPolicy.allowCredentials: must be true or false",
                          "spec.http[0].corsPolicy.unmatchedPreflights: must be FORWARD or IGNORE"));
  Rejected empty = rejectOne(vs(R"(
  - route:
    - destination: {host: reviews}
    fault: {}
)"));
  EXPECT_THAT(empty.errors, ElementsAre("spec.http[0].fault: HTTP fault injection must have an abort and/or a delay"));
  Rejected status = rejectOne(vs(R"(
  - route:
    - destination: {host: reviews}
    fault:
      abort: {httpStatus: 99}
)"));
  EXPECT_THAT(status.errors,
              ElementsAre("spec.http[0].fault.abort.httpStatus: HTTP status 99 is not in range 200-599"));
  // As Istio: a delay or abort without its type is valid and injects nothing (weftd warns).
  ConfigSnapshot untyped = snapshotFrom(vs(R"(
  - route:
    - destination: {host: reviews}
    fault:
      abort: {percentage: {value: 10}}
      delay: {percentage: {value: 10}}
)"));
  ASSERT_EQ(untyped.virtual_services.size(), 1u) << rejectedText(untyped);
  EXPECT_FALSE(untyped.virtual_services[0].http[0].fault);
  EXPECT_THAT(untyped.virtual_services[0].warnings,
              ElementsAre("spec.http[0].fault.delay: delay configured, but fixedDelay not set (no delay is injected)",
                          "spec.http[0].fault.abort: abort configured, but error type not set (no abort is injected)"));
}

TEST(DecodeTest, VirtualServiceUnknownFieldIsRejectedNotIgnored) {
  Rejected r = rejectOne(vs(R"(
  - route:
    - destination: {host: reviews}
  - delegate: {name: reviews}
    route:
    - destination: {host: reviews}
)"));
  EXPECT_THAT(r.errors, ElementsAre("spec.http[1].delegate: not supported by weftd"));

  Rejected top = rejectOne(
      "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: r}\n"
      "spec:\n  hosts: [reviews]\n  tls: [{match: [{sniHosts: [reviews]}], route: [{destination: {host: reviews}}]}]\n"
      "  http:\n  - route:\n    - destination: {host: reviews}\n");
  EXPECT_THAT(top.errors, ElementsAre("spec.tls: TLS routes (by SNI) are not supported by weftd"));

  Rejected retries = rejectOne(vs(R"(
  - route:
    - destination: {host: reviews}
    retries: {attempts: 3, retryOn: "5xx,sometimes,503", perTryTimeout: 0s, retryRemoteLocalities: true, tries: 2}
)"));
  EXPECT_THAT(retries.errors, ::testing::UnorderedElementsAre(
                                  "spec.http[0].retries.tries: not supported by weftd",
                                  "spec.http[0].retries.perTryTimeout: duration must be greater than 1ms",
                                  "spec.http[0].retries.retryOn: \"sometimes\" is not a valid retryOn policy"));
}

TEST(DecodeTest, DestinationRuleLocalityLbSettingIsValidatedAsIstio) {
  Rejected r = rejectOne(R"(apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: r}
spec:
  host: reviews
  trafficPolicy:
    outlierDetection: {consecutive5xxErrors: 1}
    loadBalancer:
      localityLbSetting:
        distribute:
        - from: us/*
          to: {"us/a/*": 60, "us/b": 30}
        - from: us/a
          to: {"eu/*/x": 100}
  subsets:
  - name: v1
    trafficPolicy:
      loadBalancer:
        localityLbSetting:
          failover: [{from: us, to: us}, {from: eu/a, to: "as*"}]
          failoverPriority: [topology.kubernetes.io/zone]
      portLevelSettings:
      - port: {number: 9080}
        loadBalancer: {simple: RANDOM, warmupDurationSecs: 10s}
      - port: {number: 9080}
      - loadBalancer: {simple: RANDOM}
)");
  EXPECT_THAT(
      r.errors,
      ::testing::UnorderedElementsAre(
          "spec.trafficPolicy.loadBalancer.localityLbSetting.distribute[0].to: total locality weight 90 != 100",
          "spec.trafficPolicy.loadBalancer.localityLbSetting.distribute[1].to: locality eu/*/x wildcard '*' number can "
          "not exceed 1 and must be in the end",
          "spec.trafficPolicy.loadBalancer.localityLbSetting.distribute: locality us/a overlap with previous specified "
          "ones",
          "spec.subsets[0].trafficPolicy.loadBalancer.localityLbSetting.failoverPriority: can not simultaneously set "
          "'failover' and topology label 'topology.kubernetes.io/zone' in 'failover_priority'",
          "spec.subsets[0].trafficPolicy.portLevelSettings[0].loadBalancer.warmupDurationSecs: slow start is not "
          "supported by weftd",
          "spec.subsets[0].trafficPolicy.portLevelSettings[1].port.number: port 9080 is set twice",
          "spec.subsets[0].trafficPolicy.portLevelSettings[2].port: portTrafficPolicy must have valid port"));

  Rejected f = rejectOne(R"(apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: r}
spec:
  host: reviews
  trafficPolicy:
    loadBalancer:
      localityLbSetting:
        failover: [{from: us, to: us}, {from: eu/a, to: "as*"}]
)");
  EXPECT_THAT(f.errors,
              ::testing::UnorderedElementsAre(
                  "spec.trafficPolicy.loadBalancer.localityLbSetting.failover[0]: locality lb failover settings must "
                  "specify different regions",
                  "spec.trafficPolicy.loadBalancer.localityLbSetting.failover[1]: locality lb failover only specify "
                  "region",
                  "spec.trafficPolicy.loadBalancer.localityLbSetting.failover[1]: locality lb failover region should "
                  "not contain '*' wildcard"));
}

TEST(DecodeTest, DestinationRuleConnectionPoolIsValidatedAsIstio) {
  Rejected r = rejectOne(R"(apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: r}
spec:
  host: reviews
  trafficPolicy:
    connectionPool:
      tcp: {maxConnections: -1, connectTimeout: 0s, tcpKeepalive: {probes: 3, time: 0s}, maxConnectionDuration: 0s,
            maxConnectionsPerHost: 1}
      http: {maxRetries: -2, maxRequestsPerConnection: -1, idleTimeout: 0s, h2UpgradePolicy: SOMETIMES,
             maxConcurrentStreams: -1}
)");
  EXPECT_THAT(r.errors,
              ::testing::UnorderedElementsAre(
                  "spec.trafficPolicy.connectionPool.tcp.maxConnections: must be >= 0, got -1",
                  "spec.trafficPolicy.connectionPool.tcp.connectTimeout: duration must be greater than 1ms",
                  "spec.trafficPolicy.connectionPool.tcp.tcpKeepalive.time: duration must be greater than 1ms",
                  "spec.trafficPolicy.connectionPool.tcp.maxConnectionDuration: duration must be greater than 1ms",
                  "spec.trafficPolicy.connectionPool.tcp.maxConnectionsPerHost: not supported by weftd "
                  "(maxConnections, connectTimeout, tcpKeepalive, idleTimeout, maxConnectionDuration are)",
                  "spec.trafficPolicy.connectionPool.http.maxRetries: must be >= 0, got -2",
                  "spec.trafficPolicy.connectionPool.http.maxRequestsPerConnection: must be >= 0, got -1",
                  "spec.trafficPolicy.connectionPool.http.idleTimeout: duration must be greater than 1ms",
                  "spec.trafficPolicy.connectionPool.http.h2UpgradePolicy: 'SOMETIMES' is not one of DEFAULT, "
                  "DO_NOT_UPGRADE, UPGRADE",
                  "spec.trafficPolicy.connectionPool.http.maxConcurrentStreams: must be >= 0, got -1"));
}

TEST(DecodeTest, DestinationRuleEmptyPoliciesAndUpgradeConflictAsIstio) {
  EXPECT_THAT(rejectOne(dr("  trafficPolicy: {}\n")).errors,
              ElementsAre("spec.trafficPolicy: traffic policy must have at least one field"));
  EXPECT_THAT(
      rejectOne(dr("  subsets:\n  - name: v1\n    labels: {version: v1}\n    trafficPolicy:\n"
                   "      connectionPool: {}\n"))
          .errors,
      ElementsAre("spec.subsets[0].trafficPolicy.connectionPool: connection pool must have at least one field"));
  EXPECT_THAT(rejectOne(dr("  trafficPolicy:\n    connectionPool:\n      http: {h2UpgradePolicy: UPGRADE, "
                           "useClientProtocol: true}\n"))
                  .errors,
              ElementsAre("spec.trafficPolicy.connectionPool.http: use client protocol must not be true when "
                          "H2UpgradePolicy is UPGRADE"));
  ConfigSnapshot off = snapshotFrom(dr("  trafficPolicy:\n    connectionPool:\n      tcp: {idleTimeout: 0s}\n"));
  ASSERT_EQ(off.destination_rules.size(), 1u) << rejectedText(off);  // 0s: no idle timeout, as Istio allows
  EXPECT_EQ(off.destination_rules[0].traffic_policy->connection_pool->tcp->idle_timeout_ms, 0);
  EXPECT_THAT(rejectOne(dr("  trafficPolicy:\n    connectionPool:\n      tcp: {connectTimeout: 2.0000005s}\n")).errors,
              ElementsAre("spec.trafficPolicy.connectionPool.tcp.connectTimeout: only durations to ms precision are "
                          "supported"));
}

TEST(DecodeTest, DestinationRuleOutlierDetectionIsValidatedAsIstio) {
  Rejected r = rejectOne(R"(apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: r}
spec:
  host: reviews
  trafficPolicy:
    outlierDetection: {consecutive5xxErrors: -1, consecutiveLocalOriginFailures: 2, interval: 0s, maxEjectionPercent: 101,
                       minHealthPercent: -3, consecutiveErrors: 5, splitExternalLocalOriginErrors: maybe, ejectAll: true}
)");
  EXPECT_THAT(r.errors,
              ::testing::UnorderedElementsAre(
                  "spec.trafficPolicy.outlierDetection.consecutive5xxErrors: must be >= 0, got -1",
                  "spec.trafficPolicy.outlierDetection: outlier detection consecutive local origin failures is "
                  "specified, but split external local origin errors is set to false",
                  "spec.trafficPolicy.outlierDetection.interval: duration must be greater than 1ms",
                  "spec.trafficPolicy.outlierDetection.maxEjectionPercent: must be 0-100, got 101",
                  "spec.trafficPolicy.outlierDetection.minHealthPercent: must be 0-100, got -3",
                  "spec.trafficPolicy.outlierDetection.consecutiveErrors: deprecated and ignored by Istio (use "
                  "consecutiveGatewayErrors or consecutive5xxErrors); not supported by weftd",
                  "spec.trafficPolicy.outlierDetection.splitExternalLocalOriginErrors: must be true or false, got "
                  "'maybe'",
                  "spec.trafficPolicy.outlierDetection.ejectAll: not supported by weftd"));
}

TEST(DecodeTest, DestinationRuleConsistentHashIsValidatedAsIstio) {
  Rejected r = rejectOne(R"(apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: r}
spec:
  host: reviews
  trafficPolicy:
    loadBalancer:
      consistentHash:
        httpCookie: {name: "", attributes: [{name: a}, {name: a}, {name: ""}]}
        useSourceIp: true
        maglev: {tableSize: 1000}
        ringHash: {minimumRingSize: 10}
  subsets:
  - name: v1
    labels: {version: v1}
    trafficPolicy: {loadBalancer: {simple: RANDOM, consistentHash: {minimumRingSize: 8, maglev: {tableSize: 5000011}}}}
)");
  EXPECT_THAT(
      r.errors,
      ::testing::UnorderedElementsAre(
          "spec.trafficPolicy.loadBalancer.consistentHash.httpCookie: name required for HttpCookie",
          "spec.trafficPolicy.loadBalancer.consistentHash.httpCookie.attributes[1]: duplicate cookie attribute name: a",
          "spec.trafficPolicy.loadBalancer.consistentHash.httpCookie.attributes[2]: cookie attribute name cannot be "
          "empty",
          "spec.trafficPolicy.loadBalancer.consistentHash: only one of httpHeaderName, httpCookie, useSourceIp, "
          "httpQueryParameterName may be set",
          "spec.trafficPolicy.loadBalancer.consistentHash: only one of ringHash or maglev may be set",
          "spec.trafficPolicy.loadBalancer.consistentHash.maglev.tableSize: tableSize must be a prime number for "
          "maglev",
          "spec.subsets[0].trafficPolicy.loadBalancer: only one of simple or consistentHash may be set",
          "spec.subsets[0].trafficPolicy.loadBalancer.consistentHash: only one of MinimumRingSize or Maglev/Ringhash "
          "can be specified",
          "spec.subsets[0].trafficPolicy.loadBalancer.consistentHash.maglev.tableSize: tableSize must be less than "
          "5000011 for maglev"));
}

TEST(DecodeTest, VirtualServiceMirrorsAreValidatedAsIstio) {
  Rejected r = rejectOne(vs(R"(
  - route: [{destination: {host: reviews}}]
    mirror: {host: "*.bad"}
    mirrors: [{destination: {host: ratings}, percentage: {value: 140}}, {percentage: {value: 5}}]
    mirrorPercentage: {value: -1}
)"));
  EXPECT_THAT(r.errors,
              ::testing::UnorderedElementsAre("spec.http[0]: HTTP route cannot contain both mirror and mirrors",
                                              "spec.http[0].mirror.host: '*.bad' is not a valid host name",
                                              "spec.http[0].mirrorPercentage.value: must be in [0, 100], got -1",
                                              "spec.http[0].mirrors[0].percentage.value: must be in [0, 100], got 140",
                                              "spec.http[0].mirrors[1].destination: is required"));
}

TEST(DecodeTest, RetriableHeadersPassesThroughAsIstio) {
  // Istio accepts it (and has no retriable_headers to go with it); weft-proxy knows the condition.
  ConfigSnapshot snap = snapshotFrom(vs(R"(
  - route: [{destination: {host: reviews}}]
    retries: {attempts: 2, retryOn: "retriable-headers,5xx"}
)"));
  EXPECT_THAT(snap.rejected, IsEmpty()) << rejectedText(snap);
  EXPECT_EQ(snap.accepted.size(), 1u);
}

TEST(DecodeTest, VirtualServiceRouteAndRedirectBothSet) {
  Rejected r = rejectOne(vs(R"(
  - route:
    - destination: {host: reviews}
    redirect: {uri: /v2}
)"));
  EXPECT_THAT(r.errors, ElementsAre("spec.http[0]: HTTP route cannot contain both route and redirect"));

  Rejected none = rejectOne(vs("  - name: nothing\n"));
  EXPECT_THAT(none.errors, ElementsAre("spec.http[0]: HTTP route, redirect or direct_response is required"));

  Rejected rewrite = rejectOne(vs(R"(
  - redirect: {uri: /v2}
    rewrite: {uri: /v3}
    fault: {abort: {httpStatus: 500}}
    directResponse: {status: 200}
)"));
  EXPECT_THAT(rewrite.errors, ElementsAre("spec.http[0]: HTTP route cannot contain both fault and redirect",
                                          "spec.http[0]: HTTP route rule cannot contain both rewrite and redirect",
                                          "spec.http[0]: HTTP route rule cannot contain both direct_response and "
                                          "redirect"));
  Rejected direct = rejectOne(vs(R"(
  - route:
    - destination: {host: reviews}
    directResponse: {status: 200}
    rewrite: {}
)"));
  EXPECT_THAT(direct.errors,
              ElementsAre("spec.http[0].rewrite: rewrite must specify at least one of URI, UriRegexRewrite, or "
                          "authority. Only one of URI or UriRegexRewrite may be specified",
                          "spec.http[0]: HTTP route cannot contain both route and direct_response",
                          "spec.http[0]: HTTP route rule cannot contain both rewrite and direct_response"));
}

TEST(DecodeTest, VirtualServiceBadHosts) {
  Rejected r = rejectOne(
      "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: r}\n"
      "spec:\n  hosts: [reviews, 'bad_host!']\n  http:\n  - route:\n    - destination: {host: reviews}\n");
  EXPECT_THAT(r.errors, ElementsAre("spec.hosts[1]: 'bad_host!' is not a valid host"));

  Rejected dest = rejectOne(vs(R"(
  - route:
    - destination: {host: "*.example.com"}
)"));
  EXPECT_THAT(dest.errors,
              ElementsAre("spec.http[0].route[0].destination.host: '*.example.com' is not a valid host name"));

  Rejected dup = rejectOne(
      "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: r}\n"
      "spec:\n  hosts: ['*.foo.bar', a.com, '*.bar', a.com]\n  http:\n  - route:\n    - destination: {host: "
      "reviews}\n");
  EXPECT_THAT(dup.errors, ElementsAre("spec.hosts: duplicate hosts in virtual service: *.foo.bar & *.bar",
                                      "spec.hosts: duplicate hosts in virtual service: a.com & a.com"));

  Rejected missing = rejectOne(
      "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: r}\n"
      "spec:\n  http:\n  - route:\n    - destination: {host: reviews}\n");
  EXPECT_THAT(missing.errors,
              ElementsAre("spec.hosts: delegate VirtualServices (without hosts) are not supported by weftd"));
}

TEST(DecodeTest, VirtualServiceBadRegex) {
  Rejected r = rejectOne(vs(R"(
  - match:
    - uri: {regex: "/api/(v1"}
    route:
    - destination: {host: reviews}
)"));
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_THAT(r.errors[0], StartsWith("spec.http[0].match[0].uri.regex: invalid regex '/api/(v1': "));

  Rejected header = rejectOne(vs(R"(
  - match:
    - uri: {prefix: /}
    - headers:
        x-user: {regex: "[a-"}
    route:
    - destination: {host: reviews}
)"));
  ASSERT_EQ(header.errors.size(), 1u);
  EXPECT_THAT(header.errors[0], StartsWith("spec.http[0].match[1].headers.x-user.regex: invalid regex '[a-': "));
}

TEST(DecodeTest, VirtualServiceStringMatchNeedsExactlyOneKind) {
  Rejected r = rejectOne(vs(R"(
  - match:
    - uri: {exact: /a, prefix: /b}
    route:
    - destination: {host: reviews}
)"));
  EXPECT_THAT(r.errors, ElementsAre("spec.http[0].match[0].uri: exactly one of exact, prefix, regex is required"));
}

TEST(DecodeTest, VirtualServiceStringMatchesAsIstio) {
  // `{}` (no match type) is a presence match; an empty uri prefix matches every path; an empty
  // prefix elsewhere, an empty regex or a regex over 1024 bytes is an error.
  ConfigSnapshot ok = snapshotFrom(vs(R"(
  - match:
    - uri: {prefix: ""}
      headers: {x-canary: {}}
      queryParams: {debug: {}}
    route:
    - destination: {host: reviews}
)"));
  ASSERT_EQ(ok.virtual_services.size(), 1u) << rejectedText(ok);
  const HttpMatch& m = ok.virtual_services[0].http[0].match[0];
  EXPECT_EQ(m.headers.at("x-canary").kind, StringMatch::Kind::Present);
  EXPECT_EQ(m.query_params.at("debug").kind, StringMatch::Kind::Present);
  Rejected r = rejectOne(vs(R"(
  - match:
    - headers: {x-a: {prefix: ""}, x-b: {regex: ""}}
      authority: {regex: ")" +
                            std::string(1025, 'a') + R"("}
    route:
    - destination: {host: reviews}
    corsPolicy:
      allowOrigins: [{exact: ""}, {}]
)"));
  EXPECT_THAT(
      r.errors,
      ElementsAre("spec.http[0].match[0].authority: regex is too large, max length allowed is 1024",
                  "spec.http[0].match[0].headers.x-a: prefix string match should not be empty",
                  "spec.http[0].match[0].headers.x-b: regex string match should not be empty",
                  "spec.http[0].corsPolicy.allowOrigins[0]: '' is not a valid match type for CORS allow origins",
                  "spec.http[0].corsPolicy.allowOrigins[1]: '' is not a valid match type for CORS allow "
                  "origins"));
}

TEST(DecodeTest, VirtualServiceMatchHeaderNamesCorsAndMirrorsAsIstio) {
  Rejected r = rejectOne(vs(R"(
  - match:
    - headers: {"x y": {exact: a}, ":method": {exact: GET}, "@request.auth.claims.group": {exact: admin}, x-null: null}
      withoutHeaders: {x-debug: {regex: "*"}}
    route:
    - destination: {host: reviews}
    mirrorPercentage: {value: 101}
    corsPolicy:
      allowMethods: [GET, PUTT]
      exposeHeaders: [""]
      allowHeaders: ["*", "x y"]
)"));
  EXPECT_THAT(r.errors,
              ElementsAre("spec.http[0].match[0].headers.x y: header name x y is not a valid header name",
                          "spec.http[0].match[0].headers.@request.auth.claims.group: JWT claim based routing (key: "
                          "@request.auth.claims.group) is only supported for gateway, found no gateways: []",
                          "spec.http[0].match[0].headers.x-null: header match x-null cannot be null",
                          "spec.http[0].corsPolicy.allowMethods: \"PUTT\" is not a supported HTTP method",
                          "spec.http[0].corsPolicy.allowHeaders: header name x y is not a valid header name",
                          "spec.http[0].corsPolicy.exposeHeaders: header name cannot be empty",
                          "spec.http[0].mirrorPercentage.value: must be in [0, 100], got 101"));
  ConfigSnapshot ok = snapshotFrom(vs(R"(
  - match:
    - withoutHeaders: {x-debug: {regex: "*"}}
    route:
    - destination: {host: reviews}
    mirrorPercent: 50
)"));
  ASSERT_EQ(ok.virtual_services.size(), 1u) << rejectedText(ok);
  EXPECT_EQ(ok.virtual_services[0].http[0].match[0].without_headers.at("x-debug").kind, StringMatch::Kind::Present);
  EXPECT_THAT(ok.virtual_services[0].warnings,
              ElementsAre("spec.http[0].mirrorPercent: using deprecated setting \"mirrorPercent\", use "
                          "\"mirrorPercentage\" instead"));
}

TEST(DecodeTest, VirtualServiceHeaderValuesFollowEnvoysGrammar) {
  for (const char* good :
       {"foo", "%HOSTNAME%", "100%%", "prefix %HOSTNAME% suffix", "%DOWNSTREAM_PEER_CERT_V_END(%b %d %H:%M:%S %Y %Z)%",
        "%DYNAMIC_METADATA(com.test.my_filter)%", "%DYNAMIC_METADATA([\"a\", \"b\"])%"})
    EXPECT_EQ(decode::headerValueGrammarError(good), std::nullopt) << good;
  EXPECT_EQ(decode::headerValueGrammarError("%START_TIME%%"), "invalid header configuration. Un-escaped %");
  EXPECT_EQ(decode::headerValueGrammarError("abc%123"),
            "invalid header configuration. Un-terminated variable expression 'abc%123'");
  EXPECT_EQ(decode::headerValueGrammarError("%X([\"a\" x])%"),
            "invalid header configuration. Expecting ',', ']', or whitespace");
  Rejected r = rejectOne(vs(R"(
  - route:
    - destination: {host: reviews}
    headers:
      request: {set: {x-a: "50%"}}
)"));
  EXPECT_THAT(r.errors, ElementsAre("spec.http[0].headers.request.set[x-a]: header value configuration: invalid "
                                    "header configuration. Un-escaped %"));
}

TEST(DecodeTest, VirtualServiceDurationsAsIstio) {
  auto timeoutErrors = [](const std::string& t) {
    ConfigSnapshot s = snapshotFrom(vs("  - route:\n    - destination: {host: reviews}\n    timeout: " + t + "\n"));
    return s.rejected.empty() ? std::vector<std::string>{} : s.rejected[0].errors;
  };
  EXPECT_THAT(timeoutErrors("0s"), ElementsAre("spec.http[0].timeout: duration must be greater than 1ms"));
  EXPECT_THAT(timeoutErrors("1500us"),
              ElementsAre("spec.http[0].timeout: only durations to ms precision are supported"));
  EXPECT_THAT(timeoutErrors("1h30m"), IsEmpty());
  EXPECT_THAT(timeoutErrors(".5s"), IsEmpty());
  EXPECT_THAT(timeoutErrors("5 s"),
              ElementsAre("spec.http[0].timeout: '5 s' is not a duration (e.g. 500ms, 1.5s, 2m, 1h30m)"));
  EXPECT_THAT(rejectOne(vs(R"(
  - route:
    - destination: {host: reviews}
    corsPolicy: {maxAge: 1500ms}
)"))
                  .errors,
              ElementsAre("spec.http[0].corsPolicy.maxAge: max_age duration is accurate only to seconds precision"));
  EXPECT_EQ(decode::goDurationNs("1h2m3.5s"), int64_t{3723500000000});
  EXPECT_EQ(decode::goDurationNs("-1.5ms"), int64_t{-1500000});
  EXPECT_EQ(decode::goDurationNs("0"), int64_t{0});
  EXPECT_EQ(decode::goDurationNs("1d"), std::nullopt);
  EXPECT_EQ(decode::goDurationNs("."), std::nullopt);
  EXPECT_EQ(decode::goDurationNs("s"), std::nullopt);
}

TEST(DecodeTest, VirtualServiceOtherFieldErrors) {
  EXPECT_THAT(rejectOne(vs(R"(
  - route:
    - destination: {host: reviews}
    timeout: soon
)"))
                  .errors,
              ElementsAre("spec.http[0].timeout: 'soon' is not a duration (e.g. 500ms, 1.5s, 2m, 1h30m)"));
  EXPECT_THAT(rejectOne(vs(R"(
  - redirect: {uri: /x, redirectCode: 304}
)"))
                  .errors,
              ElementsAre("spec.http[0].redirect.redirectCode: 304 is not supported by weftd (Envoy's redirect codes: "
                          "301, 302, 303, 307, 308)"));
  EXPECT_THAT(rejectOne(vs(R"(
  - redirect: {redirectCode: 200, scheme: ftp}
)"))
                  .errors,
              ElementsAre("spec.http[0].redirect.scheme: invalid redirect scheme, must be \"http\" or \"https\"",
                          "spec.http[0].redirect.redirectCode: 200 is not a valid redirect code, must be 3xx"));
  EXPECT_THAT(rejectOne(vs(R"(
  - redirect: {redirectCode: 301}
)"))
                  .errors,
              ElementsAre("spec.http[0].redirect: redirect must specify URI, authority, scheme, or port"));
  EXPECT_THAT(rejectOne(vs(R"(
  - directResponse: {status: 99}
)"))
                  .errors,
              ElementsAre("spec.http[0].directResponse.status: HTTP status 99 is not in range 200-599"));
  EXPECT_THAT(rejectOne(vs(R"(
  - match: [{port: 70000}]
    route:
    - destination: {host: reviews, port: {number: 0}}
)"))
                  .errors,
              ElementsAre("spec.http[0].match[0].port: must be a port number in [1, 65535], got 70000",
                          "spec.http[0].route[0].destination.port.number: must be a port number in [1, 65535], got 0"));
  EXPECT_THAT(rejectOne(vs(R"(
  - route:
    - destination: {host: reviews, subset: V_1}
)"))
                  .errors,
              ElementsAre("spec.http[0].route[0].destination.subset: subset name is invalid: V_1"));
  EXPECT_THAT(rejectOne(vs(R"(
  - route:
    - destination: {host: reviews}
      weight: lots
)"))
                  .errors,
              ElementsAre("spec.http[0].route[0].weight: must be an integer, got 'lots'"));
}

TEST(DecodeTest, VirtualServiceGatewaysOtherThanMeshRejected) {
  Rejected r = rejectOne(
      "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: r}\n"
      "spec:\n  hosts: [reviews]\n  gateways: [mesh, istio-system/ingress]\n"
      "  http:\n  - route:\n    - destination: {host: reviews}\n");
  EXPECT_THAT(r.errors, ElementsAre("spec.gateways[1]: gateway 'istio-system/ingress': Gateways are not supported by "
                                    "weftd yet (only 'mesh')"));
}

TEST(DecodeTest, VirtualServiceFieldsDecoded) {
  ConfigSnapshot snap = snapshotFrom(vs(R"(
  - name: canary
    match:
    - name: m0
      uri: {prefix: /api}
      method: {exact: GET}
      headers:
        x-user: {exact: jason}
      withoutHeaders:
        x-skip: {prefix: "1"}
      queryParams:
        debug: {regex: "t.*"}
      port: 9080
      sourceLabels: {app: productpage}
      ignoreUriCase: true
    route:
    - destination: {host: reviews, subset: v1, port: {number: 9080}}
      weight: 80
      headers:
        request:
          set: {x-a: "1"}
    - destination: {host: reviews, subset: v2}
      weight: 20
    rewrite: {uri: /v2, authority: reviews.internal}
    timeout: 1.5s
    headers:
      request:
        add: {x-b: "2"}
      response:
        remove: [server]
  - directResponse:
      status: 503
      body: {string: unavailable}
  - redirect: {uri: /new, authority: other, port: 8080, scheme: https, redirectCode: 308}
)"));
  ASSERT_TRUE(snap.rejected.empty()) << rejectedText(snap);
  ASSERT_EQ(snap.virtual_services.size(), 1u);
  const VirtualService& v = snap.virtual_services[0];
  EXPECT_EQ(v.meta.ns, "bookinfo");
  EXPECT_THAT(v.hosts, ElementsAre("reviews"));
  ASSERT_EQ(v.http.size(), 3u);
  const HttpRoute& h = v.http[0];
  EXPECT_EQ(h.name, "canary");
  ASSERT_EQ(h.match.size(), 1u);
  const HttpMatch& m = h.match[0];
  EXPECT_EQ(m.name, "m0");
  ASSERT_TRUE(m.uri);
  EXPECT_EQ(m.uri->kind, StringMatch::Kind::Prefix);
  EXPECT_EQ(m.uri->value, "/api");
  ASSERT_TRUE(m.method);
  EXPECT_EQ(m.method->value, "GET");
  ASSERT_EQ(m.headers.count("x-user"), 1u);
  EXPECT_EQ(m.headers.at("x-user").value, "jason");
  ASSERT_EQ(m.without_headers.count("x-skip"), 1u);
  EXPECT_EQ(m.without_headers.at("x-skip").kind, StringMatch::Kind::Prefix);
  ASSERT_EQ(m.query_params.count("debug"), 1u);
  EXPECT_EQ(m.query_params.at("debug").kind, StringMatch::Kind::Regex);
  EXPECT_EQ(m.port, 9080u);
  EXPECT_EQ(m.source_labels, (Labels{{"app", "productpage"}}));
  EXPECT_TRUE(m.ignore_uri_case);
  ASSERT_EQ(h.route.size(), 2u);
  EXPECT_EQ(h.route[0].destination.host, "reviews");
  EXPECT_EQ(h.route[0].destination.subset, "v1");
  EXPECT_EQ(h.route[0].destination.port, 9080u);
  EXPECT_EQ(h.route[0].weight, 80);
  EXPECT_EQ(h.route[0].request_headers.set, (std::map<std::string, std::string>{{"x-a", "1"}}));
  EXPECT_EQ(h.route[1].weight, 20);
  ASSERT_TRUE(h.rewrite);
  EXPECT_EQ(h.rewrite->uri, "/v2");
  EXPECT_EQ(h.rewrite->authority, "reviews.internal");
  EXPECT_EQ(h.timeout_ms, 1500);
  EXPECT_EQ(h.request_headers.add, (std::map<std::string, std::string>{{"x-b", "2"}}));
  EXPECT_THAT(h.response_headers.remove, ElementsAre("server"));
  ASSERT_TRUE(v.http[1].direct_response);
  EXPECT_EQ(v.http[1].direct_response->status, 503);
  EXPECT_EQ(v.http[1].direct_response->body, "unavailable");
  ASSERT_TRUE(v.http[2].redirect);
  EXPECT_EQ(v.http[2].redirect->uri, "/new");
  EXPECT_EQ(v.http[2].redirect->authority, "other");
  EXPECT_EQ(v.http[2].redirect->port, 8080u);
  EXPECT_EQ(v.http[2].redirect->scheme, "https");
  EXPECT_EQ(v.http[2].redirect->code, 308);
}

TEST(DecodeTest, SingleDestinationWithoutWeightGetsAllTraffic) {
  ConfigSnapshot snap = snapshotFrom(vs("  - route:\n    - destination: {host: reviews}\n"));
  ASSERT_EQ(snap.virtual_services.size(), 1u) << rejectedText(snap);
  EXPECT_EQ(snap.virtual_services[0].http[0].route[0].weight, 100);
}

TEST(DecodeTest, DurationUnits) {
  for (auto [text, ms] : std::vector<std::pair<std::string, int64_t>>{
           {"250ms", 250}, {"2s", 2000}, {"0.5s", 500}, {"2m", 120000}, {"1h", 3600000}}) {
    ConfigSnapshot snap =
        snapshotFrom(vs("  - route:\n    - destination: {host: reviews}\n    timeout: " + text + "\n"));
    ASSERT_EQ(snap.virtual_services.size(), 1u) << text << "\n" << rejectedText(snap);
    EXPECT_EQ(snap.virtual_services[0].http[0].timeout_ms, ms) << text;
  }
}

TEST(DecodeTest, TcpRoutes) {
  ConfigSnapshot snap = snapshotFrom(R"(
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: db}
spec:
  hosts: [db]
  tcp:
  - match: [{port: 3306}]
    route:
    - destination: {host: db, port: {number: 3306}}
)");
  ASSERT_EQ(snap.virtual_services.size(), 1u) << rejectedText(snap);
  ASSERT_EQ(snap.virtual_services[0].tcp.size(), 1u);
  EXPECT_EQ(snap.virtual_services[0].tcp[0].match_port, 3306u);

  Rejected r = rejectOne(
      "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: db}\n"
      "spec:\n  hosts: [db]\n  tcp:\n  - match: [{port: 3306}]\n");
  EXPECT_THAT(r.errors, ElementsAre("spec.tcp[0].route: at least one destination is required"));
  Rejected empty = rejectOne(
      "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: db}\n"
      "spec:\n  hosts: [db]\n");
  EXPECT_THAT(empty.errors, ElementsAre("spec: http, tcp or tls must be provided in virtual service"));
}

TEST(DecodeTest, DestinationRuleDuplicateSubset) {
  Rejected r = rejectOne(dr(R"(
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v1, labels: {version: v2}}
)"));
  EXPECT_EQ(r.source.kind, "DestinationRule");
  EXPECT_EQ(r.source.ns, "bookinfo");
  EXPECT_EQ(r.source.name, "reviews");
  EXPECT_THAT(r.errors, ElementsAre("spec.subsets[1].name: duplicate subset names: v1"));
}

TEST(DecodeTest, DestinationRuleBadSubsetName) {
  Rejected r = rejectOne(dr(R"(
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: Version_2, labels: {version: v2}}
  - {labels: {version: v3}}
)"));
  EXPECT_THAT(r.errors, ElementsAre("spec.subsets[1].name: subset name is invalid: Version_2",
                                    "spec.subsets[2].name: subset name cannot be empty"));
}

TEST(DecodeTest, DestinationRuleUnsupportedLoadBalancer) {
  Rejected r = rejectOne(dr(R"(
  trafficPolicy:
    loadBalancer: {simple: PASSTHROUGH}
)"));
  EXPECT_THAT(r.errors, ElementsAre("spec.trafficPolicy.loadBalancer.simple: 'PASSTHROUGH' is not supported by weftd "
                                    "(ROUND_ROBIN, LEAST_REQUEST, RANDOM are)"));

  Rejected sub = rejectOne(dr(R"(
  subsets:
  - name: v1
    labels: {version: v1}
    trafficPolicy:
      loadBalancer: {simple: PASSTHROUGH}
)"));
  EXPECT_THAT(sub.errors, ElementsAre("spec.subsets[0].trafficPolicy.loadBalancer.simple: 'PASSTHROUGH' is not "
                                      "supported by weftd (ROUND_ROBIN, LEAST_REQUEST, RANDOM are)"));

  Rejected tls = rejectOne(dr(R"(
  trafficPolicy:
    tls: {mode: MUTUAL, caCertificates: /etc/ca.pem, credentialName: c, insecureSkipVerify: true}
)"));
  // Istio's ValidateTLS: with credentialName the certificates come from the secret (none required).
  EXPECT_THAT(tls.errors,
              ElementsAre("spec.trafficPolicy.tls: cannot specify CaCertificates or SubjectAltNames when "
                          "InsecureSkipVerify is set true",
                          "spec.trafficPolicy.tls: cannot specify client certificates or CA certificate or CA CRL If "
                          "credentialName is set",
                          "spec.trafficPolicy.tls.credentialName: Kubernetes secrets are not supported by weftd yet; "
                          "name the files (clientCertificate, privateKey, caCertificates)"));
  Rejected mutual_files = rejectOne(dr(R"(
  trafficPolicy:
    tls: {mode: ISTIO_MUTUAL, clientCertificate: /c.pem}
)"));
  EXPECT_THAT(mutual_files.errors, ElementsAre("spec.trafficPolicy.tls.clientCertificate: must not be set with "
                                               "ISTIO_MUTUAL (the workload certificate is used)"));
}

TEST(DecodeTest, DestinationRuleDecoded) {
  ConfigSnapshot snap = snapshotFrom(dr(R"(
  trafficPolicy:
    loadBalancer: {simple: LEAST_REQUEST}
  subsets:
  - name: v1
    labels: {version: v1}
  - name: v2
    labels: {version: v2}
    trafficPolicy:
      loadBalancer: {simple: RANDOM}
)"));
  ASSERT_EQ(snap.destination_rules.size(), 1u) << rejectedText(snap);
  const DestinationRule& d = snap.destination_rules[0];
  EXPECT_EQ(d.host, "reviews");
  ASSERT_TRUE(d.traffic_policy && d.traffic_policy->load_balancer);
  EXPECT_EQ(d.traffic_policy->load_balancer->simple, "LEAST_REQUEST");
  ASSERT_EQ(d.subsets.size(), 2u);
  EXPECT_EQ(d.subsets[0].labels, (Labels{{"version", "v1"}}));
  ASSERT_TRUE(d.subsets[1].traffic_policy && d.subsets[1].traffic_policy->load_balancer);
  EXPECT_EQ(d.subsets[1].traffic_policy->load_balancer->simple, "RANDOM");
}

TEST(DecodeTest, ServiceDuplicatePortNames) {
  Rejected r = rejectOne(R"(
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: bookinfo}
spec:
  ports:
  - {name: http, port: 9080}
  - {name: http, port: 9081}
)");
  EXPECT_EQ(r.source.kind, "Service");
  EXPECT_EQ(r.source.ns, "bookinfo");
  EXPECT_EQ(r.source.name, "reviews");
  EXPECT_THAT(r.errors, ElementsAre("spec.ports[1].name: duplicate port name 'http'"));
}

TEST(DecodeTest, ServicePortErrors) {
  EXPECT_THAT(rejectOne("apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  ports:\n"
                        "  - {name: http, port: 80}\n  - {port: 81}\n")
                  .errors,
              ElementsAre("spec.ports[1].name: is required when a Service has several ports"));
  EXPECT_THAT(rejectOne("apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  ports:\n"
                        "  - {name: http, port: 0}\n")
                  .errors,
              ElementsAre("spec.ports[0].port: must be a port number in [1, 65535], got 0"));
  EXPECT_THAT(rejectOne("apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  selector: {app: s}\n").errors,
              ElementsAre("spec.ports: at least one port is required"));
}

TEST(DecodeTest, ServiceDecoded) {
  ConfigSnapshot snap = snapshotFrom(R"(
apiVersion: v1
kind: Service
metadata: {name: reviews, labels: {app: reviews}}
spec:
  clusterIP: 10.96.0.10
  selector: {app: reviews}
  ports:
  - {name: http, port: 9080, targetPort: 8080, appProtocol: http}
  - {name: tcp, port: 9000, protocol: TCP}
)");
  ASSERT_EQ(snap.services.size(), 1u) << rejectedText(snap);
  const Service& s = snap.services[0];
  EXPECT_EQ(s.meta.name, "reviews");
  EXPECT_EQ(s.meta.ns, "default");
  EXPECT_EQ(s.cluster_ip, "10.96.0.10");
  EXPECT_EQ(s.selector, (Labels{{"app", "reviews"}}));
  ASSERT_EQ(s.ports.size(), 2u);
  EXPECT_EQ(s.ports[0].port, 9080u);
  EXPECT_EQ(s.ports[0].target_port, 8080u);
  EXPECT_EQ(s.ports[0].app_protocol, "http");
  EXPECT_EQ(s.ports[1].target_port, 0u);

  ConfigSnapshot headless = snapshotFrom(
      "apiVersion: v1\nkind: Service\nmetadata: {name: h}\nspec:\n  clusterIP: None\n  ports: [{name: http, port: "
      "80}]\n");
  ASSERT_EQ(headless.services.size(), 1u) << rejectedText(headless);
  EXPECT_EQ(headless.services[0].cluster_ip, "");
}

// Kubernetes allows targetPort to name a container port (targetPort: http). weftd does not
// model container ports, and decode.cc says it takes "the numeric form only": a named
// targetPort must not make the whole Service invalid (Istio and Kubernetes accept it).
TEST(DecodeTest, ServiceWithNamedTargetPortIsAccepted) {
  ConfigSnapshot snap = snapshotFrom(R"(
apiVersion: v1
kind: Service
metadata: {name: reviews}
spec:
  selector: {app: reviews}
  ports:
  - {name: http, port: 9080, targetPort: http-web}
)");
  EXPECT_THAT(snap.rejected, IsEmpty()) << rejectedText(snap);
  ASSERT_EQ(snap.services.size(), 1u);
  EXPECT_EQ(snap.services[0].ports[0].port, 9080u);
}

TEST(DecodeTest, ServiceEntryBadResolution) {
  Rejected r = rejectOne(R"(
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ext, namespace: egress}
spec:
  hosts: [api.example.com]
  ports: [{number: 443, name: tls, protocol: TLS}]
  resolution: MAGIC
)");
  EXPECT_EQ(r.source.kind, "ServiceEntry");
  EXPECT_EQ(r.source.ns, "egress");
  EXPECT_EQ(r.source.name, "ext");
  EXPECT_THAT(r.errors,
              ElementsAre("spec.resolution: 'MAGIC' is not one of NONE, STATIC, DNS, DNS_ROUND_ROBIN, DYNAMIC_DNS"));
}

TEST(DecodeTest, ServiceEntryOtherErrors) {
  EXPECT_THAT(rejectOne(R"(
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ext}
spec:
  hosts: [api.example.com]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints: [{address: api.example.com}]
)")
                  .errors,
              ElementsAre("spec.endpoints[0].address: endpoint address \"api.example.com\" is not a valid IP address"));
  EXPECT_THAT(rejectOne(R"(
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ext}
spec:
  hosts: ["*"]
  ports: [{number: 80, name: http, protocol: HTTP}, {number: 81, name: http}]
  location: SOMEWHERE
)")
                  .errors,
              ElementsAre("spec.location: 'SOMEWHERE' is not one of MESH_EXTERNAL, MESH_INTERNAL",
                          "spec.hosts[0]: invalid host *",
                          "spec.ports[1].name: service entry port name \"http\" already defined"));
}

TEST(DecodeTest, ServiceEntryDecoded) {
  ConfigSnapshot snap = snapshotFrom(R"(
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ext}
spec:
  hosts: [a.example.com, b.example.com]
  addresses: [240.0.0.1]
  ports: [{number: 80, name: http, protocol: HTTP, targetPort: 8080}]
  location: MESH_INTERNAL
  resolution: STATIC
  endpoints:
  - address: 10.3.0.1
    ports: {http: 8081}
    labels: {version: v1}
    weight: 3
)");
  ASSERT_EQ(snap.service_entries.size(), 1u) << rejectedText(snap);
  const ServiceEntry& se = snap.service_entries[0];
  EXPECT_THAT(se.hosts, ElementsAre("a.example.com", "b.example.com"));
  EXPECT_THAT(se.addresses, ElementsAre("240.0.0.1"));
  EXPECT_EQ(se.location, "MESH_INTERNAL");
  EXPECT_EQ(se.resolution, "STATIC");
  ASSERT_EQ(se.ports.size(), 1u);
  EXPECT_EQ(se.ports[0].target_port, 8080u);
  ASSERT_EQ(se.endpoints.size(), 1u);
  EXPECT_EQ(se.endpoints[0].address, "10.3.0.1");
  EXPECT_EQ(se.endpoints[0].ports.at("http"), 8081u);
  EXPECT_EQ(se.endpoints[0].weight, 3u);

  ConfigSnapshot defaults = snapshotFrom(R"(
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ext}
spec:
  hosts: [a.example.com]
  ports: [{number: 443, name: tls, protocol: TLS}]
)");
  ASSERT_EQ(defaults.service_entries.size(), 1u) << rejectedText(defaults);
  EXPECT_EQ(defaults.service_entries[0].location, "MESH_EXTERNAL");
  EXPECT_EQ(defaults.service_entries[0].resolution, "NONE");
}

TEST(DecodeTest, SidecarEgressHostsNeedNamespace) {
  Rejected r = rejectOne(R"(
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: ns1}
spec:
  egress:
  - hosts: ["./*", "reviews.default.svc.cluster.local"]
)");
  EXPECT_THAT(r.errors, ElementsAre("spec.egress[0].hosts[1]: host must be of form namespace/dnsName"));
}

TEST(DecodeTest, SidecarValidatedAsIstio) {
  auto errors = [](const std::string& spec) {
    ConfigSnapshot s = snapshotFrom(
        "apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {name: default, namespace: bar}\nspec:\n" + spec);
    return s.rejected.empty() ? std::vector<std::string>{} : s.rejected[0].errors;
  };
  EXPECT_THAT(errors("  egress: [{hosts: [\"*/*\", \"~ns1/*\", \"./foo.com\", \"~/*\"]}]\n"), IsEmpty());
  EXPECT_THAT(errors("  workloadSelector: {labels: {app: a}}\n"),
              ElementsAre("spec: sidecar: empty configuration provided"));
  EXPECT_THAT(errors("  egress: [{hosts: [\"~Invalid_NS/*\", \"/\", \"ns/foo\", \"ns/*foo.com\"]}]\n"),
              ElementsAre("spec.egress[0].hosts[0]: invalid namespace value \"Invalid_NS\" in sidecar",
                          "spec.egress[0].hosts[1]: config namespace and dnsName in host entry cannot be empty",
                          "spec.egress[0].hosts[2]: short names (non FQDN) are not allowed",
                          "spec.egress[0].hosts[3]: partial wildcard \"*foo.com\" not allowed"));
  EXPECT_THAT(errors("  egress: [{hosts: []}]\n"),
              ElementsAre("spec.egress[0]: sidecar: egress listener must contain at least one host"));
  // As Istio: the first port-less listener is out of place; the last one is the catch-all.
  EXPECT_THAT(errors("  egress: [{hosts: [\"*/foo.com\"]}, {hosts: [\"ns1/bar.com\"]}]\n"),
              ElementsAre("spec.egress[0]: sidecar: the egress listener with empty port should be the last listener "
                          "in the list"));
  EXPECT_THAT(errors("  egress: [{hosts: [\"*/foo.com\"]}, {hosts: [\"ns1/bar.com\"]}, {hosts: [\"ns1/b.com\"]}]\n"),
              ElementsAre("spec.egress[0]: sidecar: the egress listener with empty port should be the last listener "
                          "in the list",
                          "spec.egress[1]: sidecar: the egress listener with empty port should be the last listener "
                          "in the list"));
  EXPECT_THAT(errors("  workloadSelector: {labels: {app: \"*\"}}\n  egress: [{hosts: [\"*/*\"]}]\n"),
              ElementsAre("spec.workloadSelector: wildcard is not supported in selector: \"app=*\""));
}

TEST(DecodeTest, UnknownKind) {
  Rejected r = rejectOne(R"(
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: ingress, namespace: istio-system}
spec: {}
)");
  EXPECT_EQ(r.source.kind, "Gateway");
  EXPECT_EQ(r.source.ns, "istio-system");
  EXPECT_EQ(r.source.name, "ingress");
  EXPECT_THAT(r.errors, ElementsAre("kind: networking.istio.io/v1 Gateway is not supported by weftd"));

  Rejected v2 = rejectOne("apiVersion: networking.istio.io/v2\nkind: VirtualService\nmetadata: {name: x}\n");
  EXPECT_THAT(v2.errors, ElementsAre("kind: networking.istio.io/v2 VirtualService is not supported by weftd"));

  Rejected nokind = rejectOne("apiVersion: v1\nmetadata: {name: x}\n");
  EXPECT_THAT(nokind.errors, ElementsAre("apiVersion and kind: are required"));

  Rejected scalar = rejectOne("just a string\n");
  EXPECT_THAT(scalar.errors, ElementsAre("document: must be a map with apiVersion, kind, metadata"));
}

TEST(DecodeTest, MissingNameAndMetadata) {
  EXPECT_THAT(rejectOne("apiVersion: v1\nkind: Pod\nmetadata: {namespace: x}\n").errors,
              ElementsAre("metadata.name: is required"));
  EXPECT_THAT(rejectOne("apiVersion: v1\nkind: Pod\n").errors, ElementsAre("metadata: is required"));
}

TEST(DecodeTest, IstioNetworkingApiVersions) {
  for (const char* api : {"networking.istio.io/v1", "networking.istio.io/v1beta1", "networking.istio.io/v1alpha3"}) {
    EXPECT_TRUE(isKnownKind(api, "VirtualService")) << api;
    EXPECT_TRUE(isKnownKind(api, "DestinationRule")) << api;
    EXPECT_TRUE(isKnownKind(api, "ServiceEntry")) << api;
    EXPECT_TRUE(isKnownKind(api, "WorkloadEntry")) << api;
    EXPECT_TRUE(isKnownKind(api, "Sidecar")) << api;
    EXPECT_FALSE(isKnownKind(api, "Gateway")) << api;
    EXPECT_FALSE(isKnownKind(api, "Service")) << api;
  }
  EXPECT_TRUE(isKnownKind("v1", "Service"));
  EXPECT_TRUE(isKnownKind("v1", "Endpoints"));
  EXPECT_FALSE(isKnownKind("v1", "VirtualService"));
  EXPECT_FALSE(isKnownKind("networking.istio.io/v2", "VirtualService"));

  ConfigSnapshot snap = snapshotFrom(R"(
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: a}
spec: {host: a}
---
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: b}
spec: {host: b}
---
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: c}
spec:
  hosts: [c]
  http:
  - route:
    - destination: {host: c}
)");
  EXPECT_THAT(snap.rejected, IsEmpty()) << rejectedText(snap);
  EXPECT_EQ(snap.destination_rules.size(), 2u);
  EXPECT_EQ(snap.virtual_services.size(), 1u);
}

TEST(DecodeTest, WorkloadEntryDecoded) {
  ConfigSnapshot snap = snapshotFrom(R"(
apiVersion: networking.istio.io/v1beta1
kind: WorkloadEntry
metadata: {name: vm-1, namespace: default}
spec:
  address: 10.5.0.1
  ports: {http: 8080}
  labels: {app: reviews, version: vm}
  weight: 4
  serviceAccount: reviews-vm
)");
  ASSERT_EQ(snap.workload_entries.size(), 1u) << rejectedText(snap);
  const WorkloadEntry& we = snap.workload_entries[0];
  EXPECT_EQ(we.spec.address, "10.5.0.1");
  EXPECT_EQ(we.spec.ports.at("http"), 8080u);
  EXPECT_EQ(we.spec.labels.at("version"), "vm");
  EXPECT_EQ(we.spec.weight, 4u);
  EXPECT_EQ(we.spec.service_account, "reviews-vm");

  EXPECT_THAT(rejectOne("apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata: {name: w}\n"
                        "spec:\n  ports: {http: 99999}\n")
                  .errors,
              ElementsAre("spec.address: address is required"));
}

}  // namespace
}  // namespace weft::control
