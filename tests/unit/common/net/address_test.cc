#include "common/net/address.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

namespace weft::net {
namespace {

Address addr(const char* ip, uint16_t port = 0) {
  auto a = Address::parse(ip, port);
  EXPECT_TRUE(a.has_value()) << ip;
  return a.value_or(Address{});
}

CidrRange range(const char* ip, uint32_t len) {
  auto r = CidrRange::parse(ip, len);
  EXPECT_TRUE(r.has_value()) << ip << "/" << len;
  return r.value_or(CidrRange{});
}

TEST(AddressTest, ParsesIPv4) {
  auto a = Address::parse("10.1.2.3", 8080);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->family(), AF_INET);
  EXPECT_EQ(a->port(), 8080);
  EXPECT_EQ(a->ip(), "10.1.2.3");
  EXPECT_EQ(a->toString(), "10.1.2.3:8080");
  EXPECT_EQ(a->length, sizeof(sockaddr_in));
}

TEST(AddressTest, ParsesIPv6AndPrintsCanonicalForm) {
  auto a = Address::parse("2001:DB8:0:0:0:0:0:1", 443);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->family(), AF_INET6);
  EXPECT_EQ(a->port(), 443);
  EXPECT_EQ(a->ip(), "2001:db8::1");
  EXPECT_EQ(a->toString(), "[2001:db8::1]:443");
  EXPECT_EQ(a->length, sizeof(sockaddr_in6));

  EXPECT_EQ(addr("::1", 80).toString(), "[::1]:80");
  EXPECT_EQ(addr("::", 0).toString(), "[::]:0");
  EXPECT_EQ(addr("::ffff:10.0.0.1", 1).ip(), "::ffff:10.0.0.1");
}

TEST(AddressTest, RejectsNonAddresses) {
  EXPECT_FALSE(Address::parse("", 80));
  EXPECT_FALSE(Address::parse("localhost", 80));
  EXPECT_FALSE(Address::parse("1.2.3", 80));
  EXPECT_FALSE(Address::parse("1.2.3.256", 80));
  EXPECT_FALSE(Address::parse("1.2.3.4:80", 80));
  EXPECT_FALSE(Address::parse("[::1]", 80));
  EXPECT_FALSE(Address::parse("::1::2", 80));
}

TEST(AddressTest, SetPortAndEquality) {
  Address a = addr("192.168.0.1", 1);
  Address b = addr("192.168.0.1", 2);
  EXPECT_FALSE(a == b);
  b.setPort(1);
  EXPECT_TRUE(a == b);
  EXPECT_EQ(b.toString(), "192.168.0.1:1");

  Address v6 = addr("fe80::1", 5);
  v6.setPort(65535);
  EXPECT_EQ(v6.port(), 65535);
  EXPECT_FALSE(v6 == a);
}

TEST(AddressTest, FromSockaddrRoundTrips) {
  Address a = addr("2001:db8::42", 9090);
  Address b = Address::fromSockaddr(a.sockaddr_ptr(), a.length);
  EXPECT_TRUE(a == b);
  EXPECT_EQ(b.toString(), "[2001:db8::42]:9090");

  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(1234);
  inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
  Address c = Address::fromSockaddr(reinterpret_cast<sockaddr*>(&sin), sizeof(sin));
  EXPECT_EQ(c.toString(), "127.0.0.1:1234");
}

TEST(CidrRangeTest, IPv4ByteAlignedPrefixes) {
  CidrRange r8 = range("10.0.0.0", 8);
  EXPECT_TRUE(r8.contains(addr("10.0.0.0")));
  EXPECT_TRUE(r8.contains(addr("10.255.255.255")));
  EXPECT_FALSE(r8.contains(addr("11.0.0.0")));
  EXPECT_FALSE(r8.contains(addr("9.255.255.255")));
  EXPECT_EQ(r8.prefixLength(), 8u);

  CidrRange r24 = range("192.168.1.0", 24);
  EXPECT_TRUE(r24.contains(addr("192.168.1.77", 5)));
  EXPECT_FALSE(r24.contains(addr("192.168.2.77")));
}

TEST(CidrRangeTest, IPv4UnalignedPrefixes) {
  CidrRange r12 = range("172.16.0.0", 12);
  EXPECT_TRUE(r12.contains(addr("172.16.0.1")));
  EXPECT_TRUE(r12.contains(addr("172.31.255.255")));
  EXPECT_FALSE(r12.contains(addr("172.32.0.0")));
  EXPECT_FALSE(r12.contains(addr("172.15.255.255")));

  CidrRange r31 = range("10.0.0.2", 31);
  EXPECT_TRUE(r31.contains(addr("10.0.0.2")));
  EXPECT_TRUE(r31.contains(addr("10.0.0.3")));
  EXPECT_FALSE(r31.contains(addr("10.0.0.4")));
  EXPECT_FALSE(r31.contains(addr("10.0.0.1")));

  // Bits below the prefix in the range's own address do not matter.
  CidrRange loose = range("10.1.2.3", 16);
  EXPECT_TRUE(loose.contains(addr("10.1.200.200")));
  EXPECT_FALSE(loose.contains(addr("10.2.2.3")));
}

TEST(CidrRangeTest, ZeroAndFullLength) {
  CidrRange all = range("0.0.0.0", 0);
  EXPECT_TRUE(all.contains(addr("1.2.3.4")));
  EXPECT_TRUE(all.contains(addr("255.255.255.255")));
  EXPECT_FALSE(all.contains(addr("::1")));  // another family

  CidrRange host = range("1.2.3.4", 32);
  EXPECT_TRUE(host.contains(addr("1.2.3.4", 99)));
  EXPECT_FALSE(host.contains(addr("1.2.3.5")));
}

TEST(CidrRangeTest, IPv6Prefixes) {
  CidrRange r64 = range("2001:db8:1:2::", 64);
  EXPECT_TRUE(r64.contains(addr("2001:db8:1:2:ffff:ffff:ffff:ffff")));
  EXPECT_FALSE(r64.contains(addr("2001:db8:1:3::")));

  CidrRange r35 = range("2001:db8:e000::", 35);
  EXPECT_TRUE(r35.contains(addr("2001:db8:ffff::1")));
  EXPECT_FALSE(r35.contains(addr("2001:db8:dfff::1")));

  CidrRange lo = range("::1", 128);
  EXPECT_TRUE(lo.contains(addr("::1")));
  EXPECT_FALSE(lo.contains(addr("::2")));
  EXPECT_FALSE(lo.contains(addr("127.0.0.1")));

  CidrRange all6 = range("::", 0);
  EXPECT_TRUE(all6.contains(addr("fe80::1")));
  EXPECT_FALSE(all6.contains(addr("10.0.0.1")));
}

TEST(CidrRangeTest, RejectsBadInput) {
  EXPECT_FALSE(CidrRange::parse("10.0.0.0", 33));
  EXPECT_TRUE(CidrRange::parse("::", 128));
  EXPECT_FALSE(CidrRange::parse("::", 129));
  EXPECT_FALSE(CidrRange::parse("example.com", 8));
  EXPECT_FALSE(CidrRange::parse("10.0.0.0/8", 8));
}

TEST(CidrRangeTest, ToString) {
  EXPECT_EQ(range("10.0.0.0", 8).toString(), "10.0.0.0/8");
  EXPECT_EQ(range("2001:db8::", 32).toString(), "2001:db8::/32");
}

}  // namespace
}  // namespace weft::net
