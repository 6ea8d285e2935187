#include "common/net/address.h"

#include <arpa/inet.h>
#include <linux/netfilter_ipv4.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <cstring>

namespace {
constexpr int kIp6tSoOriginalDst = 80;  // IP6T_SO_ORIGINAL_DST (linux/netfilter_ipv6/ip6_tables.h)
}

namespace weft::net {

std::optional<Address> Address::parse(std::string_view ip_view, uint16_t port) {
  std::string ip(ip_view);
  Address a;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&a.storage);
  if (inet_pton(AF_INET, ip.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    a.length = sizeof(sockaddr_in);
    return a;
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&a.storage);
  if (inet_pton(AF_INET6, ip.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    a.length = sizeof(sockaddr_in6);
    return a;
  }
  return std::nullopt;
}

std::optional<Address> Address::unixPath(std::string_view path) {
  Address a;
  auto* un = reinterpret_cast<sockaddr_un*>(&a.storage);
  if (path.empty() || path.size() >= sizeof(un->sun_path)) return std::nullopt;
  un->sun_family = AF_UNIX;
  std::memcpy(un->sun_path, path.data(), path.size());
  a.length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
  return a;
}

std::string Address::path() const {
  if (!isUnix() || length <= offsetof(sockaddr_un, sun_path)) return {};
  const auto* un = reinterpret_cast<const sockaddr_un*>(&storage);
  return std::string(un->sun_path, strnlen(un->sun_path, length - offsetof(sockaddr_un, sun_path)));
}

Address Address::fromSockaddr(const sockaddr* sa, socklen_t len) {
  Address a;
  std::memcpy(&a.storage, sa, len);
  a.length = len;
  return a;
}

uint16_t Address::port() const {
  if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
  if (family() == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
  return 0;
}

void Address::setPort(uint16_t port) {
  if (family() == AF_INET) reinterpret_cast<sockaddr_in*>(&storage)->sin_port = htons(port);
  if (family() == AF_INET6) reinterpret_cast<sockaddr_in6*>(&storage)->sin6_port = htons(port);
}

std::string Address::ip() const {
  char buf[INET6_ADDRSTRLEN] = {0};
  if (family() == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage)->sin_addr, buf, sizeof(buf));
  } else if (family() == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_addr, buf, sizeof(buf));
  }
  return buf;
}

std::string Address::toString() const {
  if (isUnix()) return "unix:" + path();
  if (family() == AF_INET6) return "[" + ip() + "]:" + std::to_string(port());
  return ip() + ":" + std::to_string(port());
}

bool Address::operator==(const Address& o) const {
  return length == o.length && std::memcmp(&storage, &o.storage, length) == 0;
}

std::optional<CidrRange> CidrRange::parse(std::string_view ip, uint32_t prefix_len) {
  auto a = Address::parse(ip, 0);
  if (!a) return std::nullopt;
  CidrRange r;
  r.family_ = a->family();
  uint32_t max = r.family_ == AF_INET ? 32 : 128;
  if (prefix_len > max) return std::nullopt;
  r.prefix_len_ = prefix_len;
  if (r.family_ == AF_INET) {
    std::memcpy(r.bytes_, &reinterpret_cast<const sockaddr_in*>(&a->storage)->sin_addr, 4);
  } else {
    std::memcpy(r.bytes_, &reinterpret_cast<const sockaddr_in6*>(&a->storage)->sin6_addr, 16);
  }
  return r;
}

bool CidrRange::contains(const Address& a) const {
  const uint8_t* bytes = nullptr;
  if (a.family() != family_) return false;
  if (family_ == AF_INET) {
    bytes = reinterpret_cast<const uint8_t*>(&reinterpret_cast<const sockaddr_in*>(&a.storage)->sin_addr);
  } else {
    bytes = reinterpret_cast<const uint8_t*>(&reinterpret_cast<const sockaddr_in6*>(&a.storage)->sin6_addr);
  }
  uint32_t full = prefix_len_ / 8, rest = prefix_len_ % 8;
  if (std::memcmp(bytes, bytes_, full) != 0) return false;
  if (rest == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (bytes[full] & mask) == (bytes_[full] & mask);
}

std::string CidrRange::toString() const {
  char buf[INET6_ADDRSTRLEN] = {0};
  inet_ntop(family_, bytes_, buf, sizeof(buf));
  return std::string(buf) + "/" + std::to_string(prefix_len_);
}

}  // namespace weft::net

namespace weft::net {

bool Address::isAnyAddress() const {
  if (family() == AF_INET) {
    return reinterpret_cast<const sockaddr_in*>(&storage)->sin_addr.s_addr == htonl(INADDR_ANY);
  }
  if (family() == AF_INET6) {
    return IN6_IS_ADDR_UNSPECIFIED(&reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_addr);
  }
  return false;
}

std::optional<Address> Address::originalDestination(int fd, int family) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  int rc = family == AF_INET6 ? getsockopt(fd, SOL_IPV6, kIp6tSoOriginalDst, &ss, &len)
                              : getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &ss, &len);
  if (rc != 0) return std::nullopt;  // not redirected (or no netfilter conntrack entry)
  return fromSockaddr(reinterpret_cast<sockaddr*>(&ss), len);
}

}  // namespace weft::net
