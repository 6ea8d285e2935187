#include "proxy/network/relay.h"

namespace weft::proxy::network {

Relay::Relay(net::Connection& downstream, net::Connection& upstream, Owner& owner)
    : down_(downstream), up_(upstream), owner_(owner) {}

void Relay::start() {
  down_.setCallbacks(this);
  up_.setCallbacks(this);
  down_.readDisable(false);
  up_.readDisable(false);
  if (!down_.input().empty()) pump(down_);
  if (!done_ && !up_.input().empty()) pump(up_);
  if (!done_ && down_.remoteHalfClosed()) onEvent(down_, net::ConnectionEvent::RemoteHalfClosed);
  if (!done_ && up_.remoteHalfClosed()) onEvent(up_, net::ConnectionEvent::RemoteHalfClosed);
}

void Relay::pump(net::Connection& from) {
  net::Connection& to = other(from);
  size_t n = from.input().size();
  if (n == 0) return;
  (&from == &down_ ? from_down_ : from_up_) += n;
  to.output().append(from.input().view());
  from.input().clear();
  to.flush();
  if (done_) return;
  if (to.aboveWriteLimit()) from.readDisable(true);
  owner_.onRelayActivity();
}

void Relay::onData(net::Connection& conn) {
  if (done_) return;
  pump(conn);
}

void Relay::onWriteDrained(net::Connection& conn) {
  if (done_) return;
  other(conn).readDisable(false);
}

void Relay::onEvent(net::Connection& conn, net::ConnectionEvent event) {
  if (done_) return;
  switch (event) {
    case net::ConnectionEvent::RemoteHalfClosed:
      (&conn == &down_ ? down_eof_ : up_eof_) = true;
      other(conn).shutdownWrite();
      checkDone();
      break;
    case net::ConnectionEvent::Closed:
    case net::ConnectionEvent::ConnectFailed:
      other(conn).close(net::Connection::CloseMode::FlushWrite);
      finish();
      break;
    case net::ConnectionEvent::Connected:
      break;
  }
}

void Relay::checkDone() {
  if (down_eof_ && up_eof_) {
    down_.close(net::Connection::CloseMode::FlushWrite);
    up_.close(net::Connection::CloseMode::FlushWrite);
    finish();
  }
}

void Relay::finish() {
  if (done_) return;
  done_ = true;
  owner_.onRelayDone();
}

}  // namespace weft::proxy::network
