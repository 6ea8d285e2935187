#pragma once
// Where the Kubernetes API server is and how to authenticate to it, as client-go finds it:
// in a pod from the service account (KUBERNETES_SERVICE_HOST/PORT, its token and CA), or from
// a kubeconfig file (its current context, or a named one).
#include <string>

#include "common/config/error.h"

namespace weft::kube {

struct ApiServer {
  bool tls = true;
  std::string host;
  std::string port;
  std::string ca_pem;                 // verify the server against this; empty: the system's roots
  bool insecure_skip_verify = false;  // kubeconfig's insecure-skip-tls-verify
  std::string token;                  // bearer token, or
  std::string token_file;             // a file re-read for each request (projected tokens rotate)
  std::string client_cert_pem;
  std::string client_key_pem;

  std::string url() const;          // "https://host:port", for messages
  std::string bearerToken() const;  // token, or token_file's content (empty when neither)
};

// In a pod: KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT and
// /var/run/secrets/kubernetes.io/serviceaccount/{token,ca.crt} (`secrets_dir` for tests).
// Throws ConfigError naming what is missing.
ApiServer inClusterApiServer(const std::string& secrets_dir = "/var/run/secrets/kubernetes.io/serviceaccount");

// A kubeconfig file: `context` or its current-context. Supports server, certificate-authority
// (-data), insecure-skip-tls-verify, token, tokenFile, client-certificate(-data) and
// client-key(-data); exec and auth-provider plugins are refused by name. Throws ConfigError.
ApiServer kubeconfigApiServer(const std::string& path, const std::string& context = {});

// Parses "https://host:port" / "http://host:port" (a server URL of a kubeconfig) into `out`.
void setServerUrl(const std::string& url, ApiServer& out);

}  // namespace weft::kube
