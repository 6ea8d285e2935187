// Connection over real loopback TCP sockets, driven by a real Reactor.
#include "common/net/connection.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "common/tls/self_signed.h"
#include "common/tls/tls_context.h"
#include "test_support.h"

namespace weft::net {
namespace {

using namespace std::chrono_literals;
using testing::runSteps;
using testing::Step;
using testing::waitFor;

Address loopback(uint16_t port) { return *Address::parse("127.0.0.1", port); }

Address boundAddress(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  return Address::fromSockaddr(reinterpret_cast<sockaddr*>(&ss), len);
}

// A non-blocking listening socket on 127.0.0.1:<ephemeral>, accepted from by polling.
class TestListener {
 public:
  TestListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    Address a = loopback(0);
    EXPECT_EQ(::bind(fd_, a.sockaddr_ptr(), a.length), 0);
    EXPECT_EQ(::listen(fd_, 16), 0);
    address_ = boundAddress(fd_);
  }
  ~TestListener() { ::close(fd_); }
  const Address& address() const { return address_; }

  std::unique_ptr<Connection> accept(event::Reactor& reactor) {
    sockaddr_storage ss{};
    socklen_t len = sizeof(ss);
    int fd = ::accept4(fd_, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return nullptr;
    return Connection::adopt(reactor, fd, boundAddress(fd),
                             Address::fromSockaddr(reinterpret_cast<sockaddr*>(&ss), len));
  }

 private:
  int fd_ = -1;
  Address address_;
};

struct Recorder : ConnectionCallbacks {
  bool consume = true;  // drain input() into `received` on every onData
  std::string received;
  int data_calls = 0;
  int write_drained = 0;
  std::vector<ConnectionEvent> events;

  void onData(Connection& c) override {
    ++data_calls;
    if (consume) {
      received.append(c.input().view());
      c.input().drain(c.input().size());
    }
  }
  void onEvent(Connection&, ConnectionEvent e) override { events.push_back(e); }
  void onWriteDrained(Connection&) override { ++write_drained; }
  bool has(ConnectionEvent e) const { return std::find(events.begin(), events.end(), e) != events.end(); }
};

std::string pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>('A' + (i * 7 + i / 251) % 61);
  return s;
}

// A connected client/server pair on one reactor: the steps that set it up.
struct Pair {
  TestListener listener;
  std::unique_ptr<Connection> client;
  std::unique_ptr<Connection> server;
  Recorder client_cb;
  Recorder server_cb;

