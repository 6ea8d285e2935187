// The agent's gRPC probe against a real grpc++ server with gRPC's own health service: SERVING,
// NOT_SERVING, an unknown service, nothing listening, and a server that never answers.
#include "agent/grpc_health_probe.h"

#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "envoy/service/discovery/v3/ads.grpc.pb.h"

namespace weft::agent {
namespace {

using namespace std::chrono_literals;

class GrpcHealthProbeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::EnableDefaultHealthCheckService(true);
    grpc::ServerBuilder b;
    b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    b.RegisterService(&any_service_);  // a synchronous service, so grpc++ polls for the health service too
    server_ = b.BuildAndStart();
    ASSERT_TRUE(server_ && port_ > 0);
    server_->GetHealthCheckService()->SetServingStatus("reviews", true);
    server_->GetHealthCheckService()->SetServingStatus("ratings", false);
  }
  void TearDown() override { server_->Shutdown(std::chrono::system_clock::now()); }
  int port_ = 0;
  envoy::service::discovery::v3::AggregatedDiscoveryService::Service any_service_;
  std::unique_ptr<grpc::Server> server_;
};

TEST_F(GrpcHealthProbeTest, ServingAndNot) {
  EXPECT_EQ(grpcHealthCheck(port_, "", 2000ms), "");  // the server as a whole
  EXPECT_EQ(grpcHealthCheck(port_, "reviews", 2000ms), "");
  std::string where = "gRPC health check of 127.0.0.1:" + std::to_string(port_);
  EXPECT_EQ(grpcHealthCheck(port_, "ratings", 2000ms), where + ": NOT_SERVING");
  EXPECT_EQ(grpcHealthCheck(port_, "details", 2000ms), where + ": grpc-status 5 (service name unknown)");
}

TEST(GrpcHealthProbeFailures, NothingListeningOrNoAnswer) {
  // A port nothing listens on.
  int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(s, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
  socklen_t len = sizeof(sa);
  getsockname(s, reinterpret_cast<sockaddr*>(&sa), &len);
  int port = ntohs(sa.sin_port);
  EXPECT_NE(grpcHealthCheck(port, "", 500ms).find("Connection refused"), std::string::npos);
  // Listening, never answering: the deadline holds.
  ASSERT_EQ(listen(s, 4), 0);
  auto start = std::chrono::steady_clock::now();
  EXPECT_NE(grpcHealthCheck(port, "", 300ms).find("no answer within 300 ms"), std::string::npos);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  close(s);
}

}  // namespace
}  // namespace weft::agent
