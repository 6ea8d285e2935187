// gRPC echo server (grpc++ sync API) for the weft-proxy gRPC integration tests.
//
//   grpc_echo_server [--host 127.0.0.1] [--port 0] [--tls-cert F --tls-key F]
//                    [--max_message_bytes N]
//
// Prints "listening on PORT" (the bound port; --port 0 picks a free one) once it serves.
// Every RPC:
//   - initial metadata: each request metadata entry `k: v` echoed as `echo-k: v`, and
//     `echo-authority: <the :authority the server saw>`;
//   - trailing metadata: `x-trailer: <method>-done`, `x-received-bytes: <payload bytes received>`,
//     also on a non-OK status;
//   - EchoRequest.sleep_ms delays the answer (cut short if the RPC is cancelled),
//     EchoRequest.fail_code / fail_message end the RPC with that status (see echo.proto).
#include <grpcpp/grpcpp.h>
#include <grpcpp/security/server_credentials.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>

#include "echo.grpc.pb.h"
#include "echo_common.h"

using grpc::ServerContext;
using grpc::Status;
using weft::test::EchoReply;
using weft::test::EchoRequest;

namespace {

// Sleep up to ms, in small steps; false if the RPC was cancelled meanwhile.
bool SleepUnlessCancelled(ServerContext* ctx, int ms) {
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (std::chrono::steady_clock::now() < until) {
    if (ctx->IsCancelled()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return !ctx->IsCancelled();
}

void EchoMetadata(ServerContext* ctx) {
  for (const auto& [k, v] : ctx->client_metadata()) {
    ctx->AddInitialMetadata("echo-" + std::string(k.data(), k.size()), std::string(v.data(), v.size()));
  }
  grpc::string_ref authority = ctx->ExperimentalGetAuthority();
  ctx->AddInitialMetadata("echo-authority", std::string(authority.data(), authority.size()));
}

void AddTrailers(ServerContext* ctx, const char* method, int64_t received_bytes) {
  ctx->AddTrailingMetadata("x-trailer", std::string(method) + "-done");
  ctx->AddTrailingMetadata("x-received-bytes", std::to_string(received_bytes));
}

Status Failure(const EchoRequest& req) {
  return Status(static_cast<grpc::StatusCode>(req.fail_code()), req.fail_message());
}

// What the server has received on one RPC.
struct Received {
  int32_t messages = 0;
  int64_t bytes = 0;
  weft::test::Sha256 sha;

  void Add(const EchoRequest& req) {
    ++messages;
    bytes += static_cast<int64_t>(req.payload().size());
    sha.Update(req.payload());
  }
  void Fill(EchoReply* reply) const {
    reply->set_received_messages(messages);
    reply->set_received_bytes(bytes);
    reply->set_received_sha256(sha.Hex());
  }
};

class EchoService final : public weft::test::Echo::Service {
 public:
  Status Unary(ServerContext* ctx, const EchoRequest* req, EchoReply* reply) override {
    EchoMetadata(ctx);
    Received got;
    got.Add(*req);
    AddTrailers(ctx, "unary", got.bytes);
    if (req->sleep_ms() > 0 && !SleepUnlessCancelled(ctx, req->sleep_ms())) {
      return Status(grpc::StatusCode::CANCELLED, "cancelled while sleeping");
    }
    if (req->fail_code() != 0) return Failure(*req);
    reply->set_payload(req->payload());
    reply->set_text(req->text());
    got.Fill(reply);
    return Status::OK;
  }

  Status ServerStream(ServerContext* ctx, const EchoRequest* req, grpc::ServerWriter<EchoReply>* writer) override {
    EchoMetadata(ctx);
    Received got;
    got.Add(*req);
    AddTrailers(ctx, "server_stream", got.bytes);
    if (req->sleep_ms() > 0 && !SleepUnlessCancelled(ctx, req->sleep_ms())) {
      return Status(grpc::StatusCode::CANCELLED, "cancelled while sleeping");
    }
    if (req->fail_code() != 0) return Failure(*req);
    for (int32_t i = 0; i < req->response_count(); ++i) {
      if (i > 0 && req->interval_ms() > 0 && !SleepUnlessCancelled(ctx, req->interval_ms())) {
        return Status(grpc::StatusCode::CANCELLED, "cancelled between replies");
      }
      EchoReply reply;
      reply.set_index(i);
      reply.set_text(req->text());
      reply.set_payload(weft::test::Pattern(static_cast<uint32_t>(i), static_cast<size_t>(req->response_size())));
      got.Fill(&reply);
      if (!writer->Write(reply)) return Status(grpc::StatusCode::CANCELLED, "write failed");
    }
    return Status::OK;
  }

  Status ClientStream(ServerContext* ctx, grpc::ServerReader<EchoRequest>* reader, EchoReply* reply) override {
    EchoMetadata(ctx);
    Received got;
    EchoRequest req;
    int sleep_ms = 0;
    std::string text;
    while (reader->Read(&req)) {
      got.Add(req);
      if (got.messages == 1) {
        sleep_ms = req.sleep_ms();
        text = req.text();
      }
      if (req.fail_code() != 0) {
        AddTrailers(ctx, "client_stream", got.bytes);
        return Failure(req);
      }
    }
    AddTrailers(ctx, "client_stream", got.bytes);
    if (sleep_ms > 0 && !SleepUnlessCancelled(ctx, sleep_ms)) {
      return Status(grpc::StatusCode::CANCELLED, "cancelled while sleeping");
    }
    reply->set_text(text);
    got.Fill(reply);
    return Status::OK;
  }

  Status BidiStream(ServerContext* ctx, grpc::ServerReaderWriter<EchoReply, EchoRequest>* stream) override {
    EchoMetadata(ctx);
    Received got;
    EchoRequest req;
    while (stream->Read(&req)) {
      got.Add(req);
      if (got.messages == 1 && req.sleep_ms() > 0 && !SleepUnlessCancelled(ctx, req.sleep_ms())) {
        AddTrailers(ctx, "bidi", got.bytes);
        return Status(grpc::StatusCode::CANCELLED, "cancelled while sleeping");
      }
      if (req.fail_code() != 0) {
        AddTrailers(ctx, "bidi", got.bytes);
        return Failure(req);
      }
      EchoReply reply;
      reply.set_index(got.messages - 1);
      reply.set_text(req.text());
      reply.set_payload(req.payload());
      got.Fill(&reply);
      if (!stream->Write(reply)) {
        AddTrailers(ctx, "bidi", got.bytes);
        return Status(grpc::StatusCode::CANCELLED, "write failed");
      }
    }
    AddTrailers(ctx, "bidi", got.bytes);
    return Status::OK;
  }
};

std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot read " + path);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"gRPC echo server (weft.test.Echo) for the weft-proxy integration tests"};
  std::string host = "127.0.0.1";
  int port = 0;
  std::string tls_cert, tls_key;
  int max_message_bytes = 64 << 20;
  app.add_option("--host", host, "address to listen on");
  app.add_option("--port", port, "port (0: any free port; the chosen one is printed)");
  app.add_option("--tls-cert", tls_cert, "PEM certificate chain: serve TLS (ALPN h2)");
  app.add_option("--tls-key", tls_key, "PEM private key for --tls-cert");
  app.add_option("--max_message_bytes", max_message_bytes, "largest message sent or received");
  std::string health_file;
  app.add_option("--health-file", health_file,
                 "serve grpc.health.v1.Health; the file's first word (SERVING / NOT_SERVING) is the status");
  CLI11_PARSE(app, argc, argv);
  if (tls_cert.empty() != tls_key.empty()) {
    std::cerr << "--tls-cert and --tls-key go together\n";
    return 2;
  }

  std::shared_ptr<grpc::ServerCredentials> creds;
  try {
    if (tls_cert.empty()) {
      creds = grpc::InsecureServerCredentials();
    } else {
      grpc::SslServerCredentialsOptions opts;
      opts.pem_key_cert_pairs.push_back({ReadFile(tls_key), ReadFile(tls_cert)});
      creds = grpc::SslServerCredentials(opts);
    }
  } catch (const std::exception& e) {
    std::cerr << e.what() << "\n";
    return 2;
  }

  EchoService service;
  if (!health_file.empty()) grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  int bound = 0;
  std::string addr = (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
  builder.AddListeningPort(addr, creds, &bound);
  builder.SetMaxReceiveMessageSize(max_message_bytes);
  builder.SetMaxSendMessageSize(max_message_bytes);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || bound == 0) {
    std::cerr << "could not listen on " << addr << "\n";
    return 1;
  }
  if (!health_file.empty()) {
    // The health status follows the file, so a test can flip it while the server runs.
    std::thread([&server, health_file] {
      for (;;) {
        std::ifstream f(health_file);
        std::string word;
        f >> word;
        server->GetHealthCheckService()->SetServingStatus(word == "SERVING");
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }).detach();
  }
  std::printf("listening on %d\n", bound);
  std::fflush(stdout);
  server->Wait();
  return 0;
}
