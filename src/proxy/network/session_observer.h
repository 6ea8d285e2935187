#pragma once
// What a non-terminal network filter that only watches (Istio's TCP stats) hands to the chain's
// terminal tcp_proxy: told when a session opens (its upstream cluster chosen) and when it closes
// (bytes and response flags known). Called on the session's worker.
#include "common/net/connection.h"
#include "proxy/stream_info.h"
#include "proxy/worker_context.h"

namespace weft::proxy::network {

class SessionObserver {
 public:
  virtual ~SessionObserver() = default;
  virtual void onOpen(WorkerContext& worker, const StreamInfo& info, net::Connection& downstream,
                      bool inbound) const = 0;
  virtual void onClose(WorkerContext& worker, const StreamInfo& info, net::Connection& downstream,
                       bool inbound) const = 0;
};

}  // namespace weft::proxy::network
