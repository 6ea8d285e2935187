// weftd: Weft's control plane (Istio's istiod). Reads Istio and Kubernetes objects from a
// directory of YAML and/or the Kubernetes API, validates them, and serves Envoy xDS (ADS,
// state of the world and delta).
//   weftd [--config-dir DIR] [--kubeconfig FILE] [--grpc-addr 0.0.0.0:15010] [--http-addr 0.0.0.0:15014]
#include <grpcpp/grpcpp.h>

#include <malloc.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/signalfd.h>
#include <unistd.h>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <sstream>

#include <CLI/CLI.hpp>

#include "common/config/error.h"
#include "common/event/reactor.h"
#include "control/authn/jwks_resolver.h"
#include "control/ca/ca_bundle.h"
#include "control/ca/ca_service.h"
#include "control/ca/serving_cert.h"
#include "control/ca/workload_token.h"
#include "control/config/debouncer.h"
#include "control/config/dir_watcher.h"
#include "control/debug/debug_handlers.h"
#include "control/kube/kube_source.h"
#include "control/model/mesh_model.h"
#include "control/webhook/ca_bundle_patcher.h"
#include "control/webhook/native_sidecars.h"
#include "control/webhook/webhook_server.h"
#include "control/xds/ads_server.h"

namespace {

std::optional<weft::net::Address> parseHostPort(const std::string& s) {
  auto colon = s.rfind(':');
  if (colon == std::string::npos) return std::nullopt;
  std::string host = s.substr(0, colon);
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  try {
    int port = std::stoi(s.substr(colon + 1));
    if (port < 0 || port > 65535) return std::nullopt;
    return weft::net::Address::parse(host, static_cast<uint16_t>(port));
  } catch (...) {
    return std::nullopt;
  }
}

std::string readPemFile(const std::string& path, const char* flag) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  if (!in || ss.str().empty()) throw weft::ConfigError(std::string(flag) + ": cannot read '" + path + "'");
  return ss.str();
}

class SignalHandler : public weft::event::IoHandler {
 public:
  SignalHandler(int fd, weft::event::Reactor& r) : fd_(fd), reactor_(r) {}
  void onIoEvent(uint32_t) override {
    signalfd_siginfo info;
    while (read(fd_, &info, sizeof(info)) == sizeof(info)) reactor_.stop();
  }

 private:
  int fd_;
  weft::event::Reactor& reactor_;
};

}  // namespace

