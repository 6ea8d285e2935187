// weft-cni: the chained CNI plugin binary. The runtime passes the call in the environment and
// on stdin; the result (or the error object) goes to stdout, the log to stderr.
// `weft-cni install ...` is the CNI DaemonSet's installer instead (see --help there).
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <thread>

#include "capture/cni_install.h"
#include "capture/cni_plugin.h"
#include "capture/iptables_apply.h"
#include "common/kube/api_client.h"

extern char** environ;

namespace {

std::optional<std::string> podAnnotations(const std::string& kubeconfig, const std::string& ns, const std::string& pod,
                                          std::map<std::string, std::string>& out) {
  try {
    weft::kube::ApiClient client(weft::kube::kubeconfigApiServer(kubeconfig));
    weft::kube::Request req;
    req.target = "/api/v1/namespaces/" + ns + "/pods/" + pod;
    req.timeout = std::chrono::seconds(5);
    req.max_body = 4 << 20;
    auto resp = client.callSync(req);
    if (!resp.error.empty()) return resp.error;
    if (!resp.ok()) return "GET " + req.target + ": HTTP " + std::to_string(resp.status);
    auto obj = nlohmann::json::parse(resp.body, nullptr, false);
    if (obj.is_discarded() || !obj.is_object()) return "GET " + req.target + ": the answer is not a Pod";
    const auto& ann = obj["metadata"]["annotations"];
    for (auto it = ann.begin(); ann.is_object() && it != ann.end(); ++it)
      if (it->is_string()) out[it.key()] = it->get<std::string>();
    return std::nullopt;
  } catch (const weft::ConfigError& e) {
    return std::string(e.what());
  }
}

volatile sig_atomic_t g_stop = 0;

// The DaemonSet's container: weft-cni into the node's bin directory, a kubeconfig for it, and
// its entry in the chain; kept there (re-checked every 10 s, as another plugin may rewrite the
// file) until SIGTERM, which takes the entry out again.
int install(int argc, char** argv) {
  std::string bin_dir = "/host/opt/cni/bin", net_dir = "/host/etc/cni/net.d", host_net_dir = "/etc/cni/net.d";
  std::string secrets = "/var/run/secrets/kubernetes.io/serviceaccount";
  bool once = false;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](std::string& into) {
      if (i + 1 >= argc) throw std::runtime_error(a + " needs a value");
      into = argv[++i];
    };
    if (a == "--cni-bin-dir")
      value(bin_dir);
    else if (a == "--cni-net-dir")
      value(net_dir);
    else if (a == "--host-cni-net-dir")
      value(host_net_dir);
    else if (a == "--secrets-dir")
      value(secrets);
    else if (a == "--once")
      once = true;
    else {
      std::fprintf(stderr,
                   "usage: weft-cni install [--cni-bin-dir /host/opt/cni/bin] [--cni-net-dir /host/etc/cni/net.d] "
                   "[--host-cni-net-dir /etc/cni/net.d] [--secrets-dir DIR] [--once]\n");
      return 2;
    }
  }
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path target = fs::path(bin_dir) / "weft-cni", tmp = fs::path(bin_dir) / ".weft-cni.tmp";
  fs::copy_file("/proc/self/exe", tmp, fs::copy_options::overwrite_existing, ec);
  if (!ec) fs::permissions(tmp, fs::perms(0755), ec);
  if (!ec) fs::rename(tmp, target, ec);
  if (ec) {
    std::fprintf(stderr, "weft-cni install: cannot put weft-cni in %s: %s\n", bin_dir.c_str(), ec.message().c_str());
    return 1;
  }
  std::string error;
  std::string kubeconfig = weft::capture::inClusterKubeconfig(secrets, error);
  if (kubeconfig.empty()) {
    std::fprintf(stderr, "weft-cni install: %s\n", error.c_str());
    return 1;
  }
  {
    std::ofstream out(fs::path(net_dir) / "weft-cni-kubeconfig", std::ios::trunc);
    out << kubeconfig;
  }
  nlohmann::json plugin = {{"type", "weft-cni"},
                           {"kubernetes", {{"kubeconfig", host_net_dir + "/weft-cni-kubeconfig"}}},
                           {"exclude_namespaces", {"kube-system", "weft-system"}}};
  signal(SIGTERM, [](int) { g_stop = 1; });
  signal(SIGINT, [](int) { g_stop = 1; });
  std::string last;
  for (;;) {
    auto r = weft::capture::addToChain(net_dir, plugin);
    std::string now = r.error.empty() ? (r.changed ? "added to " + r.file : "") : r.error;
    if (!now.empty() && now != last) std::fprintf(stderr, "weft-cni install: %s\n", now.c_str());
    last = now;
    if (once) return r.error.empty() ? 0 : 1;
    for (int i = 0; i < 100 && !g_stop; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (g_stop) break;
  }
  auto r = weft::capture::removeFromChain(net_dir);
  std::fprintf(stderr, "weft-cni install: %s\n",
               !r.error.empty() ? r.error.c_str() : ("removed from " + r.file).c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && std::string(argv[1]) == "install") {
    try {
      return install(argc, argv);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "weft-cni install: %s\n", e.what());
      return 2;
    }
  }
  weft::capture::CniCall call;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv(*e);
    auto eq = kv.find('=');
    if (eq != std::string::npos && kv.rfind("CNI_", 0) == 0) call.env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  if (call.env["CNI_COMMAND"] != "VERSION") {
    call.stdin_json.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  }
  weft::capture::CniActions actions{[](const weft::capture::CaptureConfig* c, const std::string& netns) {
                                      return weft::capture::applyRules(c, netns);
                                    },
                                    [](const weft::capture::CaptureConfig& c, const std::string& netns) {
                                      return weft::capture::checkRules(c, netns);
                                    },
                                    podAnnotations};
  auto out = weft::capture::runCni(call, actions);
  if (!out.log.empty()) std::fprintf(stderr, "%s\n", out.log.c_str());
  if (!out.stdout_json.empty()) std::printf("%s\n", out.stdout_json.c_str());
  return out.exit_code;
}
