#pragma once
// Socket addresses (IPv4, IPv6, and unix-domain paths: Envoy's `pipe`) and CIDR ranges.
#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace weft::net {

struct Address {
  sockaddr_storage storage{};
  socklen_t length = 0;

  static std::optional<Address> parse(std::string_view ip, uint16_t port);
  // A unix-domain socket path (Envoy's `pipe.path`); nullopt when it does not fit sun_path.
  static std::optional<Address> unixPath(std::string_view path);
  static Address fromSockaddr(const sockaddr* sa, socklen_t len);
  bool isUnix() const { return family() == AF_UNIX; }
  std::string path() const;  // unix-domain only
  int family() const { return storage.ss_family; }
  uint16_t port() const;
  void setPort(uint16_t port);
  std::string ip() const;
  std::string toString() const;  // "1.2.3.4:80", "[::1]:80" or "unix:/path"
  const sockaddr* sockaddr_ptr() const { return reinterpret_cast<const sockaddr*>(&storage); }
  bool operator==(const Address& o) const;
  bool isAnyAddress() const;  // 0.0.0.0 or ::
  // The destination a connection had before an iptables REDIRECT (SO_ORIGINAL_DST), if any.
  static std::optional<Address> originalDestination(int fd, int family);
};

class CidrRange {
 public:
  static std::optional<CidrRange> parse(std::string_view ip, uint32_t prefix_len);
  bool contains(const Address& a) const;
  uint32_t prefixLength() const { return prefix_len_; }
  std::string toString() const;

 private:
  int family_ = 0;
  uint8_t bytes_[16]{};
  uint32_t prefix_len_ = 0;
};

}  // namespace weft::net
