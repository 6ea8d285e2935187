#pragma once
// What a non-terminal network filter that only watches (Istio's TCP stats) hands to the chain's
// terminal tcp_proxy: told when a session opens (its peers known), of the bytes relayed
// periodically, and when it closes (response flags known). Called on the session's worker.
#include <chrono>

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
  // Bytes relayed since the last report: every reportingInterval() while the session is open,
  // and once more just before onClose.
  virtual void onReport(WorkerContext&, const StreamInfo&, net::Connection&, bool, uint64_t /*sent*/,
                        uint64_t /*received*/) const {}
  virtual std::chrono::milliseconds reportingInterval() const { return {}; }
};

}  // namespace weft::proxy::network
