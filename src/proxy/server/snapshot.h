#pragma once
// One immutable configuration as the workers see it. The main thread builds a new Snapshot
// for every change and posts it; nothing in it is modified afterwards.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "proxy/http/route_table.h"
#include "proxy/network/listener_config.h"
#include "proxy/upstream/cluster_config.h"

namespace weft::proxy::server {

// One SO_REUSEPORT socket per worker, bound by the main thread; closed when the last
// snapshot using them is gone.
struct SocketSet {
  std::vector<int> fds;
  ~SocketSet();
};

struct ListenerSockets {
  std::shared_ptr<const network::ListenerConfig> config;
  std::shared_ptr<SocketSet> sockets;  // null: bind_to_port false
};

struct Snapshot {
  std::vector<ListenerSockets> listeners;
  std::map<std::string, std::shared_ptr<const upstream::ClusterConfig>> clusters;
  // Current hosts of clusters whose membership is discovered at run time (DNS).
  std::map<std::string, std::shared_ptr<const upstream::HostSet>> hosts;
  // RDS route configurations by name.
  std::map<std::string, std::shared_ptr<const http::RouteTable>> routes;
};

}  // namespace weft::proxy::server
