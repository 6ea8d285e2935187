#include "ctl/install.h"

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <map>

#include "common/config/yaml_typed.h"
#include "common/kube/api_client.h"

namespace weft::ctl {

namespace {

struct KindInfo {
  const char* plural;
  bool namespaced;
};

// The kinds manifests/ holds.
const std::map<std::string, KindInfo>& kinds() {
  static const std::map<std::string, KindInfo> k = {
      {"Namespace", {"namespaces", false}},
      {"ServiceAccount", {"serviceaccounts", true}},
      {"ConfigMap", {"configmaps", true}},
      {"Service", {"services", true}},
      {"Deployment", {"deployments", true}},
      {"DaemonSet", {"daemonsets", true}},
      {"ClusterRole", {"clusterroles", false}},
      {"ClusterRoleBinding", {"clusterrolebindings", false}},
      {"Role", {"roles", true}},
      {"RoleBinding", {"rolebindings", true}},
      {"CustomResourceDefinition", {"customresourcedefinitions", false}},
      {"MutatingWebhookConfiguration", {"mutatingwebhookconfigurations", false}},
      {"ValidatingWebhookConfiguration", {"validatingwebhookconfigurations", false}},
  };
  return k;
}

std::string defaultKubeconfig() {
  if (const char* env = std::getenv("KUBECONFIG"); env && *env) {
    std::string s(env);
    return s.substr(0, s.find(':'));  // the first of a list
  }
  const char* home = std::getenv("HOME");
  return std::string(home ? home : "") + "/.kube/config";
}

}  // namespace

std::string applyPath(const std::string& api_version, const std::string& kind, const std::string& ns,
                      const std::string& name) {
  auto it = kinds().find(kind);
  if (it == kinds().end() || name.empty()) return {};
  std::string path = api_version.find('/') == std::string::npos ? "/api/" + api_version : "/apis/" + api_version;
  if (it->second.namespaced) path += "/namespaces/" + (ns.empty() ? std::string("default") : ns);
  return path + "/" + it->second.plural + "/" + name + "?fieldManager=weftctl&force=true";
}

int install(const InstallOptions& options, std::ostream& out, std::ostream& err) {
  if (options.dry_run) {
    for (const auto& f : manifestFiles()) out << "# manifests/" << f.name << "\n" << f.text << "---\n";
    return 0;
  }
  std::optional<weft::kube::ApiClient> client;
  try {
    client.emplace(weft::kube::kubeconfigApiServer(
        options.kubeconfig.empty() ? defaultKubeconfig() : options.kubeconfig, options.context));
  } catch (const ConfigError& e) {
    err << "weftctl install: " << e.what() << "\n";
    return 1;
  }
  int failures = 0;
  for (const auto& f : manifestFiles()) {
    std::vector<YAML::Node> docs;
    try {
      docs = YAML::LoadAll(f.text);
    } catch (const YAML::Exception& e) {
      err << "weftctl install: manifests/" << f.name << ": " << e.what() << "\n";
      return 1;
    }
    for (const auto& doc : docs) {
      if (!doc || doc.IsNull()) continue;
      nlohmann::json obj = weft::config::yamlToTypedJson(doc);
      std::string kind = obj.value("kind", ""), api = obj.value("apiVersion", "");
      std::string ns = obj["metadata"].value("namespace", ""), name = obj["metadata"].value("name", "");
      std::string what = kind + " " + (ns.empty() ? "" : ns + "/") + name;
      std::string path = applyPath(api, kind, ns, name);
      if (path.empty()) {
        err << "weftctl install: manifests/" << f.name << ": " << what << ": a kind install cannot apply\n";
        return 1;
      }
      weft::kube::Request req;
      req.method = "PATCH";
      req.target = path;
      req.content_type = "application/apply-patch+yaml";
      req.body = obj.dump();  // JSON is YAML
      auto resp = client->callSync(req);
      if (!resp.error.empty() || !resp.ok()) {
        err << "weftctl install: " << what << ": "
            << (!resp.error.empty() ? resp.error
                                    : "HTTP " + std::to_string(resp.status) + " " + resp.body.substr(0, 400))
            << "\n";
        failures++;
        continue;
      }
      out << what << " applied\n";
    }
  }
  return failures ? 1 : 0;
}

}  // namespace weft::ctl
