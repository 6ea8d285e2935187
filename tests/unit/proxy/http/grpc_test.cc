#include "proxy/http/grpc.h"

#include <gtest/gtest.h>

#include "proxy/http/route_action.h"

namespace weft::proxy::http {
namespace {

using std::chrono::milliseconds;

TEST(GrpcTest, ParsesTimeoutUnits) {
  EXPECT_EQ(grpc::parseTimeout("1H"), milliseconds(3600000));
  EXPECT_EQ(grpc::parseTimeout("2M"), milliseconds(120000));
  EXPECT_EQ(grpc::parseTimeout("3S"), milliseconds(3000));
  EXPECT_EQ(grpc::parseTimeout("250m"), milliseconds(250));
  EXPECT_EQ(grpc::parseTimeout("1500u"), milliseconds(2));  // rounded up
  EXPECT_EQ(grpc::parseTimeout("1n"), milliseconds(1));
  EXPECT_EQ(grpc::parseTimeout("99999999S"), milliseconds(99999999000));
}

TEST(GrpcTest, RejectsMalformedTimeouts) {
  for (const char* bad : {"", "S", "10", "10s", "-1S", "123456789S", "1.5S"}) {
    EXPECT_FALSE(grpc::parseTimeout(bad).has_value()) << bad;
  }
}

TEST(GrpcTest, HttpStatusMapping) {
  EXPECT_EQ(grpc::statusForHttp(503), 14);
  EXPECT_EQ(grpc::statusForHttp(504), 14);
  EXPECT_EQ(grpc::statusForHttp(404), 12);
  EXPECT_EQ(grpc::statusForHttp(403), 7);
  EXPECT_EQ(grpc::statusForHttp(401), 16);
  EXPECT_EQ(grpc::statusForHttp(400), 13);
  EXPECT_EQ(grpc::statusForHttp(500), 2);
}

TEST(GrpcTest, DetectsGrpcContentTypes) {
  RequestHead req;
  req.headers.push_back({"content-type", "application/grpc+proto"});
  EXPECT_TRUE(grpc::isGrpc(req));
  req.headers[0].value = "application/json";
  EXPECT_FALSE(grpc::isGrpc(req));
}

TEST(GrpcTest, RequestTimeoutHonoursMaxGrpcTimeout) {
  Route route;
  route.timeout = milliseconds(15000);
  RequestHead req;
  req.headers.push_back({"grpc-timeout", "200m"});
  // Without max_grpc_timeout, the route timeout applies to gRPC too.
  EXPECT_EQ(requestTimeout(route, req, true), milliseconds(15000));
  route.grpc_timeout_max = milliseconds(0);  // uncapped
  EXPECT_EQ(requestTimeout(route, req, true), milliseconds(200));
  route.grpc_timeout_max = milliseconds(100);
  EXPECT_EQ(requestTimeout(route, req, true), milliseconds(100));
  route.grpc_timeout_offset = milliseconds(30);
  EXPECT_EQ(requestTimeout(route, req, true), milliseconds(70));
  EXPECT_EQ(requestTimeout(route, req, false), milliseconds(15000));
  RequestHead no_header;
  route.grpc_timeout_offset = milliseconds(0);
  EXPECT_EQ(requestTimeout(route, no_header, true), milliseconds(100));  // infinity, capped
}

}  // namespace
}  // namespace weft::proxy::http
