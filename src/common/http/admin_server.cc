#include "common/http/admin_server.h"

#include <sys/socket.h>
#include <unistd.h>

#include <boost/beast/http/error.hpp>
#include <cerrno>
#include <cstring>
#include <optional>

#include "common/config/error.h"
#include "common/http/http1_parser.h"
#include "common/http/reason_phrase.h"
#include "common/net/connection.h"

namespace weft::http {

namespace {
std::string_view paramValue(std::string_view query, std::string_view name, bool* found) {
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    auto eq = pair.find('=');
    if (pair.substr(0, eq) == name) {
      *found = true;
      return eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    }
  }
  *found = false;
  return {};
}

std::string percentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += s[i] == '+' ? ' ' : s[i];
    }
  }
  return out;
}
}  // namespace

std::string AdminRequest::queryParam(const std::string& name) const {
  bool found;
  return percentDecode(paramValue(query, name, &found));
}

bool AdminRequest::hasParam(const std::string& name) const {
  bool found;
  paramValue(query, name, &found);
  return found;
}

std::vector<std::pair<std::string, std::string>> AdminRequest::params() const {
  std::vector<std::pair<std::string, std::string>> out;
  size_t pos = 0;
  while (pos <= query.size() && !query.empty()) {
    size_t amp = query.find('&', pos);
    std::string part = query.substr(pos, amp == std::string::npos ? std::string::npos : amp - pos);
    if (!part.empty()) {
      size_t eq = part.find('=');
      out.emplace_back(percentDecode(part.substr(0, eq)),
                       eq == std::string::npos ? std::string() : percentDecode(part.substr(eq + 1)));
    }
    if (amp == std::string::npos) break;
    pos = amp + 1;
  }
  return out;
}

// One admin connection: HTTP/1.1 with keep-alive, small bodies only.
class AdminServer::Session final : public net::ConnectionCallbacks, public http::BodySink, public event::Deferrable {
 public:
  Session(AdminServer& server, std::unique_ptr<net::Connection> conn) : server_(server), conn_(std::move(conn)) {
    conn_->setCallbacks(this);
    if (server_.options_.tls) conn_->startTls(server_.options_.tls);
  }
  void onBodyData(std::string_view data) override {
    if (server_.options_.max_body == 0 || too_large_) return;
    if (req_.body.size() + data.size() > server_.options_.max_body) {
      too_large_ = true;  // answered once the request is read
      req_.body.clear();
      return;
    }
    req_.body.append(data);
  }
  void onData(net::Connection&) override {
    Buffer& in = conn_->input();
    while (!in.empty() && !closed_) {
      if (!have_request_) {
        http::HeadScan scan = http::scanHead(in.view(), scanned_);
        if (scan == http::HeadScan::Malformed) {
          respond({400, "text/plain", "bad request: malformed request head\n"}, false);
          return;
        }
        if (scan == http::HeadScan::Incomplete) {
          if (in.size() > 64 * 1024) respond({431, "text/plain", "request head too large\n"}, false);
          break;
        }
      }
      if (!parser_) {
        head_.clear();
        parser_.emplace(head_, *this, 64 * 1024, 100);
      }
      http::ParseError ec;
      size_t n = parser_->feed(in.data(), in.size(), ec);
      if (ec == http::beast_http::error::need_more) {
        if (have_request_) in.drain(n);
        break;
      }
      if (ec) {
        respond({400, "text/plain", "bad request: " + ec.message() + "\n"}, false);
        return;
      }
      if (parser_->is_header_done() && !have_request_) {
        have_request_ = true;
        req_.method = std::string(head_.method);
        req_.path = std::string(head_.path);
        req_.query = std::string(head_.query);
        req_.body.clear();
        too_large_ = false;
        keep_alive_ = head_.keep_alive;
        parser_->eager(true);
      }
      in.drain(n);
      if (parser_->is_done()) {
        parser_.reset();
        have_request_ = false;
        if (too_large_) {
          respond({413, "text/plain; charset=UTF-8",
                   "request body larger than " + std::to_string(server_.options_.max_body) + " bytes\n"},
                  false);
          return;
        }
        respond(server_.handle(req_), keep_alive_);
      } else if (n == 0) {
        break;
      }
    }
  }
  void onEvent(net::Connection&, net::ConnectionEvent e) override {
    if (e == net::ConnectionEvent::RemoteHalfClosed || e == net::ConnectionEvent::Closed) close();
  }
  void respond(const AdminResponse& r, bool keep_alive) {
    Buffer& out = conn_->output();
    out.append("HTTP/1.1 ");
    out.appendDecimal(static_cast<unsigned>(r.status));
    out.append(' ');
    out.append(http::reasonPhrase(r.status));
    out.append("\r\ncontent-type: ");
    out.append(r.content_type);
    out.append("\r\ncache-control: no-cache, max-age=0\r\nx-content-type-options: nosniff\r\ncontent-length: ");
    out.appendDecimal(r.body.size());
    out.append(keep_alive ? "\r\n\r\n" : "\r\nconnection: close\r\n\r\n");
    out.append(r.body);
    conn_->flush();
    if (!keep_alive) close();
  }
  void close() {
    if (closed_) return;
    closed_ = true;
    conn_->setCallbacks(nullptr);
    conn_->close(net::Connection::CloseMode::FlushWrite);
    if (!conn_->closed()) {
      // Finish writing in the background; the connection deletes itself when done.
      auto* raw = conn_.release();
      raw->setCallbacks(new Closer(server_.reactor_, raw));
    }
    server_.reactor_.deferDelete(std::unique_ptr<event::Deferrable>(this));
  }

