#pragma once
// Envoy's admin interface on the main thread: /ready, /server_info, /stats,
// /stats/prometheus, /clusters, /config_dump, /listeners, /memory and the POST-only
// /healthcheck/fail|ok, /drain_listeners, /quitquitquit. The same small server, with request
// bodies and TLS (AdminServerOptions), serves weftd's admission webhooks.
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/event/reactor.h"
#include "common/net/address.h"
#include "common/tls/tls_context.h"

namespace weft::http {

struct AdminRequest {
  std::string method;
  std::string path;   // without the query
  std::string query;  // without '?'
  std::string queryParam(const std::string& name) const;
  bool hasParam(const std::string& name) const;
  // Every name=value of the query, decoded, in order.
  std::vector<std::pair<std::string, std::string>> params() const;
  std::string body;  // kept only when the server takes bodies (AdminServerOptions::max_body)
};

struct AdminServerOptions {
  size_t max_body = 0;                      // 0: bodies are read and dropped; else larger ones get 413
  std::shared_ptr<const tls::Context> tls;  // HTTPS when set
};

struct AdminResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=UTF-8";
  std::string body;
};

class AdminServer {
 public:
  using Handler = std::function<AdminResponse(const AdminRequest&)>;
  AdminServer(event::Reactor& reactor, const net::Address& address, AdminServerOptions options = {});
  ~AdminServer();
  // `mutates` handlers answer 405 to anything but POST.
  void add(const std::string& path, const std::string& help, bool mutates, Handler handler);
  const net::Address& address() const { return address_; }
  AdminResponse handle(const AdminRequest& req) const;

 private:
  class Listener;
  class Session;
  struct Entry {
    std::string help;
    bool mutates;
    Handler handler;
  };
  event::Reactor& reactor_;
  net::Address address_;
  AdminServerOptions options_;
  std::map<std::string, Entry> handlers_;
  std::unique_ptr<Listener> listener_;
};

}  // namespace weft::http
