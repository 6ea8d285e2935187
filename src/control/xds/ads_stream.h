#pragma once
// What an ADS stream (state of the world or delta) keeps per type URL, and the base class the
// server uses to push to streams of both kinds.
#include <spdlog/spdlog.h>

#include <chrono>
#include <deque>
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
  std::shared_ptr<const AdsServer::NameList> names;  // never null once subscribed
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

// The grpc++ reactor side both stream kinds share: one read outstanding, a queue of writes
// with one in flight, errors ending the stream with a status instead of wedging it, and the
// model push in CDS, EDS, LDS, RDS order. Subclasses implement handle() and push().
template <typename Request, typename Response>
class ReactorStream : public AdsServer::Stream, public grpc::ServerBidiReactor<Request, Response> {
 public:
  ReactorStream(AdsServer& server, uint64_t id, std::string peer) : Stream(server, id, std::move(peer)) {
    this->StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    if (!ok) {
      finish(grpc::Status::OK);
      return;
    }
    try {
      handle(request_);
    } catch (const std::exception& e) {
      spdlog::error("xDS stream {}: {}", id_, e.what());
      finish(grpc::Status(grpc::StatusCode::INTERNAL, std::string("weftd: ") + e.what()));
      return;
    }
    // Protobuf keeps a cleared message's strings for reuse: swap in an empty one so a proxy's
    // thousands of subscribed names are not held twice per stream between requests.
    Request().Swap(&request_);
    if (!finished_) this->StartRead(&request_);
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    queue_.pop_front();
    if (!ok || finished_) return;
    if (!queue_.empty())
      this->StartWrite(&queue_.front());
    else
      writing_ = false;
  }

  void OnDone() override {
    server_.remove(this);
    delete this;
  }

  void pushAll(const std::shared_ptr<const MeshModel>& model) override {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    if (!have_node_ || finished_) return;
    for (const auto& type : pushOrder()) {
      auto it = types_.find(type);
      if (it != types_.end() && it->second.subscribed) push(model, type, it->second, false);
    }
  }

 protected:
  virtual void handle(const Request& req) = 0;
  virtual void push(const std::shared_ptr<const MeshModel>& model, const std::string& type, TypeState& ts,
                    bool force) = 0;

  // The first request must name the proxy; false (and the stream ended) when it does not.
  bool learnNode(const Request& req) {
    if (have_node_) return true;
    if (!req.has_node()) {
      finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "the first request of a stream must carry a node"));
      return false;
    }
    proxy_ = ProxyInfo::fromNode(req.node());
    have_node_ = true;
    spdlog::info("xDS stream {} from {} ({})", id_, proxy_.id, peer_);
    return true;
  }

  void send(Response&& resp, const std::string& type, TypeState& ts) {
    resp.set_nonce(std::to_string(++nonce_counter_));
    ts.sent_nonce = resp.nonce();
    ts.pushed_at = std::chrono::steady_clock::now();
    ts.awaiting_ack = true;
    countPush(type);
    queue_.push_back(std::move(resp));
    if (!writing_) {
      writing_ = true;
      this->StartWrite(&queue_.front());
    }
  }

  void finish(const grpc::Status& status) {
    if (finished_) return;
    finished_ = true;
    this->Finish(status);
  }

  bool finished_ = false;

 private:
  Request request_;
  std::deque<Response> queue_;
  bool writing_ = false;
};

}  // namespace weft::control::xds
