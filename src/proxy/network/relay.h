#pragma once
// Copies bytes both ways between two connections: backpressure (a side whose peer cannot
// keep up stops being read), half-close (a FIN is passed on as a FIN) and completion once
// both directions are finished or either side fails. Serves tcp_proxy and HTTP Upgrade
// tunnels alike.
#include "common/net/connection.h"

namespace weft::proxy::network {

class Relay : public net::ConnectionCallbacks, public event::Deferrable {
 public:
  class Owner {
   public:
    virtual ~Owner() = default;
    virtual void onRelayActivity() {}
    // Both directions are done or one side failed; the relay touches neither side again.
    virtual void onRelayDone() = 0;
  };
  Relay(net::Connection& downstream, net::Connection& upstream, Owner& owner);
  // Takes over both connections' callbacks and moves any bytes already buffered.
  void start();
  uint64_t bytesFromDownstream() const { return from_down_; }
  uint64_t bytesFromUpstream() const { return from_up_; }

  void onData(net::Connection& conn) override;
  void onEvent(net::Connection& conn, net::ConnectionEvent event) override;
  void onWriteDrained(net::Connection& conn) override;

 private:
  net::Connection& other(net::Connection& c) { return &c == &down_ ? up_ : down_; }
  void pump(net::Connection& from);
  void finish();
  void checkDone();

  net::Connection& down_;
  net::Connection& up_;
  Owner& owner_;
  bool down_eof_ = false;
  bool up_eof_ = false;
  bool done_ = false;
  uint64_t from_down_ = 0;
  uint64_t from_up_ = 0;
};

}  // namespace weft::proxy::network
