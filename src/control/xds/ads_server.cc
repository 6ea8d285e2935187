#include "control/xds/ads_server.h"

#include <spdlog/spdlog.h>

#include <deque>
#include <functional>
#include <sstream>

#include "control/xds/ads_stream.h"

namespace weft::control::xds {

using envoy::service::discovery::v3::DiscoveryRequest;
using envoy::service::discovery::v3::DiscoveryResponse;

uint64_t hashBytes(const std::string& bytes) {
  uint64_t h = 1469598103934665603ULL;
  for (char c : bytes) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
  return h;
}

std::shared_ptr<const AdsServer::NameList> AdsServer::intern(std::vector<std::string> names) {
  std::lock_guard<std::mutex> lock(intern_mu_);
  auto it = interned_.find(names);
  if (it != interned_.end()) return it->second;
  if (interned_.size() >= prune_at_) {
    // Drop lists no stream holds any more.
    for (auto i = interned_.begin(); i != interned_.end();)
      i = i->second.use_count() == 1 ? interned_.erase(i) : std::next(i);
    prune_at_ = std::max<size_t>(64, interned_.size() * 2);
  }
  auto list = std::make_shared<NameList>();
  list->names = names;
  list->id = next_list_id_++;
  interned_.emplace(std::move(names), list);
  return list;
}

std::shared_ptr<const std::vector<std::string>> AdsServer::changedNames(const std::shared_ptr<const Generated>& from,
                                                                        const std::shared_ptr<const Generated>& to) {
  std::lock_guard<std::mutex> lock(cache_mu_);
  auto key = std::make_pair(from.get(), to.get());
  auto it = diffs_.find(key);
  if (it != diffs_.end()) return it->second.changed;
  auto changed = std::make_shared<std::vector<std::string>>();
  for (const auto& [name, hash] : to->hashes) {
    auto prev = from->hashes.find(name);
    if (prev == from->hashes.end() || prev->second != hash) changed->push_back(name);
  }
  diffs_[key] = {from, to, changed};
  return changed;
}

std::shared_ptr<const AdsServer::Generated> AdsServer::generated(const std::shared_ptr<const MeshModel>& model,
                                                                 const std::string& type, const ProxyInfo& proxy,
                                                                 const NameList& names) {
  std::string key = type + '\n' + proxy.ns + '\n' + (proxy.capture_none ? "1" : "0") + (proxy.sds ? "1" : "0") + '\n';
  for (const auto& [k, v] : proxy.labels) key += k + '=' + v + ',';
  key += '\n' + std::to_string(names.id);
  {
    std::lock_guard<std::mutex> lock(cache_mu_);
    if (cache_model_ != model.get()) {
      cache_.clear();
      if (diffs_.size() > 256) diffs_.clear();
      cache_model_ = model.get();
    }
    auto it = cache_.find(key);
    if (it != cache_.end()) return it->second;
  }
  auto g = std::make_shared<Generated>();
  g->resources = generate(type, *model, proxy, names.names);
  g->version = versionOf(g->resources);
  for (const auto& [name, any] : g->resources) g->hashes[name] = hashBytes(any.value());
  std::lock_guard<std::mutex> lock(cache_mu_);
  if (cache_model_ == model.get()) cache_[key] = g;
  return g;
}

std::string versionOf(const ResourceMap& resources) {
  uint64_t h = 1469598103934665603ULL;  // FNV-1a over names and bytes
  for (const auto& [name, any] : resources) {
    for (char c : name) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
    for (char c : any.value()) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
  }
  char buf[17];
  snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

void AdsMetrics::observeConvergence(double seconds) {
  std::lock_guard<std::mutex> lock(mu);
  convergence_sum += seconds;
  ++convergence_count;
  for (size_t i = 0; i < bucket_bounds.size(); ++i) {
    if (seconds <= bucket_bounds[i]) ++buckets[i];
  }
}

std::string AdsMetrics::prometheus() {
  std::ostringstream o;
  o << "# TYPE pilot_xds_pushes counter\n";
  o << "pilot_xds_pushes{type=\"cds\"} " << pushes_cds << "\n";
  o << "pilot_xds_pushes{type=\"eds\"} " << pushes_eds << "\n";
  o << "pilot_xds_pushes{type=\"lds\"} " << pushes_lds << "\n";
  o << "pilot_xds_pushes{type=\"rds\"} " << pushes_rds << "\n";
  o << "# TYPE pilot_total_xds_rejects counter\npilot_total_xds_rejects " << rejects << "\n";
  o << "# TYPE pilot_xds gauge\npilot_xds " << connected << "\n";
  std::lock_guard<std::mutex> lock(mu);
  o << "# TYPE pilot_proxy_convergence_time histogram\n";
  for (size_t i = 0; i < bucket_bounds.size(); ++i) {
    o << "pilot_proxy_convergence_time_bucket{le=\"" << bucket_bounds[i] << "\"} " << buckets[i] << "\n";
  }
  o << "pilot_proxy_convergence_time_bucket{le=\"+Inf\"} " << convergence_count << "\n";
  o << "pilot_proxy_convergence_time_sum " << convergence_sum << "\n";
  o << "pilot_proxy_convergence_time_count " << convergence_count << "\n";
  return o.str();
}

StreamStatus AdsServer::Stream::status() const {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  StreamStatus s{id_, proxy_.id, peer_, {}};
  for (const auto& [type, ts] : types_) {
    if (!ts.subscribed) continue;
    s.types.push_back({type, ts.names ? ts.names->names : std::vector<std::string>{}, ts.sent_version, ts.acked_version,
                       ts.nack, ts.sent_count});
  }
  return s;
}

bool AdsServer::Stream::handleAck(TypeState& ts, const std::string& nonce, const std::string& version,
                                  const std::string* error, const std::string& type_url) {
  if (nonce != ts.sent_nonce) return false;  // an answer to a response we have since replaced
  if (error != nullptr) {
    ts.nack = *error;
    server_.metrics_.rejects++;
    spdlog::warn("xDS NACK from {} for {} version {}: {}", proxy_.id, type_url, ts.sent_version, *error);
  } else {
    ts.nack.clear();
    ts.acked_version = version;
    if (ts.awaiting_ack) {
      ts.awaiting_ack = false;
      server_.metrics_.observeConvergence(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - ts.pushed_at).count());
    }
  }
  return true;
}

void AdsServer::Stream::countPush(const std::string& type_url) {
  if (type_url == kClusterType)
    server_.metrics_.pushes_cds++;
  else if (type_url == kEndpointType)
    server_.metrics_.pushes_eds++;
  else if (type_url == kListenerType)
    server_.metrics_.pushes_lds++;
  else if (type_url == kRouteType)
    server_.metrics_.pushes_rds++;
}

// State of the world: LDS and CDS responses carry every resource the proxy may see.
class SotwStream final : public ReactorStream<DiscoveryRequest, DiscoveryResponse> {
 public:
  using ReactorStream::ReactorStream;

