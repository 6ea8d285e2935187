#pragma once
// A route's hash_policy (Envoy's Http::HashPolicyImpl): the hash RING_HASH and MAGLEV clusters
// pick a host with, from a header, a cookie (generated, with its Set-Cookie, when it has a ttl
// and the request has none), the client's IP or a query parameter. Several policies combine as
// Envoy's do (rotate, xor); a terminal one that produced a hash ends the list.
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/net/address.h"
#include "envoy/config/route/v3/route_components.pb.h"
#include "proxy/http/headers.h"

namespace weft::proxy::http {

class HashPolicy {
 public:
  // Throws ConfigError naming `path`.
  static std::shared_ptr<const HashPolicy> compile(
      const google::protobuf::RepeatedPtrField<envoy::config::route::v3::RouteAction::HashPolicy>& policies,
      const std::string& path);

  // The request's hash, or none when no policy applies. A generated cookie's Set-Cookie value
  // is put in `set_cookie` (the response carries it).
  std::optional<uint64_t> hash(const RequestHead& req, const net::Address& remote, const net::Address& local,
                               std::string* set_cookie) const;

 private:
  struct Part {
    enum class Kind { Header, Cookie, SourceIp, QueryParameter } kind;
    std::string name;  // header (lower case), cookie or query parameter
    bool terminal = false;
    std::optional<std::chrono::seconds> ttl;  // cookie: generate one with this Max-Age
    std::string path;                         // cookie: its Path
    std::vector<std::pair<std::string, std::string>> attributes;
  };
  std::optional<uint64_t> hashOf(const Part& p, const RequestHead& req, const net::Address& remote,
                                 const net::Address& local, std::string* set_cookie) const;
  std::vector<Part> parts_;
};

}  // namespace weft::proxy::http