int main(int argc, char** argv) {
  // gRPC's threads would each grow a malloc arena; two keep the heap compact under pushes.
  mallopt(M_ARENA_MAX, 2);
  CLI::App app{"weftd: Weft control plane (Istio config in, Envoy xDS out)"};
  std::string config_dir, grpc_addr = "0.0.0.0:15010", http_addr = "0.0.0.0:15014", log_level = "info";
  int quiet_ms = 100, max_ms = 10000;
  auto* config_opt =
      app.add_option("--config-dir", config_dir, "directory of Istio/Kubernetes YAML, watched for changes");
  std::string kubeconfig, kube_context;
  app.add_option("--kubeconfig", kubeconfig,
                 "watch the Kubernetes API server of this kubeconfig (in a pod, KUBERNETES_SERVICE_HOST and the "
                 "service account are used without it)");
  app.add_option("--kube-context", kube_context, "the kubeconfig context (default: its current-context)");
  int kube_sync_timeout_s = 60;
  app.add_option("--kube-sync-timeout-s", kube_sync_timeout_s,
                 "how long the first push waits for every Kubernetes type to be listed")
      ->capture_default_str();
  app.add_option("--grpc-addr", grpc_addr, "xDS (ADS) listen address, plaintext (Istio's 15010)");
  std::string secure_grpc_addr = "0.0.0.0:15012";
  app.add_option("--secure-grpc-addr", secure_grpc_addr,
                 "xDS and the CA over TLS (Istio's 15012); served when the CA runs (--state-dir)")
      ->capture_default_str();
  app.add_option("--http-addr", http_addr, "debug and metrics listen address");
  std::string webhook_addr, webhook_cert, webhook_key;
  app.add_option("--webhook-addr", webhook_addr,
                 "HTTPS listen address of the admission webhooks (/validate; Istio's 0.0.0.0:15017); off when empty");
  app.add_option("--webhook-cert", webhook_cert,
                 "PEM certificate chain for the webhooks (default: one from weftd's CA, which needs --state-dir)");
  app.add_option("--webhook-key", webhook_key, "PEM private key of --webhook-cert");
  std::string injector_config = "weft-sidecar-injector", validator_config = "weft-validator";
  int ca_bundle_period_s = 30;
  app.add_option(
         "--injector-webhook-config", injector_config,
         "with Kubernetes: the MutatingWebhookConfiguration whose caBundle weftd keeps to its root (empty: none)")
      ->capture_default_str();
  app.add_option("--validator-webhook-config", validator_config,
                 "with Kubernetes: the ValidatingWebhookConfiguration whose caBundle weftd keeps to its root (empty: "
                 "none)")
      ->capture_default_str();
  app.add_option("--ca-bundle-check-s", ca_bundle_period_s, "how often the webhooks' caBundle is checked")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  weft::inject::InjectionConfig injection;
  app.add_option("--sidecar-image", injection.image, "the image /inject gives the sidecar")->capture_default_str();
  app.add_option("--injected-ca-address", injection.ca_address, "CA_ADDR of injected sidecars")->capture_default_str();
  app.add_option("--injected-discovery-address", injection.discovery_address, "xDS address of injected sidecars")
      ->capture_default_str();
  app.add_flag("--injection-cni", injection.cni, "the CNI plugin captures traffic: inject no istio-init container");
  std::string native_sidecars = "auto";
  app.add_option("--native-sidecars", native_sidecars,
                 "Istio's ENABLE_NATIVE_SIDECARS: true, false, or auto (with Kubernetes: when every node's kubelet "
                 "is 1.33+)")
      ->check(CLI::IsMember({"auto", "true", "false"}))
      ->capture_default_str();
  app.add_option("--debounce-ms", quiet_ms, "push after config has been quiet this long");
  app.add_option("--debounce-max-ms", max_ms, "push at the latest this long after the first change");
  app.add_option("-l,--log-level", log_level, "trace, debug, info, warn, error");
  std::string mesh_config_file;
  app.add_option("--mesh-config", mesh_config_file,
                 "Istio MeshConfig YAML (the `mesh` of the istio ConfigMap): outboundTrafficPolicy, "
                 "enableAutoMtls, default*ExportTo, accessLog*, defaultConfig, ...; its trustDomain takes the "
                 "place of --trust-domain");
  std::string state_dir, cacerts_dir, trust_domain = "cluster.local";
  app.add_option("--state-dir", state_dir,
                 "weftd's own state: the CA's self-signed root lives in STATE_DIR/ca (made once, then kept)");
  app.add_option(
      "--cacerts-dir", cacerts_dir,
      "Istio's plug-in CA: ca-cert.pem, ca-key.pem, cert-chain.pem, root-cert.pem (instead of a self-signed root)");
  app.add_option("--trust-domain", trust_domain, "the mesh's SPIFFE trust domain")->capture_default_str();
  int64_t cert_ttl_s = 24 * 3600, max_cert_ttl_s = 90 * 24 * 3600, token_ttl_s = 30 * 24 * 3600;
  app.add_option("--workload-cert-ttl-s", cert_ttl_s,
                 "lifetime of a workload certificate when the CSR asks for none (Istio's DEFAULT_WORKLOAD_CERT_TTL)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--max-workload-cert-ttl-s", max_cert_ttl_s,
                 "the longest lifetime a CSR may ask for (Istio's MAX_WORKLOAD_CERT_TTL)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  std::string issue_token;
  app.add_option("--issue-token", issue_token,
                 "print a workload token for NAMESPACE/SERVICE_ACCOUNT, signed with STATE_DIR's key, and exit");
  app.add_option("--token-ttl-s", token_ttl_s, "lifetime of a token from --issue-token")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  int jwks_refresh_s = 20 * 60, jwks_timeout_ms = 5000;
  app.add_option("--jwks-refresh-interval-s", jwks_refresh_s,
                 "how often fetched JWKS (jwksUri, OpenID discovery) are refreshed (Istio's "
                 "PILOT_JWT_PUB_KEY_REFRESH_INTERVAL)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--jwks-fetch-timeout-ms", jwks_timeout_ms,
                 "how long a JWKS fetch may take when a JWT rule sets no timeout")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (!issue_token.empty()) {
    auto slash = issue_token.find('/');
    if (state_dir.empty() || slash == std::string::npos || slash == 0 || slash + 1 == issue_token.size()) {
      fprintf(stderr, "weftd: --issue-token wants NAMESPACE/SERVICE_ACCOUNT and --state-dir\n");
      return 1;
    }
    try {
      auto tokens =
          weft::control::ca::TokenAuthority::loadOrCreate(std::filesystem::path(state_dir) / "ca", trust_domain);
      printf(
          "%s\n",
          tokens->issue(issue_token.substr(0, slash), issue_token.substr(slash + 1), std::chrono::seconds(token_ttl_s))
              .c_str());
      return 0;
    } catch (const weft::control::ca::CaError& e) {
      fprintf(stderr, "weftd: %s\n", e.what());
      return 1;
    }
  }
  // Kubernetes: --kubeconfig, or in a pod its service account (as client-go's default).
  std::optional<weft::kube::ApiServer> api_server;
  try {
    if (!kubeconfig.empty()) {
      api_server = weft::kube::kubeconfigApiServer(kubeconfig, kube_context);
    } else if (getenv("KUBERNETES_SERVICE_HOST")) {
      try {
        api_server = weft::kube::inClusterApiServer();
      } catch (const weft::ConfigError& e) {
        // In a pod without a service account token: the directory alone, if there is one.
        if (config_dir.empty()) throw;
        fprintf(stderr, "weftd: not watching Kubernetes (%s); serving --config-dir only\n", e.what());
      }
    }
  } catch (const weft::ConfigError& e) {
    fprintf(stderr, "weftd: Kubernetes: %s\n", e.what());
    return 1;
  }
  if (config_dir.empty() && !api_server) {
    fprintf(stderr, "weftd: %s or --kubeconfig (or running in a Kubernetes pod) is required\n",
            config_opt->get_name().c_str());
    return 1;
  }
  auto mesh = std::make_shared<weft::control::MeshConfig>();
  mesh->trust_domain = trust_domain;
  if (!mesh_config_file.empty()) {
    std::ifstream in(mesh_config_file);
    std::stringstream text;
    text << in.rdbuf();
    if (!in) {
      fprintf(stderr, "weftd: --mesh-config: cannot read '%s'\n", mesh_config_file.c_str());
      return 1;
    }
    std::vector<std::string> errors;
    weft::control::MeshConfig parsed = weft::control::parseMeshConfig(text.str(), errors);
    if (!errors.empty()) {
      for (const auto& e : errors) fprintf(stderr, "weftd: %s: %s\n", mesh_config_file.c_str(), e.c_str());
      return 1;
    }
    *mesh = std::move(parsed);
    trust_domain = mesh->trust_domain;
  }
  if (max_cert_ttl_s < cert_ttl_s) {
    fprintf(stderr, "weftd: --workload-cert-ttl-s (%lld) is greater than --max-workload-cert-ttl-s (%lld)\n",
            static_cast<long long>(cert_ttl_s), static_cast<long long>(max_cert_ttl_s));
    return 1;
  }
  spdlog::set_level(spdlog::level::from_str(log_level));
  spdlog::set_pattern("[%Y-%m-%d %H:%M:%S.%e][%l] %v");

  // The CA's signing material, before anything is served: a bad plug-in CA stops weftd here.
  std::shared_ptr<const weft::control::ca::CaBundle> ca;
  std::shared_ptr<const weft::control::ca::TokenAuthority> tokens;
  try {
    if (!cacerts_dir.empty()) {
      ca = weft::control::ca::loadPluggedCa(cacerts_dir);
      spdlog::info("CA: plug-in certificates from {}", cacerts_dir);
    } else if (!state_dir.empty()) {
      ca = weft::control::ca::loadOrCreateSelfSigned(std::filesystem::path(state_dir) / "ca", trust_domain);
      spdlog::info("CA: self-signed root for trust domain {}, root certificate in {}/ca/root-cert.pem", trust_domain,
                   state_dir);
    }
    if (ca && state_dir.empty()) {
      fprintf(stderr, "weftd: --cacerts-dir needs --state-dir too (the workload token key lives there)\n");
      return 1;
    }
    if (ca)
      tokens = weft::control::ca::TokenAuthority::loadOrCreate(std::filesystem::path(state_dir) / "ca", trust_domain);
  } catch (const weft::control::ca::CaError& e) {
    fprintf(stderr, "weftd: CA: %s\n", e.what());
    return 1;
  }

  auto http = parseHostPort(http_addr);
  if (!http) {
    fprintf(stderr, "weftd: --http-addr '%s' is not IP:PORT\n", http_addr.c_str());
    return 1;
  }
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  pthread_sigmask(SIG_BLOCK, &mask, nullptr);
  signal(SIGPIPE, SIG_IGN);

  weft::control::xds::AdsServer ads;
  weft::control::DebugState debug;
  debug.ads = &ads;
  // The directory watcher and the JWKS refresher both reload; one at a time.
  std::mutex reload_mu;
  std::function<void()> reload;
  std::shared_ptr<const weft::control::MeshConfig> last_mesh;
  std::mutex serving_mesh_mu;  // the mesh config the webhooks see (read on the main thread)
  std::shared_ptr<const weft::control::MeshConfig> serving_mesh;
  weft::control::authn::JwksResolver::Options jwks_options;
  jwks_options.refresh_interval = std::chrono::seconds(jwks_refresh_s);
  jwks_options.fetch_timeout = std::chrono::milliseconds(jwks_timeout_ms);
  weft::control::authn::JwksResolver jwks(jwks_options, [&] { reload(); });
  // The directory's and Kubernetes' changes, debounced into reloads on one thread.
  weft::control::Debouncer changes(std::chrono::milliseconds(quiet_ms), std::chrono::milliseconds(max_ms),
                                   [&] { reload(); });
  std::unique_ptr<weft::control::kube::KubeSource> kube;  // after `changes`, which it notifies
  // On any way out: the watches stop, then the reloads (which read `kube`), then both go.
  struct StopSources {
    weft::control::Debouncer& changes;
    std::unique_ptr<weft::control::kube::KubeSource>& kube;
    ~StopSources() {
      if (kube) kube->stop();
      changes.stop();
    }
  } stop_sources{changes, kube};
  reload = [&] {
    std::lock_guard<std::mutex> lock(reload_mu);
    weft::control::ConfigSnapshot loaded;
    if (!config_dir.empty()) loaded = weft::control::loadConfigDir(config_dir);
    if (kube) kube->addTo(loaded);
    jwks.resolve(loaded);
    auto config = std::make_shared<const weft::control::ConfigSnapshot>(std::move(loaded));
    for (const auto& r : config->rejected) {
      spdlog::warn("rejected {}#{} {} {}/{}: {}", r.source.file, r.source.document, r.source.kind, r.source.ns,
                   r.source.name, r.errors.empty() ? "" : r.errors.front());
    }
    debug.config.store(config);
    debug.config_reloads++;
    // The istio ConfigMap's mesh config, when there is one, over --mesh-config's.
    std::shared_ptr<const weft::control::MeshConfig> effective = mesh;
    for (const auto& cm : config->config_maps) {
      if (!cm.isMeshConfig()) continue;
      std::vector<std::string> errors;  // none: it was validated when decoded
      auto text = cm.data.find("mesh");
      auto from_map = std::make_shared<weft::control::MeshConfig>(
          weft::control::parseMeshConfig(text == cm.data.end() ? "" : text->second, errors, *mesh));
      if (from_map->trust_domain != mesh->trust_domain) {
        // The CA signs for the trust domain it started with.
        spdlog::error("ConfigMap istio-system/istio: trustDomain '{}' differs from weftd's '{}'; a restart applies it",
                      from_map->trust_domain, mesh->trust_domain);
        from_map->trust_domain = mesh->trust_domain;
      }
      effective = std::move(from_map);
    }
    for (const auto& r : config->rejected) {
      if (r.source.kind == "ConfigMap" && r.source.name == "istio" && r.source.ns == "istio-system" && last_mesh) {
        // As istiod's mesh watcher: a bad mesh config leaves the last good one in force.
        spdlog::error("ConfigMap istio-system/istio is invalid; the last good mesh config stays in force");
        effective = last_mesh;
      }
    }
    last_mesh = effective;
    {
      std::lock_guard<std::mutex> mesh_lock(serving_mesh_mu);
      serving_mesh = effective;
    }
    ads.setModel(weft::control::buildModel(config, effective));
    spdlog::info("config: {} accepted, {} rejected; pushed", config->accepted.size(), config->rejected.size());
  };
  if (api_server) {
    try {
      kube = std::make_unique<weft::control::kube::KubeSource>(*api_server, weft::control::kube::ReflectorOptions{},
                                                               [&] { changes.notify(); });
    } catch (const weft::ConfigError& e) {
      fprintf(stderr, "weftd: Kubernetes: %s\n", e.what());
      return 1;
    }
    debug.kube_metrics = [&kube] { return kube->metrics(); };
    kube->start();
    spdlog::info("watching the Kubernetes API server {}", api_server->url());
    if (!kube->waitForSync(std::chrono::seconds(kube_sync_timeout_s)))
      spdlog::warn("Kubernetes: not every type is listed after {} s (see weftd_kube_synced); serving what is in",
                   kube_sync_timeout_s);
  }
  reload();

  grpc::ServerBuilder builder;
  int bound_port = 0;
  builder.AddListeningPort(grpc_addr, grpc::InsecureServerCredentials(), &bound_port);
  builder.RegisterService(&ads);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000);
  // 15012: the same xDS and the CA, over TLS with weftd's certificate from its own CA. A client
  // certificate is asked for (and verified when given) so that workloads renew with theirs.
  std::unique_ptr<weft::control::ca::KubeTokenReviewer> token_reviewer;
  std::unique_ptr<weft::control::ca::CaService> ca_service;
  int secure_port = 0;
  std::string webhook_chain, webhook_key_pem;  // weftd's serving certificate, unless files are given
  if (ca) {
    weft::control::ca::SignPolicy policy;
    policy.default_ttl = std::chrono::seconds(cert_ttl_s);
    policy.max_ttl = std::chrono::seconds(max_cert_ttl_s);
    // With Kubernetes, pods prove who they are with their service account token (TokenReview).
    if (kube) token_reviewer = std::make_unique<weft::control::ca::KubeTokenReviewer>(kube->client(), trust_domain);
    ca_service = std::make_unique<weft::control::ca::CaService>(ca, tokens, trust_domain, policy, token_reviewer.get());
    weft::control::ca::ServingCertificate serving;
    try {
      serving = weft::control::ca::issueServingCertificate(
          *ca,
          {"istiod.istio-system.svc", "istiod.weft-system.svc", "weftd.weft-system.svc", "istiod", "weftd", "localhost",
           "127.0.0.1", "::1"},
          std::chrono::hours(24 * 365));
    } catch (const weft::control::ca::CaError& e) {
      fprintf(stderr, "weftd: CA: %s\n", e.what());
      return 1;
    }
    webhook_chain = serving.chain_pem;
    webhook_key_pem = serving.key_pem;
    grpc::SslServerCredentialsOptions tls(GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY);
    tls.pem_root_certs = ca->root_cert_pem;
    tls.pem_key_cert_pairs.push_back({serving.key_pem, serving.chain_pem});
    builder.AddListeningPort(secure_grpc_addr, grpc::SslServerCredentials(tls), &secure_port);
    builder.RegisterService(ca_service.get());
    debug.ca_metrics = [&ca_service] { return ca_service->metrics().prometheus(); };
  }
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || bound_port == 0 || (ca && secure_port == 0)) {
    fprintf(stderr, "weftd: cannot serve xDS on %s%s\n", grpc_addr.c_str(),
            ca ? (" and " + secure_grpc_addr).c_str() : "");
    return 1;
  }

  weft::control::DirWatcher watcher(config_dir, changes);
  try {
    if (!config_dir.empty()) watcher.start();
  } catch (const std::exception& e) {
    fprintf(stderr, "weftd: %s\n", e.what());
    return 1;
  }

  weft::event::Reactor reactor;
  std::unique_ptr<weft::http::AdminServer> admin;
  try {
    admin = std::make_unique<weft::http::AdminServer>(reactor, *http);
  } catch (const std::exception& e) {
    fprintf(stderr, "weftd: %s\n", e.what());
    return 1;
  }
  weft::control::addDebugHandlers(*admin, debug);
  std::unique_ptr<weft::http::AdminServer> webhooks;
  if (!webhook_addr.empty()) {
    auto addr = parseHostPort(webhook_addr);
    try {
      if (!addr) throw weft::ConfigError("--webhook-addr '" + webhook_addr + "' is not IP:PORT");
      if (!webhook_cert.empty() || !webhook_key.empty()) {
        webhook_chain = readPemFile(webhook_cert, "--webhook-cert");
        webhook_key_pem = readPemFile(webhook_key, "--webhook-key");
      }
      if (webhook_chain.empty())
        throw weft::ConfigError("--webhook-addr needs --webhook-cert/--webhook-key or --state-dir");
      webhooks = weft::control::webhook::startWebhookServer(reactor, *addr, webhook_chain, webhook_key_pem, [&] {
        weft::inject::InjectionConfig c = injection;
        c.native_sidecar = native_sidecars == "true";
        if (native_sidecars == "auto" && kube) {
          auto config = debug.config.load();
          c.native_sidecar = config && weft::control::webhook::nativeSidecarsEverywhere(config->nodes);
        }
        std::lock_guard<std::mutex> mesh_lock(serving_mesh_mu);
        if (serving_mesh) {
          c.mesh_proxy_config = serving_mesh->default_proxy_config;
          c.trust_domain = serving_mesh->trust_domain;
        }
        return c;
      });
    } catch (const std::exception& e) {
      fprintf(stderr, "weftd: webhooks: %s\n", e.what());
      return 1;
    }
    spdlog::info("weftd serving admission webhooks on https://{} (/validate, /inject)", webhooks->address().toString());
  }
  // The webhook configurations trust weftd's root, when weftd's CA signed the serving certificate.
  std::unique_ptr<weft::control::webhook::CaBundlePatcher> ca_bundle_patcher;
  if (webhooks && kube && ca && webhook_cert.empty()) {
    std::vector<std::string> paths;
    const std::string api = "/apis/admissionregistration.k8s.io/v1/";
    if (!injector_config.empty()) paths.push_back(api + "mutatingwebhookconfigurations/" + injector_config);
    if (!validator_config.empty()) paths.push_back(api + "validatingwebhookconfigurations/" + validator_config);
    ca_bundle_patcher = std::make_unique<weft::control::webhook::CaBundlePatcher>(
        kube->client(), std::move(paths), ca->root_cert_pem, std::chrono::seconds(ca_bundle_period_s));
  }
  int sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  SignalHandler signals(sfd, reactor);
  reactor.add(sfd, &signals);
  // A push builds a response per stream and frees it once written; give that memory back to
  // the system every few seconds instead of keeping the high-water mark of the last push.
  std::unique_ptr<weft::event::Timer> trim;
  trim = std::make_unique<weft::event::Timer>(reactor, [&] {
    malloc_trim(0);
    trim->arm(std::chrono::seconds(5));
  });
  trim->arm(std::chrono::seconds(5));
  debug.ready = true;
  spdlog::info("weftd serving xDS on {} (port {}), debug on http://{}", grpc_addr, bound_port,
               admin->address().toString());
  if (ca) spdlog::info("weftd serving xDS and the CA over TLS on {} (port {})", secure_grpc_addr, secure_port);
  reactor.run();
  spdlog::info("weftd shutting down");
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  ca_bundle_patcher.reset();
  return 0;
}
