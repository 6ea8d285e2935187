// weft-agent: the sidecar's pilot-agent.
//   weft-agent proxy   writes the bootstrap from the environment, runs weft-proxy under
//                      supervision, serves the status port; SIGTERM drains and exits.
//   weft-agent wait    returns once the sidecar is ready (start the app after it).
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

#include "agent/agent_env.h"
#include "agent/proxy_supervisor.h"
#include "agent/sds_server.h"
#include "agent/status_server.h"
#include "agent/workload_secrets.h"
#include "common/http/http_client.h"
#include "common/json_shape.h"

extern char** environ;

namespace {

void log(const std::string& msg) {
  char ts[32];
  time_t now = time(nullptr);
  strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
  std::fprintf(stderr, "%s weft-agent: %s\n", ts, msg.c_str());
}

std::map<std::string, std::string> environment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string kv(*e);
    auto eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return env;
}

// Forwards SIGTERM/SIGINT (via signalfd) to a callback on the loop.
class SignalWatch : public weft::event::IoHandler {
 public:
  SignalWatch(weft::event::Reactor& r, std::function<void(int)> cb) : reactor_(r), cb_(std::move(cb)) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    fd_ = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    reactor_.add(fd_, this);
  }
  ~SignalWatch() override {
    reactor_.remove(fd_);
    close(fd_);
  }
  void onIoEvent(uint32_t) override {
    signalfd_siginfo si;
    while (read(fd_, &si, sizeof(si)) == sizeof(si)) cb_(static_cast<int>(si.ssi_signo));
  }

 private:
  weft::event::Reactor& reactor_;
  std::function<void(int)> cb_;
  int fd_;
};

// Where the workload certificate comes from and where it is served (Istio's names in comments).
struct SecurityOptions {
  std::string ca_address;  // CA_ADDR; empty: no certificates
  std::string ca_server_name = "istiod.istio-system.svc";
  std::string root_cert = "./var/run/secrets/istio/root-cert.pem";
  std::string token_file = "./var/run/secrets/tokens/istio-token";
  std::string sds_socket = "./var/run/secrets/workload-spiffe-uds/socket";
  std::string trust_domain = "cluster.local";  // TRUST_DOMAIN
  int64_t cert_ttl_s = 0;                      // SECRET_TTL; 0: the CA's default
  double grace_ratio = 0.5;                    // SECRET_GRACE_PERIOD_RATIO
  std::string key_type = "ecdsa";              // ecdsa (P-256) or rsa (2048)
};

std::string isoTime(std::chrono::system_clock::time_point t) {
  char buf[32];
  time_t s = std::chrono::system_clock::to_time_t(t);
  strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", gmtime(&s));
  return buf;
}

