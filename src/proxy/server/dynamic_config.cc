#include "proxy/server/dynamic_config.h"

#include <spdlog/spdlog.h>

#include <chrono>

#include <google/protobuf/util/message_differencer.h>

#include "common/config/error.h"
#include "envoy/config/endpoint/v3/endpoint.pb.h"
#include "proxy/config/field_support.h"

namespace weft::proxy::server {

namespace {
google::protobuf::Timestamp now() {
  google::protobuf::Timestamp ts;
  auto ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  ts.set_seconds(ns / 1000000000);
  ts.set_nanos(static_cast<int32_t>(ns % 1000000000));
  return ts;
}

// One message per rejected resource: "Cluster 'x': path: reason".
std::string rejection(const std::string& kind, const std::string& name, const std::string& why) {
  // Paths inside a resource are compiled from an empty root: ".virtual_hosts[0]..." -> "virtual_hosts[0]...".
  return kind + " '" + name + "': " + (why.rfind('.', 0) == 0 ? why.substr(1) : why);
}

std::string firstLines(const std::string& text) {
  std::string out = text;
  for (char& c : out) {
    if (c == '\n') c = ';';
  }
  return out;
}
}  // namespace

DynamicConfig::DynamicConfig(stats::Store& store, Bind bind, std::function<void()> on_change,
                             std::set<std::string> static_clusters, std::set<std::string> static_listeners,
                             tls::SdsSecrets* sds)
    : store_(store),
      sds_(sds),
      bind_(std::move(bind)),
      on_change_(std::move(on_change)),
      static_clusters_(std::move(static_clusters)),
      static_listeners_(std::move(static_listeners)) {}

std::vector<std::string> DynamicConfig::apply(const std::string& type,
                                              const std::vector<const google::protobuf::Any*>& r,
                                              const std::string& version) {
  std::vector<std::string> errors;
  if (type == xds::kClusterType)
    errors = applyClusters(r, version);
  else if (type == xds::kEndpointType)
    errors = applyEndpoints(r);
  else if (type == xds::kListenerType)
    errors = applyListeners(r, version);
  else if (type == xds::kRouteType)
    errors = applyRoutes(r, version);
  on_change_();
  return errors;
}

std::vector<std::string> DynamicConfig::applyClusters(const std::vector<const google::protobuf::Any*>& resources,
                                                      const std::string& version) {
  std::vector<std::string> errors;
  std::set<std::string> present;
  for (const auto* any : resources) {
    envoy::config::cluster::v3::Cluster c;
    if (!any->UnpackTo(&c)) {
      errors.push_back("a Cluster that does not decode");
      continue;
    }
    present.insert(c.name());
    if (static_clusters_.count(c.name())) {
      errors.push_back(rejection("Cluster", c.name(), "a static cluster of the same name exists"));
      continue;
    }
    auto it = clusters_.find(c.name());
    if (it != clusters_.end() && google::protobuf::util::MessageDifferencer::Equals(it->second.proto, c)) {
      it->second.version = version;
      continue;  // unchanged: keep the compiled cluster (and its connection pools)
    }
    try {
      config::requireSupportedFields(c, "");
      auto compiled = upstream::compileCluster(c, "", store_, sds_);
      clusters_[c.name()] = {c, compiled, version, now(), nullptr};
    } catch (const ConfigError& e) {
      errors.push_back(rejection("Cluster", c.name(), firstLines(e.what())));
    }
  }
  // State of the world: a cluster left out of the response is gone.
  for (auto it = clusters_.begin(); it != clusters_.end();) {
    it = present.count(it->first) ? std::next(it) : clusters_.erase(it);
  }
  got_clusters_ = true;
  return errors;
}

namespace {
uint32_t edsHealthFlags(envoy::config::core::v3::HealthStatus hs) {
  switch (hs) {
    case envoy::config::core::v3::UNHEALTHY:
    case envoy::config::core::v3::TIMEOUT:
      return upstream::health::kFailedEdsHealth;
    case envoy::config::core::v3::DRAINING:
      return upstream::health::kEdsDraining;
    default:
      return 0;
  }
}
}  // namespace

std::vector<std::string> DynamicConfig::applyEndpoints(const std::vector<const google::protobuf::Any*>& resources) {
  std::vector<std::string> errors;
  for (const auto* any : resources) {
    envoy::config::endpoint::v3::ClusterLoadAssignment cla;
    if (!any->UnpackTo(&cla)) {
      errors.push_back("a ClusterLoadAssignment that does not decode");
      continue;
    }
    std::vector<std::shared_ptr<const upstream::Host>> hosts;
    std::vector<uint32_t> eds_flags;
    std::vector<upstream::LocalityWeight> locality_weights;
    uint32_t overprovisioning = 140;
    std::string error;
    try {
      overprovisioning = upstream::overprovisioningFactor(cla, "");
      for (int li = 0; li < cla.endpoints_size(); ++li)
        locality_weights.push_back(
            upstream::localityWeightOf(cla.endpoints(li), "endpoints[" + std::to_string(li) + "]"));
    } catch (const ConfigError& e) {
      error = e.what();
      if (!error.empty() && error[0] == '.') error.erase(0, 1);
    }
    for (int li = 0; li < cla.endpoints_size() && error.empty(); ++li) {
      const auto& loc = cla.endpoints(li);
      for (int ei = 0; ei < loc.lb_endpoints_size() && error.empty(); ++ei) {
        const auto& lbe = loc.lb_endpoints(ei);
        const auto& sa = lbe.endpoint().address().socket_address();
        auto addr = net::Address::parse(sa.address(), static_cast<uint16_t>(sa.port_value()));
        if (!addr || sa.port_value() == 0 || sa.port_value() > 65535) {
          error = "endpoints[" + std::to_string(li) + "].lb_endpoints[" + std::to_string(ei) + "].endpoint.address: '" +
                  sa.address() + ":" + std::to_string(sa.port_value()) + "' is not IP:port";
          break;
        }
        uint32_t weight = lbe.has_load_balancing_weight() ? lbe.load_balancing_weight().value() : 1;
        auto host = upstream::makeHost(*addr, weight ? weight : 1, cla.cluster_name(), "", store_.rows());
        host->priority = locality_weights[static_cast<size_t>(li)].priority;
        host->locality = locality_weights[static_cast<size_t>(li)].locality;
        host->socket_match = upstream::socketMatchMetadata(lbe.metadata());
        hosts.push_back(std::move(host));
        eds_flags.push_back(edsHealthFlags(lbe.health_status()));
      }
    }
    if (!error.empty()) {
      errors.push_back(rejection("ClusterLoadAssignment", cla.cluster_name(), error));
      continue;
    }
    // Keep Host objects (stats, health, outlier state) for endpoints that did not change.
    auto old = endpoints_.find(cla.cluster_name());
    auto set = upstream::keepKnownHosts(std::move(hosts), old != endpoints_.end() ? old->second.get() : nullptr,
                                        std::move(locality_weights), overprovisioning);
    // EDS health_status: UNHEALTHY, TIMEOUT and DRAINING hosts stay members but get no new
    // requests (they count in the panic threshold, as Envoy's).
    for (size_t i = 0; i < set->hosts.size(); ++i) {
      for (uint32_t f : {uint32_t{upstream::health::kFailedEdsHealth}, uint32_t{upstream::health::kEdsDraining}}) {
        upstream::health::set(set->hosts[i]->health_flags, f, (eds_flags[i] & f) != 0);
      }
    }
    endpoints_[cla.cluster_name()] = std::move(set);
  }
  return errors;
}

std::vector<std::string> DynamicConfig::applyListeners(const std::vector<const google::protobuf::Any*>& resources,
                                                       const std::string& version) {
  std::vector<std::string> errors;
  std::set<std::string> present;
  for (const auto* any : resources) {
    envoy::config::listener::v3::Listener l;
    if (!any->UnpackTo(&l)) {
      errors.push_back("a Listener that does not decode");
      continue;
    }
    present.insert(l.name());
    if (static_listeners_.count(l.name())) {
      errors.push_back(rejection("Listener", l.name(), "a static listener of the same name exists"));
      continue;
    }
    auto it = listeners_.find(l.name());
    if (it != listeners_.end() && google::protobuf::util::MessageDifferencer::Equals(it->second.proto, l)) {
      it->second.version = version;
      continue;
    }
    try {
      config::requireSupportedFields(l, "");
      auto compiled = network::compileListener(l, "", store_, sds_);
      std::shared_ptr<SocketSet> sockets;
      if (compiled->bind_to_port) {
        // A listener that keeps its address keeps its sockets: no connection is refused
        // while its filter chains change.
        if (it != listeners_.end() && it->second.compiled->address == compiled->address) {
          sockets = it->second.sockets;
        } else {
          std::string err;
          sockets = bind_(*compiled, &err);
          if (!sockets) throw ConfigError(err);
        }
      }
      listeners_[l.name()] = {l, compiled, version, now(), sockets};
    } catch (const ConfigError& e) {
      errors.push_back(rejection("Listener", l.name(), firstLines(e.what())));
    }
  }
  for (auto it = listeners_.begin(); it != listeners_.end();) {
    it = present.count(it->first) ? std::next(it) : listeners_.erase(it);
  }
  got_listeners_ = true;
  return errors;
}

std::vector<std::string> DynamicConfig::applyRoutes(const std::vector<const google::protobuf::Any*>& resources,
                                                    const std::string& version) {
  std::vector<std::string> errors;
  for (const auto* any : resources) {
    envoy::config::route::v3::RouteConfiguration rc;
    if (!any->UnpackTo(&rc)) {
      errors.push_back("a RouteConfiguration that does not decode");
      continue;
    }
    try {
      config::requireSupportedFields(rc, "");
      routes_[rc.name()] = {rc, http::RouteTable::compile(rc, "", &store_), version, now(), nullptr};
    } catch (const ConfigError& e) {
      errors.push_back(rejection("RouteConfiguration", rc.name(), firstLines(e.what())));
    }
  }
  return errors;
}

std::vector<std::string> DynamicConfig::wantedNames(const std::string& type) const {
  std::set<std::string> names;
  if (type == xds::kEndpointType) {
    for (const auto& [n, e] : clusters_) {
      if (e.compiled->type == upstream::ClusterConfig::Type::Eds) names.insert(e.compiled->eds_service_name);
    }
  } else if (type == xds::kRouteType) {
    for (const auto& [n, e] : listeners_) {
      for (const auto& fc : e.compiled->chains) {
        if (!fc.filter->rdsName().empty()) names.insert(std::string(fc.filter->rdsName()));
      }
      if (e.compiled->default_chain && !e.compiled->default_chain->filter->rdsName().empty()) {
        names.insert(std::string(e.compiled->default_chain->filter->rdsName()));
      }
    }
  }
  return {names.begin(), names.end()};
}

size_t DynamicConfig::warmingClusters() const {
  size_t n = 0;
  for (const auto& [name, e] : clusters_) n += !clusterWarm(*e.compiled);
  return n;
}

bool DynamicConfig::clusterWarm(const upstream::ClusterConfig& c) const {
  if (!c.tlsReady()) return false;
  return c.type != upstream::ClusterConfig::Type::Eds || endpoints_.count(c.eds_service_name) > 0;
}

bool DynamicConfig::listenerWarm(const network::ListenerConfig& l) const {
  auto ready = [&](const network::FilterChain& fc) {
    if (fc.tls && !fc.tls->ready()) return false;
    std::string_view rds = fc.filter->rdsName();
    return rds.empty() || routes_.count(std::string(rds));
  };
  for (const auto& fc : l.chains) {
    if (!ready(fc)) return false;
  }
  return !l.default_chain || ready(*l.default_chain);
}

void DynamicConfig::fill(Snapshot& snap) const {
  for (const auto& [name, e] : clusters_) {
    if (!clusterWarm(*e.compiled)) continue;
    snap.clusters[name] = e.compiled;
    if (e.compiled->type == upstream::ClusterConfig::Type::Eds)
      snap.hosts[name] = endpoints_.at(e.compiled->eds_service_name);
  }
  for (const auto& [name, e] : routes_) snap.routes[name] = e.compiled;
  for (const auto& [name, e] : listeners_) {
    if (listenerWarm(*e.compiled)) snap.listeners.push_back({e.compiled, e.sockets});
  }
}

void DynamicConfig::dump(envoy::admin::v3::ClustersConfigDump& clusters,
                         envoy::admin::v3::ListenersConfigDump& listeners,
                         envoy::admin::v3::RoutesConfigDump& routes) const {
  for (const auto& [name, e] : clusters_) {
    auto* c =
        clusterWarm(*e.compiled) ? clusters.add_dynamic_active_clusters() : clusters.add_dynamic_warming_clusters();
    c->set_version_info(e.version);
    c->mutable_cluster()->PackFrom(e.proto);
    *c->mutable_last_updated() = e.updated;
  }
  for (const auto& [name, e] : listeners_) {
    auto* l = listeners.add_dynamic_listeners();
    l->set_name(name);
    auto* state = listenerWarm(*e.compiled) ? l->mutable_active_state() : l->mutable_warming_state();
    state->set_version_info(e.version);
    state->mutable_listener()->PackFrom(e.proto);
    *state->mutable_last_updated() = e.updated;
  }
  for (const auto& [name, e] : routes_) {
    auto* r = routes.add_dynamic_route_configs();
    r->set_version_info(e.version);
    r->mutable_route_config()->PackFrom(e.proto);
    *r->mutable_last_updated() = e.updated;
  }
}

}  // namespace weft::proxy::server
