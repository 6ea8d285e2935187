#pragma once
// Network filters register here by name and config type, as HTTP filters do
// (proxy/http/filter_registry.h): the factory compiles a filter chain's terminal filter
// (envoy.filters.network.http_connection_manager, envoy.filters.network.tcp_proxy) and the
// compiled filter starts a session for each accepted connection. Filters before the terminal
// one are gates (envoy.filters.network.rbac): each decides once whether the connection goes on
// to the next filter. Registration is one line in the filter's own .cc:
// WEFT_REGISTER_NETWORK_FILTER(MyFactory).
#include <google/protobuf/any.pb.h>

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/net/connection.h"
#include "common/stats/stats.h"
#include "proxy/config/supported_fields.h"
#include "proxy/network/session_observer.h"
#include "proxy/worker_context.h"

namespace weft::proxy::network {

class NetworkFilter {
 public:
  virtual ~NetworkFilter() = default;
  // Serves an accepted connection: the session is made, tagged with `listener` (identity, for
  // draining on an update), added to the worker and started.
  virtual void startSession(WorkerContext& worker, std::unique_ptr<net::Connection> conn,
                            std::shared_ptr<stats::Scope> listener_stats, const void* listener) const = 0;
  // The RDS route configuration it needs before it can serve; empty: none.
  virtual std::string_view rdsName() const { return {}; }
  // Clusters its own config names, each with the config path that names it.
  virtual std::vector<std::pair<std::string, std::string>> referencedClusters(const std::string& path) const = 0;
};

// What a filter is compiled with, besides its own config.
struct NetworkFilterContext {
  stats::Store& store;
  bool inbound = false;                       // the listener's traffic_direction is INBOUND
  std::shared_ptr<const NetworkFilter> next;  // for a gate: the filter after it
  // For the terminal filter: what the chain's watching filters want to hear about each session.
  std::vector<std::shared_ptr<const SessionObserver>> observers;
};

class NetworkFilterFactory {
 public:
  virtual ~NetworkFilterFactory() = default;
  virtual std::string_view name() const = 0;
  virtual std::vector<std::string_view> configTypes() const = 0;
  virtual config::FieldTable supportedFields() const = 0;
  // Whether the filter ends a chain; a gate (false) hands the connection to `next`.
  virtual bool terminal() const { return true; }
  // A filter that only watches sessions: compileObserver instead of compile.
  virtual bool observer() const { return false; }
  virtual std::shared_ptr<const SessionObserver> compileObserver(const google::protobuf::Any&, const std::string&,
                                                                 const NetworkFilterContext&) const {
    return nullptr;
  }
  // Throws ConfigError naming `path`.
  virtual std::shared_ptr<const NetworkFilter> compile(const google::protobuf::Any& config, const std::string& path,
                                                       const NetworkFilterContext& ctx) const = 0;
};

// By the config's type (type URL or full name); null when unknown.
const NetworkFilterFactory* findNetworkFilter(std::string_view type_url);
// By a typed_config's type; a TypedStruct by the type it names.
const NetworkFilterFactory* findNetworkFilter(const google::protobuf::Any& typed_config);
void registerNetworkFilter(const NetworkFilterFactory* factory);

template <typename F>
struct NetworkFilterRegistration {
  NetworkFilterRegistration() {
    static const F factory;
    registerNetworkFilter(&factory);
  }
};

#define WEFT_REGISTER_NETWORK_FILTER(F) \
  static const ::weft::proxy::network::NetworkFilterRegistration<F> weft_registered_##F

}  // namespace weft::proxy::network