 private:
  struct Closer : net::ConnectionCallbacks {
    Closer(event::Reactor& r, net::Connection* c) : reactor(r), conn(c) {}
    void onData(net::Connection& c) override { c.input().clear(); }
    void onEvent(net::Connection& c, net::ConnectionEvent) override {
      if (!c.closed()) return;
      c.setCallbacks(nullptr);
      reactor.deferDelete(std::unique_ptr<net::Connection>(conn));
      delete this;
    }
    event::Reactor& reactor;
    net::Connection* conn;
  };

  AdminServer& server_;
  std::unique_ptr<net::Connection> conn_;
  std::optional<http::RequestParser> parser_;
  http::RequestHead head_;
  AdminRequest req_;
  bool have_request_ = false;
  size_t scanned_ = 0;
  bool keep_alive_ = true;
  bool closed_ = false;
  bool too_large_ = false;
};

class AdminServer::Listener final : public event::IoHandler {
 public:
  Listener(AdminServer& server, int fd) : server_(server), fd_(fd) { server_.reactor_.add(fd_, this); }
  ~Listener() override {
    server_.reactor_.remove(fd_);
    ::close(fd_);
  }
  void onIoEvent(uint32_t) override {
    for (;;) {
      sockaddr_storage ss;
      socklen_t len = sizeof(ss);
      int fd = accept4(fd_, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR) continue;
        return;
      }
      auto remote = net::Address::fromSockaddr(reinterpret_cast<sockaddr*>(&ss), len);
      new Session(server_, net::Connection::adopt(server_.reactor_, fd, server_.address_, remote));
    }
  }

 private:
  AdminServer& server_;
  int fd_;
};

AdminServer::AdminServer(event::Reactor& reactor, const net::Address& address, AdminServerOptions options)
    : reactor_(reactor), address_(address), options_(std::move(options)) {
  int fd = socket(address.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (fd < 0 || bind(fd, address.sockaddr_ptr(), address.length) != 0 || listen(fd, 128) != 0) {
    std::string err = strerror(errno);
    if (fd >= 0) ::close(fd);
    throw ConfigError("admin.address: cannot listen on " + address.toString() + ": " + err);
  }
  sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  address_ = net::Address::fromSockaddr(reinterpret_cast<sockaddr*>(&ss), len);
  listener_ = std::make_unique<Listener>(*this, fd);
  add("/", "this list of admin endpoints", false, [this](const AdminRequest&) {
    AdminResponse r;
    for (const auto& [path, e] : handlers_) r.body += "  " + path + (e.mutates ? " (POST)" : "") + ": " + e.help + "\n";
    r.body = "admin commands are:\n" + r.body;
    return r;
  });
}

AdminServer::~AdminServer() = default;

void AdminServer::add(const std::string& path, const std::string& help, bool mutates, Handler handler) {
  handlers_[path] = {help, mutates, std::move(handler)};
}

AdminResponse AdminServer::handle(const AdminRequest& req) const {
  auto it = handlers_.find(req.path);
  if (it == handlers_.end()) {
    return {404, "text/plain; charset=UTF-8", "invalid path: " + req.path + " (GET / lists the admin endpoints)\n"};
  }
  if (it->second.mutates && req.method != "POST") {
    return {405, "text/plain; charset=UTF-8", "This endpoint requires POST: " + req.path + "\n"};
  }
  // A handler's bug answers this request with 500 and leaves the process serving: the admin and
  // webhook ports read what any client sends.
  try {
    return it->second.handler(req);
  } catch (const std::exception& e) {
    return {500, "text/plain; charset=UTF-8", "internal error while handling " + req.path + ": " + e.what() + "\n"};
  }
}

}  // namespace weft::http
