#include "proxy/network/client_hello.h"

#include <algorithm>
#include <cctype>
#include <cstdint>

namespace weft::proxy::network {

namespace {

// A bounds-checked reader over the ClientHello; any overrun marks it bad.
struct Reader {
  std::string_view d;
  size_t pos = 0;
  bool bad = false;
  uint32_t u(size_t n) {
    if (pos + n > d.size()) {
      bad = true;
      pos = d.size();
      return 0;
    }
    uint32_t v = 0;
    for (size_t i = 0; i < n; ++i) v = (v << 8) | static_cast<unsigned char>(d[pos + i]);
    pos += n;
    return v;
  }
  std::string_view bytes(size_t n) {
    if (pos + n > d.size()) {
      bad = true;
      pos = d.size();
      return {};
    }
    auto v = d.substr(pos, n);
    pos += n;
    return v;
  }
};

void parseExtensions(Reader r, ClientHello& out) {
  while (!r.bad && r.pos + 4 <= r.d.size()) {
    uint32_t type = r.u(2);
    Reader ext{r.bytes(r.u(2))};
    if (type == 0) {  // server_name
      Reader list{ext.bytes(ext.u(2))};
      while (!list.bad && list.pos < list.d.size()) {
        uint32_t name_type = list.u(1);
        std::string_view name = list.bytes(list.u(2));
        if (name_type == 0 && !list.bad) {
          out.server_name.clear();
          for (char c : name) out.server_name += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
          break;
        }
      }
    } else if (type == 16) {  // application_layer_protocol_negotiation
      Reader list{ext.bytes(ext.u(2))};
      while (!list.bad && list.pos < list.d.size()) {
        std::string_view p = list.bytes(list.u(1));
        if (!list.bad) out.alpn.emplace_back(p);
      }
    }
  }
}

}  // namespace

ClientHello::Result parseClientHello(std::string_view data, ClientHello& out) {
  if (data.empty()) return ClientHello::Result::NeedMore;
  if (static_cast<unsigned char>(data[0]) != 0x16) return ClientHello::Result::NotTls;  // handshake record
  if (data.size() < 5) return ClientHello::Result::NeedMore;
  if (data[1] != 0x03) return ClientHello::Result::NotTls;  // record version 3.x
  size_t record_len = (static_cast<unsigned char>(data[3]) << 8) | static_cast<unsigned char>(data[4]);
  if (data.size() < 5 + record_len) return ClientHello::Result::NeedMore;
  // A ClientHello spanning several records is legal but rare; the first record carries SNI
  // and ALPN in every client seen in practice.
  Reader r{data.substr(5, record_len)};
  if (r.u(1) != 1) return ClientHello::Result::Tls;  // not a ClientHello: let the handshake fail
  size_t hello_len = r.u(3);
  Reader body{r.d.substr(r.pos, std::min(hello_len, r.d.size() - r.pos))};  // this record's part
  body.u(2);                                                                // legacy_version
  body.bytes(32);                                                           // random
  body.bytes(body.u(1));                                                    // session id
  body.bytes(body.u(2));                                                    // cipher suites
  body.bytes(body.u(1));                                                    // compression methods
  if (body.bad || body.pos + 2 > body.d.size()) return ClientHello::Result::Tls;
  parseExtensions(Reader{body.bytes(body.u(2))}, out);
  return ClientHello::Result::Tls;
}

}  // namespace weft::proxy::network
