#include "capture/cni_install.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "common/base64.h"
#include "common/kube/api_server.h"

namespace weft::capture {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

bool readFile(const fs::path& p, std::string& out) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return false;
  std::stringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  return true;
}

std::string writeAtomically(const fs::path& p, const std::string& text) {
  fs::path tmp = p;
  tmp += ".weft-tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out) return "cannot write " + tmp.string();
  }
  std::error_code ec;
  fs::rename(tmp, p, ec);
  return ec ? "cannot replace " + p.string() + ": " + ec.message() : "";
}

// The primary config: the first .conflist or .conf by name (as kubelet/containerd choose it).
std::optional<fs::path> primaryConfig(const std::string& net_dir, std::string& error) {
  std::vector<fs::path> files;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(net_dir, ec)) {
    auto ext = e.path().extension().string();
    if (e.is_regular_file() && (ext == ".conflist" || ext == ".conf")) files.push_back(e.path());
  }
  if (ec) {
    error = "cannot read the CNI config directory " + net_dir + ": " + ec.message();
    return std::nullopt;
  }
  if (files.empty()) {
    error = "no CNI network config (*.conflist, *.conf) in " + net_dir + " yet";
    return std::nullopt;
  }
  std::sort(files.begin(), files.end());
  return files.front();
}

bool isWeft(const json& p) { return p.is_object() && p.value("type", "") == "weft-cni"; }

InstallResult edit(const std::string& net_dir, const std::function<bool(json& plugins)>& change) {
  InstallResult r;
  auto file = primaryConfig(net_dir, r.error);
  if (!file) return r;
  std::string text;
  if (!readFile(*file, text)) {
    r.error = "cannot read " + file->string();
    return r;
  }
  json conf = json::parse(text, nullptr, false);
  if (conf.is_discarded() || !conf.is_object()) {
    r.error = file->string() + " is not a JSON object";
    return r;
  }
  bool single = file->extension() == ".conf";
  if (single) {  // one plugin: the chain it would be
    json list = {{"cniVersion", conf.value("cniVersion", "0.3.1")}, {"name", conf.value("name", "k8s-pod-network")}};
    list["plugins"] = json::array({conf});
    conf = std::move(list);
  }
  if (!conf.contains("plugins") || !conf["plugins"].is_array()) {
    r.error = file->string() + " has no \"plugins\" list";
    return r;
  }
  r.changed = change(conf["plugins"]) || single;
  fs::path out = *file;
  if (single) out.replace_extension(".conflist");
  r.file = out.string();
  if (!r.changed) return r;
  r.error = writeAtomically(out, conf.dump(2) + "\n");
  if (r.error.empty() && single) {
    std::error_code ec;
    fs::remove(*file, ec);
  }
  return r;
}

}  // namespace

InstallResult addToChain(const std::string& net_dir, const json& plugin) {
  return edit(net_dir, [&](json& plugins) {
    for (auto& p : plugins) {
      if (!isWeft(p)) continue;
      if (p == plugin) return false;
      p = plugin;
      return true;
    }
    plugins.push_back(plugin);
    return true;
  });
}

InstallResult removeFromChain(const std::string& net_dir) {
  return edit(net_dir, [](json& plugins) {
    auto before = plugins.size();
    json kept = json::array();
    for (auto& p : plugins)
      if (!isWeft(p)) kept.push_back(std::move(p));
    plugins = std::move(kept);
    return plugins.size() != before;
  });
}

std::string inClusterKubeconfig(const std::string& secrets_dir, std::string& error) {
  kube::ApiServer server;
  try {
    server = kube::inClusterApiServer(secrets_dir);
  } catch (const ConfigError& e) {
    error = e.what();
    return {};
  }
  // JSON is YAML: the kubeconfig is written as JSON.
  json cfg = {{"apiVersion", "v1"},
              {"kind", "Config"},
              {"current-context", "weft-cni"},
              {"clusters", {{{"name", "local"}, {"cluster", {{"server", server.url()}}}}}},
              {"users", {{{"name", "weft-cni"}, {"user", {{"token", server.bearerToken()}}}}}},
              {"contexts", {{{"name", "weft-cni"}, {"context", {{"cluster", "local"}, {"user", "weft-cni"}}}}}}};
  cfg["clusters"][0]["cluster"]["certificate-authority-data"] = base64Encode(server.ca_pem);
  return cfg.dump(2) + "\n";
}

}  // namespace weft::capture
