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
  size_t sent_count = 0;
  // What was last sent (shared with every proxy that got the same): EDS and RDS responses
  // carry only what changed since then, as the xDS protocol allows for those types.
  std::shared_ptr<const AdsServer::Generated> last_sent;
  std::map<std::string, uint64_t> sent_hashes;  // delta: what the proxy holds, by content hash
  std::chrono::steady_clock::time_point pushed_at{};
  bool awaiting_ack = false;
};

// A short, stable version for a set of resources: equal content, equal version.
std::string versionOf(const ResourceMap& resources);
uint64_t hashBytes(const std::string& bytes);

class AdsServer::Stream {
 public:
  Stream(AdsServer& server, uint64_t id, std::string peer) : server_(server), id_(id), peer_(std::move(peer)) {}
  virtual ~Stream() = default;
  // The model changed: send each subscribed type whose resources changed for this proxy.
  virtual void pushAll(const std::shared_ptr<const MeshModel>& model) = 0;
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
