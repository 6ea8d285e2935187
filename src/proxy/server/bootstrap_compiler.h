#pragma once
// Bootstrap file -> checked, compiled configuration: every unsupported field is refused
// with its path, every listener and cluster compiled, every cluster a route names must exist.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/net/address.h"
#include "common/stats/stats.h"
#include "envoy/config/bootstrap/v3/bootstrap.pb.h"
#include "proxy/network/listener_config.h"
#include "proxy/upstream/cluster_config.h"

namespace weft::proxy::server {

struct CompiledBootstrap {
  envoy::config::bootstrap::v3::Bootstrap bootstrap;
  std::optional<net::Address> admin_address;
  std::vector<std::shared_ptr<const network::ListenerConfig>> listeners;
  std::vector<std::shared_ptr<const upstream::ClusterConfig>> clusters;
};

// Throws ConfigError with every problem found (one per line).
envoy::config::bootstrap::v3::Bootstrap loadBootstrap(const std::string& path);
// `sds`: where TLS contexts that use SDS secrets subscribe (null: such contexts are refused).
CompiledBootstrap compileBootstrap(const envoy::config::bootstrap::v3::Bootstrap& bootstrap, stats::Store& store,
                                   tls::SdsSecrets* sds = nullptr);

}  // namespace weft::proxy::server