int runProxy(const std::string& proxy_bin, const std::string& config_path, int concurrency, int proxy_uid,
             int proxy_gid, int drain_s, int status_port, const SecurityOptions& sec) {
  std::string error;
  auto env = weft::agent::readAgentEnv(environment(), error);
  if (!env) {
    log("cannot start: " + error);
    return 2;
  }
  weft::agent::BootstrapOptions bo;
  bo.status_port = status_port;
  std::optional<weft::agent::CaClientOptions> ca;
  if (!sec.ca_address.empty()) {
    ca.emplace();
    std::string why;
    auto addr = weft::agent::resolveHostPort(sec.ca_address, why);
    if (!addr) {
      log("cannot start: --ca-address (CA_ADDR): " + why);
      return 2;
    }
    ca->address = *addr;
    ca->server_name = sec.ca_server_name;
    std::ifstream root(sec.root_cert);
    std::stringstream text;
    text << root.rdbuf();
    ca->root_cert_pem = text.str();
    if (!root || ca->root_cert_pem.find("BEGIN CERTIFICATE") == std::string::npos) {
      log("cannot start: --ca-root-cert '" + sec.root_cert + "' is not a PEM certificate file");
      return 2;
    }
    if (sec.key_type != "ecdsa" && sec.key_type != "rsa") {
      log("cannot start: --key-type '" + sec.key_type + "' is not ecdsa or rsa");
      return 2;
    }
    ca->token_file = sec.token_file;
    ca->spiffe_id = "spiffe://" + sec.trust_domain + "/ns/" + env->pod_namespace + "/sa/" + env->service_account;
    ca->key_type = sec.key_type == "rsa" ? weft::agent::KeyType::Rsa2048 : weft::agent::KeyType::EcdsaP256;
    ca->ttl = std::chrono::seconds(sec.cert_ttl_s);
    ca->grace_ratio = sec.grace_ratio;
    bo.sds_socket = sec.sds_socket;
  }
  std::ofstream(config_path) << weft::agent::proxyBootstrap(*env, bo).dump(2) << "\n";
  if (!std::ifstream(config_path)) {
    log("cannot write the bootstrap to " + config_path);
    return 2;
  }
  log("node " + env->nodeId() + ", discovery " + env->discovery_address + ", bootstrap " + config_path);

  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGCHLD, SIGTERM, SIGINT}) sigaddset(&set, s);
  sigprocmask(SIG_BLOCK, &set, nullptr);

  weft::event::Reactor reactor;
  weft::agent::ProxySupervisor::Options po;
  po.proxy_bin = proxy_bin;
  po.args = {
      "-c", config_path, "--concurrency", std::to_string(concurrency), "--drain-time-s", std::to_string(drain_s)};
  if (geteuid() == 0) {
    po.uid = proxy_uid;
    po.gid = proxy_gid;
  }
  weft::agent::ProxySupervisor supervisor(reactor, po, log);
  std::unique_ptr<weft::agent::WorkloadSecrets> secrets;
  std::unique_ptr<weft::agent::SdsServer> sds;
  if (ca) {
    secrets = std::make_unique<weft::agent::WorkloadSecrets>(reactor, *ca, log);
    try {
      sds = std::make_unique<weft::agent::SdsServer>(reactor, sec.sds_socket, *secrets, geteuid() == 0 ? proxy_uid : -1,
                                                     geteuid() == 0 ? proxy_gid : -1, log);
    } catch (const std::exception& e) {
      log(std::string("cannot start: ") + e.what());
      return 2;
    }
    secrets->start();
    log("identity " + ca->spiffe_id + ", CA " + sec.ca_address + ", SDS on " + sec.sds_socket);
  }
  weft::agent::StatusOptions so;
  if (secrets) {
    so.certificate = [&secrets, id = ca->spiffe_id] {
      nlohmann::json j = {{"identity", id}, {"last_error", secrets->lastError()}};
      if (const auto* c = secrets->current()) {
        j["not_before"] = isoTime(c->validity.not_before);
        j["not_after"] = isoTime(c->validity.not_after);
        j["generation"] = c->generation;
        j["next_renewal"] = isoTime(secrets->nextRenewal());
      }
      return j;
    };
    so.agent_metrics = [&secrets, &sds] {
      const auto* c = secrets->current();
      std::string out = "# TYPE weft_agent_certificate_renewals_total counter\nweft_agent_certificate_renewals_total " +
                        std::to_string(c ? c->generation : 0) + "\n";
      if (c) {
        out += "# TYPE weft_agent_certificate_expiry_seconds gauge\nweft_agent_certificate_expiry_seconds " +
               std::to_string(
                   std::chrono::duration_cast<std::chrono::seconds>(c->validity.not_after.time_since_epoch()).count()) +
               "\n";
      }
      out += "# TYPE weft_agent_sds_pushes_total counter\nweft_agent_sds_pushes_total " +
             std::to_string(sds->metrics().pushes) + "\n";
      out += "# TYPE weft_agent_sds_file_errors_total counter\nweft_agent_sds_file_errors_total " +
             std::to_string(sds->metrics().file_errors) + "\n";
      return out;
    };
  }
  so.app_probers = env->app_probers;
  // The application's metrics, as Istio's injector passes its prometheus.io/* annotations.
  if (const char* a = std::getenv("ISTIO_PROMETHEUS_ANNOTATIONS"); a && *a) {
    auto j = nlohmann::json::parse(a, nullptr, false);
    static const nlohmann::json shape = {{"scrape", "string"}, {"port", "string"}, {"path", "string"}};
    if (auto e = j.is_object() ? weft::jsonShapeError(j, shape, "ISTIO_PROMETHEUS_ANNOTATIONS") : std::nullopt) {
      log(*e + "; application metrics are not merged");
    } else if (j.is_object() && j.value("scrape", "false") == "true") {
      so.app_metrics_port = std::atoi(j.value("port", "80").c_str());
      so.app_metrics_path = j.value("path", "/metrics");
    } else if (!j.is_object()) {
      log("ISTIO_PROMETHEUS_ANNOTATIONS is not a JSON object; application metrics are not merged");
    }
  }
  auto addr = weft::net::Address::parse("0.0.0.0", static_cast<uint16_t>(status_port));
  std::unique_ptr<weft::agent::StatusServer> status;
  try {
    status = std::make_unique<weft::agent::StatusServer>(reactor, *addr, so, supervisor);
  } catch (const std::exception& e) {
    log(std::string("cannot serve the status port: ") + e.what());
    return 2;
  }
  SignalWatch signals(reactor, [&](int sig) {
    log(std::string("received ") + strsignal(sig) + ": draining");
    supervisor.shutdown(std::chrono::seconds(drain_s), [&] { reactor.stop(); });
  });
  supervisor.start();
  reactor.run();
  log("exiting");
  return 0;
}

