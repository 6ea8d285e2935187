#include "proxy/network/gate.h"

#include "proxy/network/listener_config.h"

namespace weft::proxy::network {

void GateSession::closeNow() {
  if (done_) return;
  done_ = true;
  conn_->close();
  listener_stats_->dec(ListenerStats::downstream_cx_active);
  listener_stats_->inc(ListenerStats::downstream_cx_destroy);
  worker_.removeSession(this);
}

void GateSession::pass() {
  if (done_) return;
  done_ = true;
  worker_.removeSession(this);
  next_->startSession(worker_, std::move(conn_), std::move(listener_stats_), listener);
}

}  // namespace weft::proxy::network
