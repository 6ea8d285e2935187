// gRPC echo client (grpc++) for the weft-proxy gRPC integration tests: runs one scenario against
// a target and prints one JSON line.
//
//   grpc_echo_client --target 127.0.0.1:PORT --scenario unary|server_stream|client_stream|bidi|bidi_pingpong
//                    [--size BYTES] [--count N] [--deadline_ms MS] [--authority A]
//                    [--sleep_ms MS] [--interval_ms MS] [--fail_code C] [--fail_message M]
//                    [--text T] [--metadata k=v]... [--max_message_bytes N]
//                    [--tls --ca FILE [--server_name NAME] [--cert FILE --key FILE]]
//
// Scenarios (payloads are echo_common.h's Pattern(index, size)):
//   unary          one request with a --size payload; the reply must echo it.
//   server_stream  one request asking for --count replies of --size bytes (--interval_ms apart).
//   client_stream  --count requests of --size bytes; the reply reports what the server received.
//   bidi           --count requests of --size bytes written while replies are read concurrently;
//                  each is echoed back.
//   bidi_pingpong  like bidi, but each request waits for its echo before the next is written.
// --sleep_ms / --fail_code / --fail_message / --text go into the first request.
//
// Exit status: 0 when the RPC completed, whatever its grpc-status (that is in the JSON); 2 for
// a usage error; 1 when the client itself failed. JSON fields:
//   scenario, code, code_name, message, ok, initial_metadata {k: v}, trailers {k: v},
//   sent_messages, sent_bytes, sent_sha256, received_messages, received_bytes, received_sha256,
//   expected_sha256, server_received_messages, server_received_bytes, server_received_sha256,
//   sha256_match, text, first_reply_ms, reply_ms (arrival of each reply, the first 1000),
//   max_roundtrip_ms (bidi_pingpong), elapsed_ms, peer. Times are ms since the call started.
// Multiple values of one metadata key are joined with ",".
#include <grpcpp/grpcpp.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "echo.grpc.pb.h"
#include "echo_common.h"

using weft::test::EchoReply;
using weft::test::EchoRequest;
using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

