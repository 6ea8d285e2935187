#include "agent/status_server.h"

#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/grpc_health_probe.h"
#include "common/http/http_client.h"

namespace weft::agent {

using std::chrono::milliseconds;
using weft::http::AdminRequest;
using weft::http::AdminResponse;
using weft::http::httpRequest;
using weft::http::HttpResult;

StatusServer::StatusServer(event::Reactor& reactor, const net::Address& address, StatusOptions options,
                           const ProxySupervisor& supervisor)
    : options_(std::move(options)), supervisor_(supervisor), server_(reactor, address) {
  server_.add("/healthz/ready", "ready when the proxy has applied its listeners and clusters", false,
              [this](const AdminRequest&) { return ready(); });
  server_.add("/stats/prometheus", "the proxy's, the agent's and the application's metrics", false,
              [this](const AdminRequest&) { return metrics(); });
  if (options_.certificate) {
    server_.add("/certificate", "the workload certificate: identity, validity, renewal", false,
                [this](const AdminRequest&) {
                  return AdminResponse{200, "application/json", options_.certificate().dump(2) + "\n"};
                });
  }
  for (const auto& [path, probe] : options_.app_probers.items()) {
    std::string p = path;
    server_.add(p, "application probe", false, [this, p](const AdminRequest&) { return appHealth(p); });
  }
}

AdminResponse StatusServer::ready() {
  if (!supervisor_.running()) return {503, "text/plain; charset=UTF-8", "weft-proxy is not running\n"};
  HttpResult r = httpRequest("GET", "127.0.0.1", options_.admin_port, "/ready", milliseconds(1000));
  if (r.status == 200) return {200, "text/plain; charset=UTF-8", ""};
  std::string why = r.status ? "weft-proxy is " + r.body : "weft-proxy admin: " + r.error + "\n";
  if (r.status == 503)
    why = "weft-proxy has not received its listeners and clusters yet (" + r.body.substr(0, r.body.find('\n')) + ")\n";
  return {503, "text/plain; charset=UTF-8", why};
}

AdminResponse StatusServer::metrics() {
  std::string out;
  HttpResult p = httpRequest("GET", "127.0.0.1", options_.admin_port, "/stats/prometheus", milliseconds(2000));
  if (p.status == 200) out += p.body;
  out += "# TYPE weft_agent_proxy_restarts_total counter\nweft_agent_proxy_restarts_total " +
         std::to_string(supervisor_.restarts()) + "\n";
  out += "# TYPE weft_agent_proxy_up gauge\nweft_agent_proxy_up " + std::string(p.status == 200 ? "1" : "0") + "\n";
  if (options_.agent_metrics) out += options_.agent_metrics();
  if (options_.app_metrics_port > 0) {
    HttpResult a =
        httpRequest("GET", "127.0.0.1", options_.app_metrics_port, options_.app_metrics_path, milliseconds(2000));
    out += "# TYPE weft_agent_app_scrape_up gauge\nweft_agent_app_scrape_up " +
           std::string(a.status == 200 ? "1" : "0") + "\n";
    if (a.status == 200) out += a.body;
  }
  return {200, "text/plain; version=0.0.4; charset=utf-8", out};
}

// Istio's rewritten probes: {"httpGet": {"path", "port", "scheme", "httpHeaders"}, "timeoutSeconds"},
// {"tcpSocket": {"port"}} or {"grpc": {"port", "service"}}, checked against the application on
// this host.
AdminResponse StatusServer::appHealth(const std::string& path) {
  const auto& probe = options_.app_probers[path];
  int timeout_s = probe.value("timeoutSeconds", 1);
  milliseconds timeout(std::max(1, timeout_s) * 1000);
  auto portOf = [](const nlohmann::json& p) {
    const auto& port = p["port"];
    return port.is_number() ? port.get<int>() : std::atoi(port.get<std::string>().c_str());
  };
  if (probe.contains("httpGet")) {
    const auto& g = probe["httpGet"];
    if (g.value("scheme", "HTTP") != "HTTP") {
      return {500, "text/plain; charset=UTF-8", "probe " + path + ": only HTTP probes are supported by weft-agent\n"};
    }
    HttpResult r = httpRequest("GET", "127.0.0.1", portOf(g), g.value("path", "/"), timeout);
    if (r.status == 0) return {503, "text/plain; charset=UTF-8", "probe " + path + ": " + r.error + "\n"};
    return {r.status, "text/plain; charset=UTF-8", r.body};
  }
  if (probe.contains("tcpSocket")) {
    int port = portOf(probe["tcpSocket"]);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(port));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = fd >= 0 && connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0;
    if (fd >= 0) close(fd);
    return {ok ? 200 : 503, "text/plain; charset=UTF-8",
            ok ? "" : "probe " + path + ": port " + std::to_string(port) + " refused\n"};
  }
  if (probe.contains("grpc")) {
    const auto& g = probe["grpc"];
    std::string service = g.contains("service") && g["service"].is_string() ? g["service"].get<std::string>() : "";
    std::string why = grpcHealthCheck(portOf(g), service, timeout);
    return {why.empty() ? 200 : 503, "text/plain; charset=UTF-8",
            why.empty() ? "" : "probe " + path + ": " + why + "\n"};
  }
  return {500, "text/plain; charset=UTF-8", "probe " + path + ": neither httpGet, tcpSocket nor grpc\n"};
}

}  // namespace weft::agent
