#pragma once
// Reads what envoy.filters.listener.tls_inspector reads from the first bytes of a connection:
// whether it starts with a TLS ClientHello and, if so, its SNI and offered ALPN protocols.
#include <string>
#include <string_view>
#include <vector>

namespace weft::proxy::network {

struct ClientHello {
  enum class Result { NeedMore, NotTls, Tls };
  std::string server_name;        // lower case
  std::vector<std::string> alpn;  // in the client's order
};

// Parses `data` (the bytes peeked so far). Tls also when the hello is malformed past the
// record header: the TLS handshake itself will then fail with a proper alert.
ClientHello::Result parseClientHello(std::string_view data, ClientHello& out);

}  // namespace weft::proxy::network