 private:
  void handle(const DiscoveryRequest& req) override {
    if (!learnNode(req)) return;
    const std::string& type = req.type_url();
    if (type != kClusterType && type != kEndpointType && type != kListenerType && type != kRouteType) {
      spdlog::warn("{} asked for unknown type {}", proxy_.id, type);
      return;
    }
    TypeState& ts = types_[type];
    // Every ACK repeats the subscription; when it names what we already hold (in order, as
    // clients usually send it), skip copying, sorting and interning thousands of names.
    std::shared_ptr<const AdsServer::NameList> names;
    if (ts.names && static_cast<size_t>(req.resource_names_size()) == ts.names->names.size() &&
        std::equal(req.resource_names().begin(), req.resource_names().end(), ts.names->names.begin())) {
      names = ts.names;
    } else {
      std::vector<std::string> sorted(req.resource_names().begin(), req.resource_names().end());
      std::sort(sorted.begin(), sorted.end());
      names = server_.intern(std::move(sorted));
    }
    if (!req.response_nonce().empty()) {
      const std::string* error = req.has_error_detail() ? &req.error_detail().message() : nullptr;
      if (!handleAck(ts, req.response_nonce(), req.version_info(), error, type)) return;
      if (names == ts.names) return;  // a plain ACK/NACK (interned: same list, same pointer)
    }
    ts.subscribed = true;
    ts.names = names;
    // A new or changed subscription gets every resource it names, not just changes.
    push(server_.model(), type, ts, true);
  }

  void push(const std::shared_ptr<const MeshModel>& model, const std::string& type, TypeState& ts,
            bool force) override {
    auto gen = server_.generated(model, type, proxy_, *ts.names);
    if (!force && gen->version == ts.sent_version) return;
    DiscoveryResponse resp;
    resp.set_type_url(type);
    resp.set_version_info(gen->version);
    // LDS and CDS are state of the world; EDS and RDS may name only what changed.
    bool incremental = !force && ts.last_sent && (type == kEndpointType || type == kRouteType);
    if (incremental) {
      for (const auto& name : *server_.changedNames(ts.last_sent, gen)) *resp.add_resources() = gen->resources.at(name);
    } else {
      for (const auto& [name, any] : gen->resources) *resp.add_resources() = any;
    }
    ts.last_sent = gen;
    ts.sent_count = gen->resources.size();
    ts.sent_version = gen->version;
    send(std::move(resp), type, ts);
  }
};

AdsServer::AdsServer() : model_(buildModel(std::make_shared<ConfigSnapshot>())) {}
AdsServer::~AdsServer() = default;

grpc::ServerBidiReactor<DiscoveryRequest, DiscoveryResponse>* AdsServer::StreamAggregatedResources(
    grpc::CallbackServerContext* context) {
  auto* s = new SotwStream(*this, next_id_++, context->peer());
  add(s);
  return s;
}

void AdsServer::add(Stream* s) {
  std::lock_guard<std::mutex> lock(mu_);
  streams_.insert(s);
  metrics_.connected++;
}

void AdsServer::remove(Stream* s) {
  std::lock_guard<std::mutex> lock(mu_);
  streams_.erase(s);
  metrics_.connected--;
}

void AdsServer::setModel(std::shared_ptr<const MeshModel> model) {
  model_.store(model);
  std::lock_guard<std::mutex> lock(mu_);
  for (Stream* s : streams_) s->pushAll(model);
}

std::shared_ptr<const MeshModel> AdsServer::model() const { return model_.load(); }

std::vector<StreamStatus> AdsServer::status() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<StreamStatus> out;
  for (Stream* s : streams_) out.push_back(s->status());
  return out;
}

}  // namespace weft::control::xds
