#pragma once
// SDS (envoy.service.secret.v3.SecretDiscoveryService, state of the world) on a unix socket,
// as pilot-agent serves its proxy: resource `default` is the workload's certificate and key,
// `ROOTCA` the root it trusts, and Istio's file secrets (file-cert:CERT~KEY, file-root:CA; see
// file_secrets.h) are read from the pod's files and sent again when they change on disk
// (checked every 2 s). A request waits until the first certificate is there; every
// renewal is pushed to the streams that asked for `default` (and for `ROOTCA` when the root
// changed). gRPC over HTTP/2 (nghttp2) on the agent's own loop; the key never leaves the pod.
#include <nghttp2/nghttp2.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "agent/workload_secrets.h"
#include "common/buffer.h"
#include "common/event/reactor.h"
#include "common/net/connection.h"

namespace weft::agent {

struct SdsMetrics {
  uint64_t streams = 0, pushes = 0, nacks = 0, file_errors = 0;
};

class SdsServer : public event::IoHandler {
 public:
  // Listens on `path` (an old socket file there is replaced), readable by `uid`/`gid` only
  // (-1: the agent's own).
  SdsServer(event::Reactor& reactor, const std::string& path, WorkloadSecrets& secrets, int uid, int gid,
            std::function<void(const std::string&)> log);
  ~SdsServer() override;
  void onIoEvent(uint32_t events) override;
  const SdsMetrics& metrics() const { return metrics_; }

  class Session;

 private:
  friend class Session;
  void pushAll();
  event::Reactor& reactor_;
  std::string path_;
  int fd_ = -1;
  WorkloadSecrets& secrets_;
  std::function<void(const std::string&)> log_;
  std::map<Session*, std::unique_ptr<Session>> sessions_;
  std::string last_root_;
  SdsMetrics metrics_;
  static constexpr std::chrono::seconds kFileWatchInterval{2};
  std::unique_ptr<event::Timer> file_watch_;
};

}  // namespace weft::agent
