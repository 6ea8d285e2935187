#pragma once
// What an ADS stream (state of the world or delta) keeps per type URL, and the base class the
// server uses to push to streams of both kinds.
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "control/xds/ads_server.h"
#include "control/xds/generator.h"
#include "control/xds/proxy_info.h"

namespace weft::control::xds {

// The order Envoy needs to apply without dropping traffic: clusters before the endpoints
// they use, listeners before the routes they name.
inline const std::vector<std::string>& pushOrder() {
  static const std::vector<std::string> order = {kClusterType, kEndpointType, kListenerType, kRouteType};
  return order;
}

struct TypeState {
  bool subscribed = false;
  bool wildcard = false;
  std::vector<std::string> names;
  std::string sent_version;
  std::string sent_nonce;
  std::string acked_version;
  std::string nack;
  std::map<std::string, std::string> sent;  // name -> serialized resource (what the proxy has)
  std::chrono::steady_clock::time_point pushed_at{};
  bool awaiting_ack = false;
};

// A short, stable version for a set of resources: equal content, equal version.
std::string versionOf(const ResourceMap& resources);

class AdsServer::Stream {
 public:
  Stream(AdsServer& server, uint64_t id, std::string peer) : server_(server), id_(id), peer_(std::move(peer)) {}
  virtual ~Stream() = default;
  // The model changed: send each subscribed type whose resources changed for this proxy.
  virtual void pushAll(const MeshModel& model) = 0;
  StreamStatus status() const;

 protected:
  // An ACK or NACK of `ts`'s last response; returns false for a stale nonce.
  bool handleAck(TypeState& ts, const std::string& nonce, const std::string& version, const std::string* error,
                 const std::string& type_url);
  void countPush(const std::string& type_url);

  AdsServer& server_;
  const uint64_t id_;
  const std::string peer_;
  mutable std::recursive_mutex mu_;
  ProxyInfo proxy_;
  bool have_node_ = false;
  std::map<std::string, TypeState> types_;
  uint64_t nonce_counter_ = 0;
};

}  // namespace weft::control::xds
