#include "proxy/upstream/grpc_health_probe.h"

#include <gtest/gtest.h>

namespace weft::proxy::upstream {
namespace {

TEST(GrpcHealthProbeTest, StartsWithThePrefaceAndTheCheckRequest) {
  GrpcHealthProbe probe("health.test", "svc");
  std::string out = probe.start();
  EXPECT_EQ(out.rfind("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 0), 0u);
  // The request message: a gRPC frame of HealthCheckRequest{service: "svc"}.
  EXPECT_NE(out.find(std::string("\0\0\0\0\x05\x0a\x03svc", 10)), std::string::npos);
}

TEST(GrpcHealthProbeTest, BytesThatAreNotHttp2AreAProtocolError) {
  GrpcHealthProbe probe("a", "");
  probe.start();
  std::string out;
  EXPECT_EQ(probe.feed("HTTP/1.1 200 OK\r\n\r\n", out), GrpcHealthProbe::Result::ProtocolError);
}

TEST(GrpcHealthProbeTest, NothingYetIsPending) {
  GrpcHealthProbe probe("a", "");
  probe.start();
  std::string out;
  EXPECT_EQ(probe.feed("", out), GrpcHealthProbe::Result::Pending);
}

}  // namespace
}  // namespace weft::proxy::upstream
