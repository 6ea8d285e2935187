#include "common/kube/api_server.h"

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/base64.h"

namespace weft::kube {

namespace {

bool readFile(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::stringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  return true;
}

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

// A kubeconfig entry list ("clusters", "users", "contexts"): the `field` of the item `name`.
YAML::Node namedEntry(const YAML::Node& root, const char* list, const char* field, const std::string& name,
                      const std::string& where) {
  YAML::Node items = root[list];
  for (size_t i = 0; items && items.IsSequence() && i < items.size(); ++i) {
    if (items[i]["name"] && items[i]["name"].as<std::string>() == name) {
      YAML::Node n = items[i][field];
      if (!n || !n.IsMap()) throw ConfigError(where + ": " + list + "[" + std::to_string(i) + "] has no " + field);
      return n;
    }
  }
  throw ConfigError(where + ": no entry named '" + name + "' in " + list);
}

std::string scalar(const YAML::Node& map, const char* key) {
  YAML::Node n = map[key];
  return n && n.IsScalar() ? n.as<std::string>() : std::string();
}

// `<key>-data` (base64) or `<key>` (a file, relative to the kubeconfig's directory).
std::string pemOf(const YAML::Node& map, const std::string& key, const std::filesystem::path& base,
                  const std::string& where) {
  std::string data = scalar(map, (key + "-data").c_str());
  if (!data.empty()) {
    auto decoded = base64Decode(data);
    if (!decoded) throw ConfigError(where + ": " + key + "-data is not base64");
    return *decoded;
  }
  std::string file = scalar(map, key.c_str());
  if (file.empty()) return {};
  std::filesystem::path p(file);
  if (p.is_relative()) p = base / p;
  std::string pem;
  if (!readFile(p.string(), pem)) throw ConfigError(where + ": " + key + ": cannot read '" + p.string() + "'");
  return pem;
}

}  // namespace

std::string ApiServer::url() const {
  bool v6 = host.find(':') != std::string::npos;
  return std::string(tls ? "https://" : "http://") + (v6 ? "[" + host + "]" : host) + ":" + port;
}

std::string ApiServer::bearerToken() const {
  if (!token.empty() || token_file.empty()) return token;
  std::string t;
  readFile(token_file, t);
  return trimmed(t);
}

void setServerUrl(const std::string& url, ApiServer& out) {
  auto scheme_end = url.find("://");
  std::string scheme = scheme_end == std::string::npos ? "" : url.substr(0, scheme_end);
  if (scheme != "http" && scheme != "https") throw ConfigError("server '" + url + "' is not an http(s) URL");
  out.tls = scheme == "https";
  std::string authority = url.substr(scheme_end + 3);
  authority = authority.substr(0, authority.find('/'));
  std::string port;
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string::npos) throw ConfigError("server '" + url + "': unclosed '['");
    out.host = authority.substr(1, close - 1);
    if (close + 1 < authority.size() && authority[close + 1] == ':') port = authority.substr(close + 2);
  } else {
    auto colon = authority.rfind(':');
    out.host = authority.substr(0, colon);
    if (colon != std::string::npos) port = authority.substr(colon + 1);
  }
  if (out.host.empty()) throw ConfigError("server '" + url + "' has no host");
  out.port = port.empty() ? (out.tls ? "443" : "80") : port;
}

ApiServer inClusterApiServer(const std::string& secrets_dir) {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  if (!host || !*host || !port || !*port)
    throw ConfigError("not in a Kubernetes pod: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set");
  ApiServer s;
  s.host = host;
  s.port = port;
  s.token_file = secrets_dir + "/token";
  std::string token;
  if (!readFile(s.token_file, token) || trimmed(token).empty())
    throw ConfigError("in-cluster config: cannot read the service account token '" + s.token_file + "'");
  if (!readFile(secrets_dir + "/ca.crt", s.ca_pem))
    throw ConfigError("in-cluster config: cannot read the cluster CA '" + secrets_dir + "/ca.crt'");
  return s;
}

ApiServer kubeconfigApiServer(const std::string& path, const std::string& context) {
  std::string text;
  if (!readFile(path, text)) throw ConfigError("--kubeconfig: cannot read '" + path + "'");
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw ConfigError(path + ": YAML error at line " + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  if (!root.IsMap()) throw ConfigError(path + ": not a kubeconfig (a YAML map)");
  std::string ctx_name = context.empty() ? scalar(root, "current-context") : context;
  if (ctx_name.empty()) throw ConfigError(path + ": no current-context, and no context was named");
  YAML::Node ctx = namedEntry(root, "contexts", "context", ctx_name, path);
  std::string cluster_name = scalar(ctx, "cluster");
  std::string user_name = scalar(ctx, "user");
  YAML::Node cluster = namedEntry(root, "clusters", "cluster", cluster_name, path);
  auto base = std::filesystem::path(path).parent_path();
  ApiServer s;
  try {
    setServerUrl(scalar(cluster, "server"), s);
  } catch (const ConfigError& e) {
    throw ConfigError(path + ": cluster '" + cluster_name + "': " + e.what());
  }
  s.ca_pem = pemOf(cluster, "certificate-authority", base, path);
  s.insecure_skip_verify = scalar(cluster, "insecure-skip-tls-verify") == "true";
  if (!user_name.empty()) {
    YAML::Node user = namedEntry(root, "users", "user", user_name, path);
    if (user["exec"] || user["auth-provider"])
      throw ConfigError(path + ": user '" + user_name +
                        "': exec and auth-provider credential plugins are not supported by weft; use a token or a "
                        "client certificate");
    s.token = scalar(user, "token");
    std::string token_file = scalar(user, "tokenFile");
    if (!token_file.empty()) {
      std::filesystem::path p(token_file);
      s.token_file = (p.is_relative() ? base / p : p).string();
    }
    s.client_cert_pem = pemOf(user, "client-certificate", base, path);
    s.client_key_pem = pemOf(user, "client-key", base, path);
    if (s.client_cert_pem.empty() != s.client_key_pem.empty())
      throw ConfigError(path + ": user '" + user_name + "' has a client certificate without its key, or a key alone");
  }
  return s;
}

}  // namespace weft::kube
