#pragma once
// What the HTTP and TCP code needs of the worker thread that runs it: its event loop, its
// view of clusters and route tables, randomness, the date header, access logging and the
// session list. The server's Worker implements it; nothing under proxy/http, proxy/network
// or proxy/upstream sees more of the server than this.
#include <memory>
#include <string>
#include <string_view>

#include "common/event/reactor.h"
#include "common/net/connection.h"
#include "common/random.h"

namespace weft::proxy {

struct StreamInfo;
namespace access_log {
class AccessLogger;
}
namespace http {
class RouteTable;
}
namespace network {
class ActiveSession;
class ListenerConfig;
}  // namespace network
namespace upstream {
class WorkerCluster;
}
namespace runtime {
class Snapshot;
}

class WorkerContext {
 public:
  virtual ~WorkerContext() = default;
  virtual event::Reactor& reactor() = 0;
  virtual Random& random() = 0;
  // The current runtime (layered_runtime and admin overrides).
  virtual const runtime::Snapshot& runtime() const = 0;
  // `high`: the cluster as routes with priority HIGH use it (its HIGH circuit breakers, its own
  // connection pools), as Envoy keeps a resource manager and pools per priority.
  virtual std::shared_ptr<upstream::WorkerCluster> cluster(std::string_view name, bool high = false) = 0;
  // An RDS route table of the current configuration, or null while it has not arrived.
  virtual std::shared_ptr<const http::RouteTable> routeTable(const std::string& name) const = 0;
  // use_original_dst hand-off: the listener for this address, or null.
  virtual std::shared_ptr<const network::ListenerConfig> listenerForAddress(const net::Address& addr) const = 0;
  // "date" header value, refreshed once a second.
  virtual std::string_view httpDate() = 0;
  // Connections close after their current request (drain, or a failed health check).
  virtual bool drainClose() const = 0;
  virtual void addSession(network::ActiveSession* s) = 0;
  virtual void removeSession(network::ActiveSession* s) = 0;  // unlinks and defers deletion
  // Keeps a closing connection alive until its output is flushed (or 5 s pass).
  virtual void lingerClose(std::unique_ptr<net::Connection> conn) = 0;
  virtual void writeAccessLog(const access_log::AccessLogger& logger, const StreamInfo& info) = 0;
};

}  // namespace weft::proxy
