// weftctl: the user's CLI. This first version runs a whole mesh on one machine:
//   weftctl up DIR     weftd with DIR as its configuration, and for every Pod in DIR a network
//                      namespace on the weft0 bridge, capture rules, weft-agent + weft-proxy,
//                      and the Pod's command as the workload
//   weftctl status     the workloads, their sidecars' readiness and xDS sync state
//   weftctl down       stops and removes all of it
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "capture/cni_plugin.h"
#include "capture/iptables_apply.h"
#include "capture/run_command.h"
#include "common/http/http_client.h"
#include "ctl/install.h"
#include "ctl/kube_inject.h"
#include "ctl/local_mesh.h"

namespace fs = std::filesystem;
using json = nlohmann::json;
using std::chrono::milliseconds;

namespace {

constexpr const char* kBridge = "weft0";
constexpr const char* kSubnetPrefix = "10.78.0.";
constexpr const char* kGateway = "10.78.0.1";

[[noreturn]] void die(const std::string& msg) {
  std::fprintf(stderr, "weftctl: %s\n", msg.c_str());
  std::exit(1);
}

void step(const std::string& msg) {
  std::printf("  %s\n", msg.c_str());
  std::fflush(stdout);
}

void run(const std::vector<std::string>& argv) {
  auto r = weft::capture::runCommand(argv);
  if (r.exit_code != 0) {
    std::string cmd;
    for (const auto& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
    die(cmd + " failed: " + r.err);
  }
}

// Runs `bin` with `args` and returns its stdout without the trailing newline; dies on failure.
std::string runOutput(const std::string& bin, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {bin};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = weft::capture::runCommand(argv);
  if (r.exit_code != 0) die(bin + " failed: " + r.err);
  while (!r.out.empty() && r.out.back() == '\n') r.out.pop_back();
  return r.out;
}

// A file only its owner may read (a token, a key).
void writePrivate(const fs::path& p, const std::string& data) {
  std::ofstream(p, std::ios::trunc) << data << "\n";
  fs::permissions(p, fs::perms::owner_read | fs::perms::owner_write);
}

std::string binDir() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return ".";
  buf[n] = 0;
  return fs::path(buf).parent_path().string();
}

// Starts `argv` detached (own session, output to `log`), in network namespace `netns` when
// given (through `ip netns exec`, which also applies /etc/netns/NAME/hosts).
pid_t spawn(std::vector<std::string> argv, const std::string& netns, const std::string& log, const std::string& cwd,
            const std::map<std::string, std::string>& env = {}) {
  if (!netns.empty()) argv.insert(argv.begin(), {"ip", "netns", "exec", netns});
  if (!env.empty()) {
    std::vector<std::string> with_env = {"env"};
    for (const auto& [k, v] : env) with_env.push_back(k + "=" + v);
    argv.insert(argv.begin() + (netns.empty() ? 0 : 4), with_env.begin(), with_env.end());
  }
  pid_t pid = fork();
  if (pid < 0) die("fork failed");
  if (pid == 0) {
    setsid();
    FILE* f = std::fopen(log.c_str(), "ab");
    if (f) {
      dup2(fileno(f), 1);
      dup2(fileno(f), 2);
    }
    if (!cwd.empty() && chdir(cwd.c_str()) != 0) _exit(126);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  return pid;
}

bool waitHttp(const std::string& ip, int port, const std::string& path, std::chrono::seconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (weft::http::httpRequest("GET", ip, port, path, milliseconds(500)).status == 200) return true;
    std::this_thread::sleep_for(milliseconds(100));
  }
  return false;
}

void checkPrerequisites() {
  if (geteuid() != 0) die("the local mesh needs root (network namespaces, a bridge, iptables): run it with sudo");
  for (const char* tool : {"ip", "iptables-save", "iptables-restore", "env", "prometheus"}) {
    if (weft::capture::runCommand({"sh", "-c", std::string("command -v ") + tool}).exit_code != 0) {
      die(std::string("'") + tool + "' is not installed (scripts/setup.sh installs what the local mesh needs)");
    }
  }
  for (const char* bin : {"weftd", "weft-agent", "weft-proxy"}) {
    if (!fs::exists(binDir() + "/" + bin))
      die(std::string(bin) + " is not next to weftctl in " + binDir() + ": build it first");
  }
}

// Prometheus's config: every sidecar's merged metrics, as Istio's scrape annotations on an injected
// pod say (prometheus.io/scrape: "true", port 15020, path /stats/prometheus), with the pod's
// name and namespace as Kubernetes service discovery would label them.
std::string prometheusConfig(const weft::ctl::MeshPlan& plan, const json& pods) {
  std::string out =
      "global: {scrape_interval: 2s, evaluation_interval: 2s}\n"
      "scrape_configs:\n"
      "- job_name: kubernetes-pods\n"
      "  metrics_path: /stats/prometheus\n"
      "  static_configs:\n";
  for (size_t i = 0; i < plan.pods.size(); ++i) {
    if (pods[i]["sidecar"] != true) continue;
    const auto& pod = plan.pods[i];
    out +=
        "  - targets: ['" + pod.ip + ":15020']\n    labels: {pod: '" + pod.name + "', namespace: '" + pod.ns + "'}\n";
  }
  return out;
}

// The user's files for weftd, without the Pods (weftctl writes them with their addresses).
void writeWeftdConfig(const weft::ctl::MeshPlan& plan, const fs::path& mesh_dir) {
  fs::create_directories(mesh_dir);
  for (const auto& file : plan.files) {
    std::ofstream out(mesh_dir / fs::path(file).filename());
    for (auto doc : YAML::LoadAllFromFile(file)) {
      if (!doc || !doc.IsMap() || (doc["kind"] && doc["kind"].as<std::string>() == "Pod")) continue;
      if (doc["kind"] && doc["kind"].as<std::string>() == "WorkloadEntry") {
        // A workload weftctl runs: its address is the one it got on the bridge.
        std::string name = doc["metadata"]["name"].as<std::string>();
        for (const auto& p : plan.pods) {
          if (!p.workload_entry || p.name != name) continue;
          doc["spec"]["address"] = p.ip;
          if (weft::ctl::hasSidecar(p)) doc["spec"]["labels"]["security.istio.io/tlsMode"] = "istio";
        }
      }
      YAML::Emitter e;
      e << doc;
      out << "---\n" << e.c_str() << "\n";
    }
  }
  std::ofstream(mesh_dir / "zz-weftctl-pods.yaml") << weft::ctl::generatedConfig(plan);
}

int up(const std::string& dir, const fs::path& state_dir) {
  checkPrerequisites();
  if (fs::exists(state_dir / "state.json"))
    die("a local mesh is already up (state in " + state_dir.string() + "): run weftctl down first");
  weft::ctl::MeshPlan plan;
  try {
    plan = weft::ctl::planFromDirectory(dir, kSubnetPrefix);
  } catch (const std::exception& e) {
    die(e.what());
  }
  auto t0 = std::chrono::steady_clock::now();
  std::printf("weftctl up %s: %zu workloads\n", dir.c_str(), plan.pods.size());
  fs::create_directories(state_dir / "logs");
  fs::permissions(state_dir, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                 fs::perms::others_read | fs::perms::others_exec);
  json state = {{"source", plan.source_dir}, {"pods", json::array()}};
  auto save = [&] { std::ofstream(state_dir / "state.json") << state.dump(2) << "\n"; };
  save();  // from here on, weftctl down can undo what is done

  run({"ip", "link", "add", kBridge, "type", "bridge"});
  run({"ip", "addr", "add", std::string(kGateway) + "/24", "dev", kBridge});
  run({"ip", "link", "set", kBridge, "up"});
  state["bridge"] = kBridge;
  save();
  writeWeftdConfig(plan, state_dir / "mesh");
  std::string bin = binDir();
  // weftd is also the mesh's CA: its root lives in STATE/weftd/ca, and each workload gets a
  // token for its identity (namespace, service account) to ask for its first certificate.
  const fs::path weftd_state = state_dir / "weftd";
  pid_t weftd = spawn({bin + "/weftd", "--config-dir", (state_dir / "mesh").string(), "--grpc-addr",
                       std::string(kGateway) + ":15010", "--http-addr", std::string(kGateway) + ":15014",
                       "--secure-grpc-addr", std::string(kGateway) + ":15012", "--state-dir", weftd_state.string()},
                      "", (state_dir / "logs" / "weftd.log").string(), "");
  state["weftd_pid"] = weftd;
  save();
  if (!waitHttp(kGateway, 15014, "/ready", std::chrono::seconds(15))) {
    die("weftd did not become ready; see " + (state_dir / "logs" / "weftd.log").string() + " (then weftctl down)");
  }
  step("weftd serving xDS on " + std::string(kGateway) + ":15010, xDS and the CA over TLS on " + kGateway +
       ":15012 (debug: http://" + kGateway + ":15014/debug/syncz)");

  std::string hosts = weft::ctl::hostsFile(plan);
  int index = 0;
  for (const auto& pod : plan.pods) {
    std::string netns = "weft-" + pod.name;
    std::string veth = "wv" + std::to_string(index++) + "_" + std::to_string(getpid() % 1000);
    json p = {{"name", pod.name}, {"namespace", pod.ns}, {"ip", pod.ip}, {"netns", netns}};
    state["pods"].push_back(p);
    save();
    run({"ip", "netns", "add", netns});
    run({"ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", netns});
    run({"ip", "link", "set", veth, "master", kBridge});
    run({"ip", "link", "set", veth, "up"});
    for (const std::vector<std::string>& c :
         std::vector<std::vector<std::string>>{{"ip", "addr", "add", pod.ip + "/24", "dev", "eth0"},
                                               {"ip", "link", "set", "eth0", "up"},
                                               {"ip", "link", "set", "lo", "up"},
                                               {"ip", "route", "add", "default", "via", kGateway}}) {
      std::vector<std::string> in_ns = {"ip", "netns", "exec", netns};
      in_ns.insert(in_ns.end(), c.begin(), c.end());
      run(in_ns);
    }
    fs::create_directories("/etc/netns/" + netns);
    std::ofstream("/etc/netns/" + netns + "/hosts") << hosts;
    // The same decision and rules as weft-cni: Istio's annotations shape the capture, and
    // sidecar.istio.io/inject: "false" leaves a pod without a sidecar.
    auto annotations = pod.annotations;
    annotations.emplace("sidecar.istio.io/status", "{\"injectedBy\":\"weftctl\"}");
    std::string skip, bad;
    auto capture = weft::capture::captureForPod(annotations, skip, bad);
    if (!bad.empty()) die(pod.name + ": " + bad);
    if (!capture) {
      pid_t app =
          spawn(pod.command, netns, (state_dir / "logs" / (pod.name + ".log")).string(), plan.source_dir, pod.env);
      state["pods"].back()["app_pid"] = app;
      state["pods"].back()["veth"] = veth;
      state["pods"].back()["sidecar"] = false;
      save();
      step(pod.name + ": " + pod.ip + ", no sidecar (" + skip + "), workload started");
      continue;
    }
    if (auto err = weft::capture::applyRules(&*capture, "/run/netns/" + netns)) die(pod.name + ": " + *err);
    json labels = json::object();
    for (const auto& [k, v] : pod.labels) labels[k] = v;
    std::map<std::string, std::string> agent_env = {{"POD_NAME", pod.name},
                                                    {"POD_NAMESPACE", pod.ns},
                                                    {"INSTANCE_IP", pod.ip},
                                                    {"SERVICE_ACCOUNT", pod.service_account},
                                                    {"WEFT_DISCOVERY_ADDRESS", std::string(kGateway) + ":15010"},
                                                    {"CA_ADDR", std::string(kGateway) + ":15012"},
                                                    {"ISTIO_METAJSON_LABELS", labels.dump()}};
    // The pod's secrets, as Kubernetes would mount them: its token and the mesh's root.
    const fs::path secrets = state_dir / "pods" / pod.name;
    fs::create_directories(secrets);
    std::string token = runOutput(
        bin + "/weftd", {"--state-dir", weftd_state.string(), "--issue-token", pod.ns + "/" + pod.service_account});
    writePrivate(secrets / "istio-token", token);
    fs::copy_file(weftd_state / "ca" / "root-cert.pem", secrets / "root-cert.pem",
                  fs::copy_options::overwrite_existing);
    pid_t agent = spawn({bin + "/weft-agent", "proxy", "--proxy-bin", bin + "/weft-proxy", "--bootstrap",
                         (state_dir / (pod.name + "-bootstrap.json")).string(), "--concurrency", "1", "--ca-root-cert",
                         (secrets / "root-cert.pem").string(), "--token-file", (secrets / "istio-token").string(),
                         "--sds-socket", (secrets / "sds" / "socket").string()},
                        netns, (state_dir / "logs" / (pod.name + "-sidecar.log")).string(), "", agent_env);
    pid_t app =
        spawn(pod.command, netns, (state_dir / "logs" / (pod.name + ".log")).string(), plan.source_dir, pod.env);
    state["pods"].back()["agent_pid"] = agent;
    state["pods"].back()["app_pid"] = app;
    state["pods"].back()["veth"] = veth;
    state["pods"].back()["sidecar"] = true;
    save();
    step(pod.name + ": " + pod.ip + ", capture rules, sidecar and workload started");
  }
  for (size_t i = 0; i < plan.pods.size(); ++i) {
    const auto& pod = plan.pods[i];
    if (state["pods"][i]["sidecar"] == true && !waitHttp(pod.ip, 15020, "/healthz/ready", std::chrono::seconds(30))) {
      die(pod.name + ": sidecar not ready after 30 s; see " +
          (state_dir / "logs" / (pod.name + "-sidecar.log")).string());
    }
    // The workload is up once its ports accept (checked from inside its namespace, where
    // root's loopback traffic is not captured).
    for (int port : pod.ports) {
      auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
      std::string probe = "exec 3<>/dev/tcp/127.0.0.1/" + std::to_string(port);
      while (weft::capture::runCommand({"ip", "netns", "exec", "weft-" + pod.name, "bash", "-c", probe}).exit_code !=
             0) {
        if (std::chrono::steady_clock::now() > deadline) {
          die(pod.name + ": port " + std::to_string(port) + " not listening after 30 s; see " +
              (state_dir / "logs" / (pod.name + ".log")).string());
        }
        std::this_thread::sleep_for(milliseconds(100));
      }
    }
  }
  // Prometheus (Debian's package) scraping the sidecars, for Istio's istio_* metrics.
  fs::create_directories(state_dir / "prometheus");
  std::ofstream(state_dir / "prometheus" / "prometheus.yml") << prometheusConfig(plan, state["pods"]);
  pid_t prom = spawn({"prometheus", "--config.file=" + (state_dir / "prometheus" / "prometheus.yml").string(),
                      "--storage.tsdb.path=" + (state_dir / "prometheus" / "data").string(),
                      "--web.listen-address=" + std::string(kGateway) + ":9090"},
                     "", (state_dir / "logs" / "prometheus.log").string(), "");
  state["prometheus_pid"] = prom;
  save();
  if (!waitHttp(kGateway, 9090, "/-/ready", std::chrono::seconds(30)))
    die("Prometheus did not become ready; see " + (state_dir / "logs" / "prometheus.log").string() +
        " (then weftctl down)");
  step("Prometheus scraping every sidecar: http://" + std::string(kGateway) + ":9090 (try the query " +
       "sum by (source_workload, destination_workload, destination_version, response_code) (istio_requests_total))");
  auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("weftctl: all %zu sidecars ready in %.1f s. Try: weftctl status; logs in %s\n", plan.pods.size(), secs,
              (state_dir / "logs").string().c_str());
  return 0;
}

json loadState(const fs::path& state_dir) {
  std::ifstream in(state_dir / "state.json");
  if (!in) die("no local mesh is up (no " + (state_dir / "state.json").string() + ")");
  return json::parse(in);
}

void stop(pid_t pid) {
  if (pid <= 0) return;
  kill(-pid, SIGTERM);
  kill(pid, SIGTERM);
}

int down(const fs::path& state_dir) {
  if (geteuid() != 0) die("weftctl down needs root");
  json state = loadState(state_dir);
  std::vector<pid_t> pids;
  for (const auto& p : state["pods"]) {
    for (const char* k : {"app_pid", "agent_pid"}) {
      if (p.contains(k)) pids.push_back(p[k].get<pid_t>());
    }
  }
  if (state.contains("weftd_pid")) pids.push_back(state["weftd_pid"].get<pid_t>());
  if (state.contains("prometheus_pid")) pids.push_back(state["prometheus_pid"].get<pid_t>());
  for (pid_t p : pids) stop(p);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(8);
  for (pid_t p : pids) {
    while (kill(p, 0) == 0 && std::chrono::steady_clock::now() < deadline) {
      waitpid(p, nullptr, WNOHANG);
      std::this_thread::sleep_for(milliseconds(50));
    }
    kill(-p, SIGKILL);
    kill(p, SIGKILL);
  }
  for (const auto& p : state["pods"]) {
    std::string netns = p["netns"];
    weft::capture::runCommand({"ip", "netns", "del", netns});
    if (p.contains("veth")) weft::capture::runCommand({"ip", "link", "del", p["veth"].get<std::string>()});
    fs::remove_all("/etc/netns/" + netns);
    step("removed " + p["name"].get<std::string>());
  }
  if (state.contains("bridge")) weft::capture::runCommand({"ip", "link", "del", state["bridge"].get<std::string>()});
  fs::remove_all(state_dir);
  std::printf("weftctl: the local mesh is down\n");
  return 0;
}

int status(const fs::path& state_dir) {
  json state = loadState(state_dir);
  json syncz = json::array();
  auto r = weft::http::httpRequest("GET", kGateway, 15014, "/debug/syncz", milliseconds(2000));
  if (r.status == 200) syncz = json::parse(r.body, nullptr, false);
  std::printf("%-20s %-12s %-10s %-28s %s\n", "WORKLOAD", "IP", "SIDECAR", "XDS (CDS LDS RDS EDS)",
              "CERTIFICATE (IDENTITY, EXPIRES)");
  int not_ready = 0;
  for (const auto& p : state["pods"]) {
    std::string name = p["name"], ip = p["ip"];
    bool sidecar = p.value("sidecar", true);
    auto ready = sidecar ? weft::http::httpRequest("GET", ip, 15020, "/healthz/ready", milliseconds(1000))
                         : weft::http::HttpResult{200, "", ""};
    if (!sidecar) {
      std::printf("%-20s %-12s %-10s %-28s %s\n", name.c_str(), ip.c_str(), "none", "-", "-");
      continue;
    }
    std::string sync = "not connected";
    if (syncz.is_array()) {
      for (const auto& s : syncz) {
        std::string id = s.value("proxy", "");
        if (id.find("~" + name + ".") == std::string::npos) continue;
        sync.clear();
        for (const char* t : {"cds", "lds", "rds", "eds"}) {
          sync += std::string(sync.empty() ? "" : " ") +
                  (s["types"].contains(t) ? s["types"][t].value("status", "?") : std::string("-"));
        }
      }
    }
    if (ready.status != 200) ++not_ready;
    // The workload certificate, from the agent (identity, notAfter; or why there is none).
    std::string cert = "none";
    auto c = weft::http::httpRequest("GET", ip, 15020, "/certificate", milliseconds(1000));
    if (c.status == 200) {
      auto j = json::parse(c.body, nullptr, false);
      if (j.is_object() && j.contains("not_after"))
        cert = j.value("identity", "?") + " " + j.value("not_after", "?");
      else if (j.is_object())
        cert = "pending: " + j.value("last_error", "waiting for the CA");
    }
    std::printf("%-20s %-12s %-10s %-28s %s\n", name.c_str(), ip.c_str(), ready.status == 200 ? "READY" : "NOT READY",
                sync.c_str(), cert.c_str());
  }
  return not_ready == 0 ? 0 : 3;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"weftctl: the Weft mesh's command line"};
  app.require_subcommand(1);
  std::string state_dir = "/run/weft/local";
  app.add_option("--state-dir", state_dir, "where a local mesh keeps its state and logs")->capture_default_str();
  auto* upc = app.add_subcommand("up", "run a mesh on this machine from a directory of YAML");
  std::string dir;
  upc->add_option("DIR", dir, "Istio/Kubernetes YAML: Services, Pods (with a command), VirtualServices ...")
      ->required();
  auto* downc = app.add_subcommand("down", "stop the local mesh and remove its namespaces");
  auto* statusc = app.add_subcommand("status", "workloads, sidecar readiness, xDS sync, workload certificates");
  auto* injectc =
      app.add_subcommand("kube-inject", "add the sidecar to Kubernetes workload YAML (istioctl kube-inject)");
  std::string inject_file;
  weft::inject::InjectionConfig inject;
  injectc->add_option("-f,--filename", inject_file, "the YAML to inject ('-': standard input)")->required();
  injectc->add_option("--image", inject.image, "the sidecar image (weft-agent, weft-proxy, weft-iptables)")
      ->capture_default_str();
  injectc->add_option("--ca-address", inject.ca_address, "weftd's CA (CA_ADDR)")->capture_default_str();
  injectc->add_option("--discovery-address", inject.discovery_address, "weftd's xDS")->capture_default_str();
  injectc->add_option("--revision", inject.revision, "istio.io/rev")->capture_default_str();
  injectc->add_flag("--cni", inject.cni, "the CNI plugin captures traffic: no istio-init container");
  injectc->add_flag("--native-sidecar", inject.native_sidecar,
                    "istio-proxy as a Kubernetes native sidecar (an init container with restartPolicy Always; 1.33+)");
  auto* installc = app.add_subcommand(
      "install", "install Weft into a Kubernetes cluster (server-side apply of manifests/), or print it (--dry-run)");
  weft::ctl::InstallOptions install_options;
  installc->add_flag("--dry-run", install_options.dry_run, "print the manifests instead of applying them");
  installc->add_option("--kubeconfig", install_options.kubeconfig, "default: $KUBECONFIG, else ~/.kube/config");
  installc->add_option("--context", install_options.context, "the kubeconfig context (default: its current one)");
  CLI11_PARSE(app, argc, argv);
  if (*installc) return weft::ctl::install(install_options, std::cout, std::cerr);
  if (*injectc) {
    if (inject_file == "-") return weft::ctl::kubeInject(std::cin, std::cout, std::cerr, inject);
    std::ifstream f(inject_file);
    if (!f) {
      std::fprintf(stderr, "weftctl kube-inject: cannot read '%s'\n", inject_file.c_str());
      return 1;
    }
    return weft::ctl::kubeInject(f, std::cout, std::cerr, inject);
  }
  if (*upc) return up(dir, state_dir);
  if (*downc) return down(state_dir);
  if (*statusc) return status(state_dir);
  return 1;
}