namespace {

struct Options {
  std::string target;
  std::string scenario = "unary";
  size_t size = 1024;
  int count = 1;
  int deadline_ms = 30000;
  std::string authority;
  int sleep_ms = 0;
  int interval_ms = 0;
  int fail_code = 0;
  std::string fail_message;
  std::string text;
  std::vector<std::string> metadata;
  int max_message_bytes = 64 << 20;
  bool tls = false;
  std::string ca, server_name, cert, key;
};

const char* CodeName(int code) {
  static const char* kNames[] = {
      "OK",        "CANCELLED",      "UNKNOWN",           "INVALID_ARGUMENT",   "DEADLINE_EXCEEDED",
      "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
      "ABORTED",   "OUT_OF_RANGE",   "UNIMPLEMENTED",     "INTERNAL",           "UNAVAILABLE",
      "DATA_LOSS", "UNAUTHENTICATED"};
  return code >= 0 && code <= 16 ? kNames[code] : "?";
}

std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot read " + path);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

// Printable values as they are; anything else (e.g. -bin) as hex.
std::string MetadataValue(const grpc::string_ref& v) {
  std::string s(v.data(), v.size());
  for (unsigned char c : s) {
    if (c < 0x20 || c > 0x7e) {
      static constexpr char kHex[] = "0123456789abcdef";
      std::string hex = "hex:";
      for (unsigned char b : s) {
        hex.push_back(kHex[b >> 4]);
        hex.push_back(kHex[b & 15]);
      }
      return hex;
    }
  }
  return s;
}

json MetadataJson(const std::multimap<grpc::string_ref, grpc::string_ref>& md) {
  json out = json::object();
  for (const auto& [k, v] : md) {
    std::string key(k.data(), k.size());
    std::string value = MetadataValue(v);
    if (out.contains(key)) {
      out[key] = out[key].get<std::string>() + "," + value;
    } else {
      out[key] = value;
    }
  }
  return out;
}

double MsSince(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

// What one scenario saw, turned into the JSON line at the end.
struct Result {
  int sent_messages = 0;
  int64_t sent_bytes = 0;
  weft::test::Sha256 sent_sha;
  int received_messages = 0;
  int64_t received_bytes = 0;
  weft::test::Sha256 received_sha;
  weft::test::Sha256 expected_sha;  // what the replies' payloads should add up to
  bool indices_ok = true;
  EchoReply last;  // the last reply
  bool have_reply = false;
  double first_reply_ms = -1;
  double max_roundtrip_ms = -1;
  std::vector<double> reply_ms;  // arrival of each reply (the first 1000)

  void Sent(const EchoRequest& req) {
    ++sent_messages;
    sent_bytes += static_cast<int64_t>(req.payload().size());
    sent_sha.Update(req.payload());
  }
  void Got(const EchoReply& reply, Clock::time_point t0) {
    double now = MsSince(t0);
    if (first_reply_ms < 0) first_reply_ms = now;
    if (reply_ms.size() < 1000) reply_ms.push_back(now);
    if (reply.index() != received_messages && reply.index() != 0) indices_ok = false;
    ++received_messages;
    received_bytes += static_cast<int64_t>(reply.payload().size());
    received_sha.Update(reply.payload());
    last = reply;
    have_reply = true;
  }
};

EchoRequest MakeRequest(const Options& o, int index) {
  EchoRequest req;
  req.set_payload(weft::test::Pattern(static_cast<uint32_t>(index) + 1000000u, o.size));
  if (index == 0) {
    req.set_text(o.text);
    req.set_sleep_ms(o.sleep_ms);
    req.set_fail_code(o.fail_code);
    req.set_fail_message(o.fail_message);
  }
  return req;
}

void Prepare(grpc::ClientContext& ctx, const Options& o) {
  if (o.deadline_ms > 0) {
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(o.deadline_ms));
  }
  for (const std::string& kv : o.metadata) {
    auto eq = kv.find('=');
    ctx.AddMetadata(kv.substr(0, eq), eq == std::string::npos ? "" : kv.substr(eq + 1));
  }
}

int Run(const Options& o) {
  std::shared_ptr<grpc::ChannelCredentials> creds;
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(o.max_message_bytes);
  args.SetMaxSendMessageSize(o.max_message_bytes);
  if (!o.authority.empty()) args.SetString(GRPC_ARG_DEFAULT_AUTHORITY, o.authority);
  if (o.tls) {
    grpc::SslCredentialsOptions ssl;
    if (!o.ca.empty()) ssl.pem_root_certs = ReadFile(o.ca);
    if (!o.cert.empty()) {
      ssl.pem_cert_chain = ReadFile(o.cert);
      ssl.pem_private_key = ReadFile(o.key);
    }
    creds = grpc::SslCredentials(ssl);
    std::string name = !o.server_name.empty() ? o.server_name : o.authority;
    if (!name.empty()) args.SetSslTargetNameOverride(name);
  } else {
    creds = grpc::InsecureChannelCredentials();
  }
  auto channel = grpc::CreateCustomChannel(o.target, creds, args);
  auto stub = weft::test::Echo::NewStub(channel);

  grpc::ClientContext ctx;
  Prepare(ctx, o);
  Result r;
  grpc::Status status;
  auto t0 = Clock::now();

  if (o.scenario == "unary") {
    EchoRequest req = MakeRequest(o, 0);
    r.Sent(req);
    r.expected_sha.Update(req.payload());
    EchoReply reply;
    status = stub->Unary(&ctx, req, &reply);
    if (status.ok()) r.Got(reply, t0);
  } else if (o.scenario == "server_stream") {
    EchoRequest req = MakeRequest(o, 0);
    req.clear_payload();
    req.set_response_count(o.count);
    req.set_response_size(static_cast<int32_t>(o.size));
    req.set_interval_ms(o.interval_ms);
    r.Sent(req);
    for (int i = 0; i < o.count; ++i) r.expected_sha.Update(weft::test::Pattern(i, o.size));
    auto reader = stub->ServerStream(&ctx, req);
    EchoReply reply;
    while (reader->Read(&reply)) r.Got(reply, t0);
    status = reader->Finish();
  } else if (o.scenario == "client_stream") {
    EchoReply reply;
    auto writer = stub->ClientStream(&ctx, &reply);
    for (int i = 0; i < o.count; ++i) {
      EchoRequest req = MakeRequest(o, i);
      if (!writer->Write(req)) break;
      r.Sent(req);
    }
    writer->WritesDone();
    status = writer->Finish();
    if (status.ok()) r.Got(reply, t0);
  } else if (o.scenario == "bidi") {
    auto stream = stub->BidiStream(&ctx);
    std::thread writer([&] {
      for (int i = 0; i < o.count; ++i) {
        EchoRequest req = MakeRequest(o, i);
        if (!stream->Write(req)) break;
        r.Sent(req);  // only this thread touches the sent_* fields until join()
      }
      stream->WritesDone();
    });
    EchoReply reply;
    while (stream->Read(&reply)) r.Got(reply, t0);
    writer.join();
    status = stream->Finish();
    // The echoes must add up to what was written.
    for (int i = 0; i < r.sent_messages; ++i) r.expected_sha.Update(MakeRequest(o, i).payload());
  } else if (o.scenario == "bidi_pingpong") {
    auto stream = stub->BidiStream(&ctx);
    EchoReply reply;
    for (int i = 0; i < o.count; ++i) {
      EchoRequest req = MakeRequest(o, i);
      auto sent_at = Clock::now();
      if (!stream->Write(req)) break;
      r.Sent(req);
      r.expected_sha.Update(req.payload());
      if (!stream->Read(&reply)) break;
      r.Got(reply, t0);
      r.max_roundtrip_ms = std::max(r.max_roundtrip_ms, MsSince(sent_at));
    }
    stream->WritesDone();
    while (stream->Read(&reply)) r.Got(reply, t0);
    status = stream->Finish();
  } else {
    std::cerr << "unknown --scenario " << o.scenario << "\n";
    return 2;
  }

  double elapsed = MsSince(t0);
  const int code = static_cast<int>(status.error_code());
  json out;
  out["scenario"] = o.scenario;
  out["code"] = code;
  out["code_name"] = CodeName(code);
  out["message"] = status.error_message();
  out["ok"] = status.ok();
  out["initial_metadata"] = MetadataJson(ctx.GetServerInitialMetadata());
  out["trailers"] = MetadataJson(ctx.GetServerTrailingMetadata());
  out["sent_messages"] = r.sent_messages;
  out["sent_bytes"] = r.sent_bytes;
  out["sent_sha256"] = r.sent_sha.Hex();
  out["received_messages"] = r.received_messages;
  out["received_bytes"] = r.received_bytes;
  out["received_sha256"] = r.received_sha.Hex();
  out["expected_sha256"] = r.expected_sha.Hex();
  out["indices_ok"] = r.indices_ok;
  if (r.have_reply) {
    out["server_received_messages"] = r.last.received_messages();
    out["server_received_bytes"] = r.last.received_bytes();
    out["server_received_sha256"] = r.last.received_sha256();
    out["text"] = r.last.text();
  } else {
    out["server_received_messages"] = nullptr;
    out["server_received_bytes"] = nullptr;
    out["server_received_sha256"] = nullptr;
    out["text"] = nullptr;
  }
  // sha256_match: every payload came back intact and the server saw exactly what was sent.
  bool match = status.ok() && r.have_reply && r.indices_ok;
  if (o.scenario == "client_stream") {
    match = match && r.last.received_sha256() == r.sent_sha.Hex() && r.last.received_bytes() == r.sent_bytes &&
            r.last.received_messages() == r.sent_messages;
  } else {
    match = match && r.received_sha.Hex() == r.expected_sha.Hex();
    if (o.scenario == "unary" || o.scenario == "bidi" || o.scenario == "bidi_pingpong") {
      match = match && r.received_bytes == r.sent_bytes && r.last.received_sha256() == r.sent_sha.Hex();
    }
    if (o.scenario == "server_stream") {
      match = match && r.received_messages == o.count &&
              r.received_bytes == static_cast<int64_t>(o.count) * static_cast<int64_t>(o.size);
    }
  }
  out["sha256_match"] = match;
  out["first_reply_ms"] = r.first_reply_ms;
  out["max_roundtrip_ms"] = r.max_roundtrip_ms;
  out["reply_ms"] = r.reply_ms;
  out["elapsed_ms"] = elapsed;
  out["peer"] = ctx.peer();
  std::cout << out.dump() << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"gRPC echo client (weft.test.Echo): one scenario, one JSON line"};
  Options o;
  app.add_option("--target", o.target, "host:port (any gRPC target URI)")->required();
  app.add_option("--scenario", o.scenario, "unary, server_stream, client_stream, bidi, bidi_pingpong")
      ->check(CLI::IsMember({"unary", "server_stream", "client_stream", "bidi", "bidi_pingpong"}));
  app.add_option("--size", o.size, "payload bytes per message");
  app.add_option("--count", o.count, "messages (server_stream: replies asked for)");
  app.add_option("--deadline_ms", o.deadline_ms, "RPC deadline (0: none)");
  app.add_option("--authority", o.authority, ":authority (and TLS name unless --server_name)");
  app.add_option("--sleep_ms", o.sleep_ms, "server sleeps this long before answering");
  app.add_option("--interval_ms", o.interval_ms, "server_stream: pause between replies");
  app.add_option("--fail_code", o.fail_code, "server ends the RPC with this grpc-status");
  app.add_option("--fail_message", o.fail_message, "with --fail_code: the grpc-message");
  app.add_option("--text", o.text, "text of the first request");
  app.add_option("--metadata", o.metadata, "request metadata k=v (repeatable)");
  app.add_option("--max_message_bytes", o.max_message_bytes, "largest message sent or received");
  app.add_flag("--tls", o.tls, "TLS (grpc SslCredentials)");
  app.add_option("--ca", o.ca, "PEM roots for --tls (default: the system's)");
  app.add_option("--server_name", o.server_name, "TLS name to check (and SNI)");
  app.add_option("--cert", o.cert, "client certificate (PEM) for --tls");
  app.add_option("--key", o.key, "client key (PEM) for --cert");
  CLI11_PARSE(app, argc, argv);
  try {
    return Run(o);
  } catch (const std::exception& e) {
    std::cerr << "grpc_echo_client: " << e.what() << "\n";
    return 1;
  }
}
