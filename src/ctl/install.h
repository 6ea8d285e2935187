#pragma once
// `weftctl install`: the manifests of manifests/ (built into weftctl), printed (--dry-run) or
// applied to the cluster of a kubeconfig with server-side apply (field manager "weftctl").
#include <ostream>
#include <string>
#include <vector>

namespace weft::ctl {

struct ManifestFile {
  const char* name;
  const char* text;
};
const std::vector<ManifestFile>& manifestFiles();  // generated from manifests/

struct InstallOptions {
  bool dry_run = false;
  std::string kubeconfig;  // empty: $KUBECONFIG, else ~/.kube/config
  std::string context;
};

int install(const InstallOptions& options, std::ostream& out, std::ostream& err);

// The API path of an object for server-side apply, or "" for a kind install does not know.
std::string applyPath(const std::string& api_version, const std::string& kind, const std::string& ns,
                      const std::string& name);

}  // namespace weft::ctl
