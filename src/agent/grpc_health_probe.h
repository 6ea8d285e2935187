#pragma once
// The check behind a rewritten gRPC probe (a pod's `grpc: {port, service}` probe, which Istio's
// injector turns into the agent's /app-health/<container>/<kind>): grpc.health.v1.Health/Check
// to the application on 127.0.0.1 over h2c, as the kubelet's gRPC prober asks it. Blocking,
// within `timeout`.
#include <chrono>
#include <string>

namespace weft::agent {

// "" when the service answers SERVING; else what it answered, or why there was no answer.
std::string grpcHealthCheck(int port, const std::string& service, std::chrono::milliseconds timeout);

}  // namespace weft::agent
