#pragma once
// One long-lived bidirectional gRPC stream over HTTP/2 (nghttp2) on a Reactor: gRPC framing
// on our own event loop, as Envoy's "Envoy gRPC" client does, without grpc++'s threads and
// memory. Reconnects with jittered exponential backoff, sends keep-alive PINGs and gives up a
// connection whose PING goes unanswered, and reports grpc-status from the trailers.
#include <nghttp2/nghttp2.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/buffer.h"
#include "common/event/reactor.h"
#include "common/net/connection.h"
#include "common/random.h"

namespace weft::tls {
class Context;
}

namespace weft::grpc {

class StreamClient : public net::ConnectionCallbacks {
 public:
  class Callbacks {
   public:
    virtual ~Callbacks() = default;
    // A new stream is open (first time or after a reconnect): send the initial requests.
    virtual void onStreamReady() = 0;
    // One complete gRPC message.
    virtual void onMessage(std::string_view bytes) = 0;
    // The stream ended (grpc-status, or a transport failure as UNAVAILABLE=14); a reconnect
    // is already scheduled.
    virtual void onStreamClosed(int grpc_status, const std::string& message) = 0;
  };

  // `path` is "/package.Service/Method"; `authority` goes into :authority.
  StreamClient(event::Reactor& reactor, net::Address server, std::string authority, std::string path,
               Callbacks& callbacks);
  ~StreamClient() override;

  // A deadline for every stream this client opens (0: none, as for ADS): sent as
  // grpc-timeout and enforced here, ending the stream with DEADLINE_EXCEEDED (4).
  void setDeadline(std::chrono::milliseconds deadline) { deadline_ = deadline; }
  // TLS to the server: `ctx` is a client context (its trusted CA, and a client certificate
  // when it has one); the server's certificate must match `server_name`, also sent as SNI.
  void setTls(std::shared_ptr<const tls::Context> ctx, std::string server_name) {
    tls_ = std::move(ctx);
    tls_server_name_ = std::move(server_name);
  }
  // A unary call: the stream half-closes after the first message sent, and a closed stream
  // is not reopened (the caller decides when to call again with start()).
  void setUnary(bool unary) { unary_ = unary; }
  // Extra request metadata (e.g. "authorization"), sent on every stream opened after this.
  void setMetadata(std::vector<std::pair<std::string, std::string>> metadata) { metadata_ = std::move(metadata); }
  void start();
  // Queues one message; false when no stream is open (the caller resends on onStreamReady).
  template <class Message>
  bool send(const Message& message) {
    return sendBytes(message.SerializeAsString());
  }
  // One message already serialized (a process without protobuf encodes its own).
  bool sendBytes(std::string_view body);
  bool streamOpen() const { return stream_id_ > 0; }
  const net::Address& server() const { return server_; }

  void onData(net::Connection& conn) override;
  void onEvent(net::Connection& conn, net::ConnectionEvent event) override;

 private:
  static ssize_t readBody(nghttp2_session*, int32_t, uint8_t* buf, size_t length, uint32_t* flags, nghttp2_data_source*,
                          void* user);
  static int onDataChunk(nghttp2_session*, uint8_t, int32_t stream, const uint8_t* data, size_t len, void* user);
  static int onHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
                      const uint8_t* value, size_t valuelen, uint8_t, void* user);
  static int onStreamClose(nghttp2_session*, int32_t stream, uint32_t error_code, void* user);
  static int onFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* user);

  void connect();
  void openStream();
  void flushSession();
  void fail(int status, const std::string& message);
  void scheduleReconnect();
  void deliverMessages();

  event::Reactor& reactor_;
  net::Address server_;
  std::string authority_;
  std::string path_;
  Callbacks& callbacks_;
  std::unique_ptr<net::Connection> conn_;
  nghttp2_session* session_ = nullptr;
  int32_t stream_id_ = -1;
  Buffer outgoing_;  // framed messages nghttp2 has not taken yet
  Buffer incoming_;  // gRPC message bytes not yet delivered
  int grpc_status_ = -1;
  std::string grpc_message_;
  bool ping_outstanding_ = false;
  std::chrono::milliseconds backoff_{500};
  Random random_;
  event::Timer reconnect_timer_;
  event::Timer ping_timer_;
  event::Timer deadline_timer_;
  std::chrono::milliseconds deadline_{0};
  std::shared_ptr<const tls::Context> tls_;
  std::string tls_server_name_;
  bool unary_ = false;
  std::vector<std::pair<std::string, std::string>> metadata_;
  bool sent_message_ = false;
};

}  // namespace weft::grpc
