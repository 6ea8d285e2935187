#pragma once
// The agent's status port (15020, Istio's): /healthz/ready (ready once the proxy has applied
// its listeners and clusters), /stats/prometheus (the proxy's, the agent's own and the
// application's metrics in one scrape) and /app-health/<container>/readyz|livez (the
// application probes the injector rewrote to go through the agent).
#include <functional>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "agent/proxy_supervisor.h"
#include "common/http/admin_server.h"

namespace weft::agent {

struct StatusOptions {
  int admin_port = 15000;
  nlohmann::json app_probers = nlohmann::json::object();  // ISTIO_KUBE_APP_PROBERS
  // The application's metrics (prometheus.io/scrape annotations): port 0 means none.
  int app_metrics_port = 0;
  std::string app_metrics_path = "/metrics";
  // The workload certificate's identity and validity as JSON (served at /certificate), when
  // the agent has a CA; also extra metrics for the agent's part of /stats/prometheus.
  std::function<nlohmann::json()> certificate;
  std::function<std::string()> agent_metrics;
};

class StatusServer {
 public:
  StatusServer(event::Reactor& reactor, const net::Address& address, StatusOptions options,
               const ProxySupervisor& supervisor);
  const net::Address& address() const { return server_.address(); }

 private:
  weft::http::AdminResponse ready();
  weft::http::AdminResponse metrics();
  weft::http::AdminResponse appHealth(const std::string& path);

  StatusOptions options_;
  const ProxySupervisor& supervisor_;
  weft::http::AdminServer server_;
};

}  // namespace weft::agent
