#pragma once
// A downstream connection's handler (HTTP or TCP proxy) as its worker tracks it, so the
// worker can drain or close every session on shutdown. Sessions delete themselves through
// the reactor's deferred deletion after unlinking.
#include "common/event/reactor.h"

namespace weft::proxy::network {

class ActiveSession : public event::Deferrable {
 public:
  // Finish what is in flight, then close (SIGTERM, /drain_listeners).
  virtual void drain() = 0;
  // Close at once (shutdown after the drain time).
  virtual void closeNow() = 0;

  // The listener config that accepted this connection: when an update replaces or removes
  // it, the worker drains the session (identity only; never dereferenced).
  const void* listener = nullptr;
  ActiveSession* prev_session = nullptr;
  ActiveSession* next_session = nullptr;
};

}  // namespace weft::proxy::network
