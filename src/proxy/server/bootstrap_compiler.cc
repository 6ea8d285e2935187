#include "proxy/server/bootstrap_compiler.h"

#include <google/protobuf/descriptor.h>

#include <set>

#include "common/config/error.h"
#include "common/config/yaml_json.h"
#include "proxy/config/field_support.h"

namespace weft::proxy::server {

envoy::config::bootstrap::v3::Bootstrap loadBootstrap(const std::string& path) {
  const std::string header = path + ": configuration uses what weft-proxy does not implement:\n";
  std::string json = weft::config::readFileAsJson(path);
  // An Any of a type weft-proxy was not built with fails protobuf's parser with a path
  // relative to the Any: name it here as field_support names a known-but-unsupported one.
  std::string unknown;
  for (const auto& a : weft::config::anyTypes(json)) {
    if (google::protobuf::DescriptorPool::generated_pool()->FindMessageTypeByName(a.type) != nullptr) continue;
    unknown += (unknown.empty() ? "" : "\n") + config::unsupportedTypeError(a.path, a.type, a.owner_name);
  }
  if (!unknown.empty()) throw ConfigError(header + unknown);
  envoy::config::bootstrap::v3::Bootstrap b;
  weft::config::jsonToMessage(json, b, path);
  try {
    config::requireSupportedFields(b, "");
  } catch (const ConfigError& e) {
    throw ConfigError(header + e.what());
  }
  return b;
}

CompiledBootstrap compileBootstrap(const envoy::config::bootstrap::v3::Bootstrap& b, stats::Store& store,
                                   tls::SdsSecrets* sds) {
  CompiledBootstrap out;
  out.bootstrap = b;
  if (b.has_admin() && b.admin().has_address()) {
    const auto& sa = b.admin().address().socket_address();
    auto addr = net::Address::parse(sa.address(), static_cast<uint16_t>(sa.port_value()));
    if (!addr) throw ConfigError("admin.address.socket_address.address: '" + sa.address() + "' is not an IP address");
    out.admin_address = addr;
  }
  const auto& sr = b.static_resources();
  std::set<std::string> cluster_names;
  for (int i = 0; i < sr.clusters_size(); ++i) {
    std::string path = "static_resources.clusters[" + std::to_string(i) + "]";
    auto c = upstream::compileCluster(sr.clusters(i), path, store, sds);
    if (!cluster_names.insert(c->name).second)
      throw ConfigError(path + ".name: duplicate cluster name '" + c->name + "'");
    out.clusters.push_back(std::move(c));
  }
  std::set<std::string> listener_names;
  for (int i = 0; i < sr.listeners_size(); ++i) {
    std::string path = "static_resources.listeners[" + std::to_string(i) + "]";
    auto l = network::compileListener(sr.listeners(i), path, store, sds);
    if (!listener_names.insert(l->name).second)
      throw ConfigError(path + ".name: duplicate listener name '" + l->name + "'");
    // Clusters named by routes and tcp_proxy must exist in a static configuration.
    auto check_chain = [&](const network::FilterChain& fc, const std::string& cpath) {
      for (const auto& [cluster, where] : fc.filter->referencedClusters(cpath + ".filters[0].typed_config")) {
        if (!cluster_names.count(cluster)) throw ConfigError(where + ": unknown cluster '" + cluster + "'");
      }
    };
    for (size_t ci = 0; ci < l->chains.size(); ++ci)
      check_chain(l->chains[ci], path + ".filter_chains[" + std::to_string(ci) + "]");
    if (l->default_chain) check_chain(*l->default_chain, path + ".default_filter_chain");
    out.listeners.push_back(std::move(l));
  }
  return out;
}

}  // namespace weft::proxy::server