  std::vector<Step> connectSteps(event::Reactor& r) {
    client = Connection::connect(r, listener.address());
    client->setCallbacks(&client_cb);
    return {
        {"accept",
         [this, &r] {
           server = listener.accept(r);
           if (server) server->setCallbacks(&server_cb);
           return server != nullptr;
         },
         nullptr},
        {"client connected", [this] { return client_cb.has(ConnectionEvent::Connected); }, nullptr},
    };
  }
  void destroy() {
    client.reset();
    server.reset();
  }
};

std::vector<Step> concat(std::vector<Step> a, std::vector<Step> b) {
  for (auto& s : b) a.push_back(std::move(s));
  return a;
}

TEST(ConnectionTest, WriteReadRoundTrip) {
  event::Reactor r;
  Pair p;
  auto steps = concat(p.connectSteps(r),
                      {
                          {"client sends", [] { return true; },
                           [&] {
                             EXPECT_TRUE(p.client->connected());
                             EXPECT_EQ(p.client->remoteAddress(), p.listener.address());
                             EXPECT_EQ(p.client->localAddress().ip(), "127.0.0.1");
                             EXPECT_NE(p.client->localAddress().port(), 0);
                             p.client->output().append("hello, server");
                             p.client->flush();
                             EXPECT_TRUE(p.client->output().empty());
                           }},
                          {"server got request", [&] { return p.server_cb.received == "hello, server"; },
                           [&] {
                             p.server->output().append("hello, client");
                             p.server->flush();
                           }},
                          {"client got reply", [&] { return p.client_cb.received == "hello, client"; }, nullptr},
                      });
  ASSERT_TRUE(runSteps(r, std::move(steps)));
  EXPECT_EQ(p.client->bytesWritten(), 13u);
  EXPECT_EQ(p.client->bytesRead(), 13u);
  EXPECT_EQ(p.server->bytesRead(), 13u);
  EXPECT_EQ(p.server->bytesWritten(), 13u);
  EXPECT_EQ(p.server->remoteAddress(), p.client->localAddress());
  EXPECT_FALSE(p.server_cb.has(ConnectionEvent::Closed));
  p.destroy();
}

TEST(ConnectionTest, OutputQueuedBeforeConnectIsSentOnConnect) {
  event::Reactor r;
  Pair p;
  auto steps = p.connectSteps(r);
  // Queued before the loop ever ran: the connect is still in progress.
  EXPECT_FALSE(p.client->connected());
  p.client->output().append("early bytes");
  p.client->flush();  // a no-op until connected
  steps.push_back({"server got early bytes", [&] { return p.server_cb.received == "early bytes"; }, nullptr});
  ASSERT_TRUE(runSteps(r, std::move(steps)));
  p.destroy();
}

TEST(ConnectionTest, LargeTransferArrivesIntact) {
  event::Reactor r;
  Pair p;
  const std::string payload = pattern(3 * 1024 * 1024 + 17);
  auto steps = concat(p.connectSteps(r),
                      {
                          {"send", [] { return true; },
                           [&] {
                             p.client->output().append(payload);
                             p.client->flush();
                           }},
                          {"all received", [&] { return p.server_cb.received.size() >= payload.size(); }, nullptr},
                      });
  ASSERT_TRUE(runSteps(r, std::move(steps)));
  EXPECT_TRUE(p.server_cb.received == payload);
  EXPECT_EQ(p.client->bytesWritten(), payload.size());
  p.destroy();
}

TEST(ConnectionTest, ReadLimitStopsReadingAndResumeReadingContinues) {
  event::Reactor r;
  Pair p;
  p.server_cb.consume = false;  // leave bytes in input(), like a consumer under backpressure
  size_t data_calls_at_limit = 0;
  auto steps =
      concat(p.connectSteps(r), {
                                    {"first chunk", [] { return true; },
                                     [&] {
                                       p.server->setReadLimit(4);
                                       p.client->output().append("0123456789");
                                       p.client->flush();
                                     }},
                                    {"server holds first chunk", [&] { return p.server->input().size() == 10; },
                                     [&] {
                                       data_calls_at_limit = p.server_cb.data_calls;
                                       p.client->output().append("abcdefghij");
                                       p.client->flush();
                                     }},
                                    waitFor(50ms),
                                    {"nothing more was read", [] { return true; },
                                     [&] {
                                       EXPECT_EQ(p.server->input().view(), "0123456789");
                                       EXPECT_EQ(p.server_cb.data_calls, data_calls_at_limit);
                                       EXPECT_EQ(p.server->bytesRead(), 10u);
                                       // The consumer catches up and asks for more: the pending bytes are read now.
                                       p.server->input().drain(10);
                                       p.server->resumeReading();
                                       EXPECT_EQ(p.server->input().view(), "abcdefghij");
                                       EXPECT_EQ(p.server_cb.data_calls, data_calls_at_limit + 1);
                                     }},
                                });
  ASSERT_TRUE(runSteps(r, std::move(steps)));
  p.destroy();
}

TEST(ConnectionTest, ReadDisableHoldsDataUntilReEnabled) {
  event::Reactor r;
  Pair p;
  auto steps = concat(p.connectSteps(r), {
                                             {"disable and send", [] { return true; },
                                              [&] {
                                                p.server->readDisable(true);
                                                EXPECT_TRUE(p.server->readDisabled());
                                                p.client->output().append("held");
                                                p.client->flush();
                                              }},
                                             waitFor(30ms),
                                             {"not read while disabled", [] { return true; },
                                              [&] {
                                                EXPECT_EQ(p.server_cb.received, "");
                                                p.server->readDisable(false);
                                                EXPECT_EQ(p.server_cb.received, "held");
                                              }},
                                         });
  ASSERT_TRUE(runSteps(r, std::move(steps)));
  p.destroy();
}

TEST(ConnectionTest, HalfCloseRaisesRemoteHalfClosedAndPeerCanStillWrite) {
  event::Reactor r;
  Pair p;
  std::string received_at_half_close;
  auto steps =
      concat(p.connectSteps(r),
             {
                 {"client sends and shuts down", [] { return true; },
                  [&] {
                    p.client->output().append("last words");
                    p.client->flush();
                    p.client->shutdownWrite();
                  }},
                 {"server sees FIN", [&] { return p.server_cb.has(ConnectionEvent::RemoteHalfClosed); },
                  [&] {
                    EXPECT_EQ(p.server_cb.received, "last words");  // data is delivered before the FIN
                    EXPECT_TRUE(p.server->remoteHalfClosed());
                    EXPECT_FALSE(p.server->closed());
                    p.server->output().append("reply after FIN");
                    p.server->flush();
                  }},
                 {"client gets reply", [&] { return p.client_cb.received == "reply after FIN"; },
                  [&] { p.server->shutdownWrite(); }},
                 {"client sees FIN", [&] { return p.client_cb.has(ConnectionEvent::RemoteHalfClosed); }, nullptr},
             });
  ASSERT_TRUE(runSteps(r, std::move(steps)));
  EXPECT_FALSE(p.server_cb.has(ConnectionEvent::Closed));
  EXPECT_FALSE(p.client_cb.has(ConnectionEvent::Closed));
  p.destroy();
}

TEST(ConnectionTest, CloseFlushWriteDeliversPendingBytes) {
  event::Reactor r;
  Pair p;
  const std::string payload = pattern(16 * 1024 * 1024);
  auto steps = concat(p.connectSteps(r),
                      {
                          {"server writes a lot and closes", [] { return true; },
                           [&] {
                             p.server->output().append(payload);
                             p.server->close(Connection::CloseMode::FlushWrite);
                             // More than a socket buffer: the close waits for the flush.
                             EXPECT_FALSE(p.server->closed());
                             EXPECT_TRUE(p.server->closing());
                             EXPECT_TRUE(p.server_cb.events.empty());  // the owner asked: no event during close()
                           }},
                          {"client got everything and EOF",
                           [&] { return p.client_cb.has(ConnectionEvent::RemoteHalfClosed); }, nullptr},
                      });
  ASSERT_TRUE(runSteps(r, std::move(steps)));
  EXPECT_EQ(p.client_cb.received.size(), payload.size());
  EXPECT_TRUE(p.client_cb.received == payload);
  EXPECT_TRUE(p.server->closed());
  EXPECT_TRUE(p.server_cb.has(ConnectionEvent::Closed));
  p.destroy();
}

TEST(ConnectionTest, CloseFlushWriteWithEmptyOutputClosesAtOnce) {
  event::Reactor r;
  Pair p;
  auto steps =
      concat(p.connectSteps(r),
             {
                 {"close", [] { return true; },
                  [&] {
                    p.server->close(Connection::CloseMode::FlushWrite);
                    EXPECT_TRUE(p.server->closed());
                  }},
                 {"client sees EOF", [&] { return p.client_cb.has(ConnectionEvent::RemoteHalfClosed); }, nullptr},
             });
  ASSERT_TRUE(runSteps(r, std::move(steps)));
  p.destroy();
}

TEST(ConnectionTest, WriteDrainedAfterGoingAboveWriteLimit) {
  event::Reactor r;
  Pair p;
  const std::string payload = pattern(16 * 1024 * 1024);
  auto steps = concat(p.connectSteps(r),
                      {
                          {"flood", [] { return true; },
                           [&] {
                             p.server->setWriteLimit(64 * 1024);
                             p.server->output().append(payload);
                             p.server->flush();
                             EXPECT_TRUE(p.server->aboveWriteLimit());
                             EXPECT_EQ(p.server_cb.write_drained, 0);
                           }},
                          {"drained", [&] { return p.server_cb.write_drained > 0; }, nullptr},
                          {"all received", [&] { return p.client_cb.received.size() == payload.size(); }, nullptr},
                      });
  ASSERT_TRUE(runSteps(r, std::move(steps)));
  EXPECT_EQ(p.server_cb.write_drained, 1);
  EXPECT_TRUE(p.server->output().empty());
  p.destroy();
}

TEST(ConnectionTest, ConnectToClosedPortFails) {
  // A port that was just bound and released: nothing listens there.
  int probe = ::socket(AF_INET, SOCK_STREAM, 0);
  Address a = loopback(0);
  ASSERT_EQ(::bind(probe, a.sockaddr_ptr(), a.length), 0);
  Address target = boundAddress(probe);
  ::close(probe);

  event::Reactor r;
  Recorder cb;
  auto conn = Connection::connect(r, target);
  conn->setCallbacks(&cb);
  ASSERT_TRUE(runSteps(r, {{"connect failed", [&] { return cb.has(ConnectionEvent::ConnectFailed); }, nullptr}}));
  EXPECT_FALSE(cb.has(ConnectionEvent::Connected));
  EXPECT_TRUE(conn->closed());
  EXPECT_FALSE(conn->connected());
  EXPECT_EQ(conn->connectError(), ECONNREFUSED);
  EXPECT_EQ(cb.events.size(), 1u);
}

TEST(ConnectionTest, AbortCloseIsImmediate) {
  event::Reactor r;
  Pair p;
  auto steps = concat(p.connectSteps(r), {
                                             {"abort", [] { return true; },
                                              [&] {
                                                p.client->output().append("never sent");
                                                p.client->close();
                                                EXPECT_TRUE(p.client->closed());
                                                EXPECT_EQ(p.client->fd(), -1);
                                              }},
                                             {"server sees the end",
                                              [&] {
                                                return p.server_cb.has(ConnectionEvent::RemoteHalfClosed) ||
                                                       p.server_cb.has(ConnectionEvent::Closed);
                                              },
                                              nullptr},
                                         });
  ASSERT_TRUE(runSteps(r, std::move(steps)));
  EXPECT_EQ(p.server_cb.received, "");
  p.destroy();
}

bool pollUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

// The peer's Finished and its first application bytes can arrive together, and the handshake
// reads them both (read-ahead) during an event that had no EPOLLIN (here: only EPOLLOUT). The
// socket is then drained and no new edge comes: the bytes must be read all the same.
TEST(ConnectionTest, TlsBytesReadWithTheHandshakeAreDelivered) {
  event::Reactor r;
  TestListener listener;
  int cfd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  ASSERT_TRUE(::connect(cfd, listener.address().sockaddr_ptr(), listener.address().length) == 0 ||
              errno == EINPROGRESS);
  std::unique_ptr<Connection> server;
  ASSERT_TRUE(pollUntil([&] { return (server = listener.accept(r)) != nullptr; }, 2s));
  Recorder cb;
  server->setCallbacks(&cb);
  tls::Pem pem = tls::selfSigned("DNS:server.local");
  tls::ContextOptions o;
  o.certificates.push_back({{pem.cert, "cert", "inline data"}, {pem.key, "key", "inline data"}});
  server->startTls(tls::Context::create(o));

  SSL_CTX* cctx = SSL_CTX_new(TLS_client_method());
  SSL* client = SSL_new(cctx);
  SSL_set_fd(client, cfd);
  SSL_set_connect_state(client);
  auto clientStep = [&] {
    int rc = SSL_do_handshake(client);
    return rc == 1 || SSL_get_error(client, rc) == SSL_ERROR_WANT_READ;
  };
  ASSERT_TRUE(clientStep());  // ClientHello
  std::this_thread::sleep_for(20ms);
  server->onIoEvent(EPOLLIN | EPOLLOUT);  // ServerHello .. Finished; waits for the client's
  ASSERT_TRUE(pollUntil(
      [&] {
        clientStep();
        return SSL_is_init_finished(client) == 1;
      },
      2s));
  ASSERT_GT(SSL_write(client, "early bytes", 11), 0);  // right behind the client's Finished
  std::this_thread::sleep_for(20ms);
  server->onIoEvent(EPOLLOUT);  // the handshake ends in an event without EPOLLIN
  EXPECT_FALSE(server->closed()) << server->tlsError();
  EXPECT_EQ(cb.received, "early bytes");
  SSL_free(client);
  SSL_CTX_free(cctx);
  ::close(cfd);
}

}  // namespace
}  // namespace weft::net