int waitReady(const std::string& host, int port, int timeout_s, int period_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  std::string last;
  while (std::chrono::steady_clock::now() < deadline) {
    auto r = weft::http::httpRequest("GET", host, port, "/healthz/ready", std::chrono::milliseconds(1000));
    if (r.status == 200) {
      log("sidecar is ready");
      return 0;
    }
    last = r.status ? "HTTP " + std::to_string(r.status) + ": " + r.body : r.error;
    std::this_thread::sleep_for(std::chrono::milliseconds(period_ms));
  }
  log("timed out after " + std::to_string(timeout_s) + " s waiting for the sidecar; last answer: " + last);
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"weft-agent: runs and supervises the weft-proxy sidecar (pilot-agent)"};
  app.require_subcommand(1);
  auto* proxy = app.add_subcommand("proxy", "write the bootstrap, run weft-proxy, serve the status port");
  std::string proxy_bin = "weft-proxy", config_path = "/tmp/weft-envoy-rev.json";
  int concurrency = 2, proxy_uid = 1337, proxy_gid = 1337, drain_s = 5, status_port = 15020;
  proxy->add_option("--proxy-bin", proxy_bin, "the weft-proxy binary")->capture_default_str();
  proxy->add_option("--bootstrap", config_path, "where to write the proxy's bootstrap")->capture_default_str();
  proxy->add_option("--concurrency", concurrency, "proxy worker threads")->capture_default_str();
  proxy->add_option("--proxy-uid", proxy_uid, "uid the proxy runs as (when started as root)")->capture_default_str();
  proxy->add_option("--proxy-gid", proxy_gid, "gid the proxy runs as (when started as root)")->capture_default_str();
  proxy->add_option("--drain-duration", drain_s, "seconds to drain on SIGTERM")->capture_default_str();
  proxy->add_option("--status-port", status_port, "the agent's status port")->capture_default_str();
  SecurityOptions sec;
  if (const char* v = std::getenv("CA_ADDR"); v) sec.ca_address = v;
  if (const char* v = std::getenv("TRUST_DOMAIN"); v && *v) sec.trust_domain = v;
  proxy->add_option("--ca-address", sec.ca_address,
                    "weftd's CA over TLS, HOST:PORT (Istio's CA_ADDR, 15012); unset: no workload certificate");
  proxy->add_option("--ca-server-name", sec.ca_server_name, "the name the CA's certificate must have")
      ->capture_default_str();
  proxy->add_option("--ca-root-cert", sec.root_cert, "the mesh's root certificate (istio-ca-root-cert)")
      ->capture_default_str();
  proxy->add_option("--token-file", sec.token_file, "the workload's token for its first certificate")
      ->capture_default_str();
  proxy->add_option("--sds-socket", sec.sds_socket, "where to serve SDS to the proxy")->capture_default_str();
  proxy->add_option("--trust-domain", sec.trust_domain, "SPIFFE trust domain (TRUST_DOMAIN)")->capture_default_str();
  proxy->add_option("--cert-ttl-s", sec.cert_ttl_s, "requested certificate lifetime (SECRET_TTL); 0: the CA's")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  proxy->add_option("--grace-ratio", sec.grace_ratio, "renew with this share of the lifetime left")
      ->check(CLI::Range(0.05, 0.95))
      ->capture_default_str();
  proxy->add_option("--key-type", sec.key_type, "ecdsa (P-256) or rsa (2048)")->capture_default_str();
  auto* wait = app.add_subcommand("wait", "wait until the sidecar is ready");
  std::string wait_host = "127.0.0.1";
  int wait_port = 15020, wait_timeout = 60, wait_period = 200;
  wait->add_option("--host", wait_host)->capture_default_str();
  wait->add_option("--port", wait_port)->capture_default_str();
  wait->add_option("--timeout", wait_timeout, "seconds")->capture_default_str();
  wait->add_option("--period", wait_period, "milliseconds between checks")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (*proxy) return runProxy(proxy_bin, config_path, concurrency, proxy_uid, proxy_gid, drain_s, status_port, sec);
  return waitReady(wait_host, wait_port, wait_timeout, wait_period);
}
