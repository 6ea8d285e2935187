#include "proxy/network/listener_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/config/error.h"
#include "proxy/proxy_test_support.h"

namespace weft::proxy::network {
namespace {

using ::testing::StartsWith;
using weft::testing::fromYaml;

net::Address ep(const char* ip, uint16_t port) { return *net::Address::parse(ip, port); }

FilterChain chain(std::string name) {
  FilterChain c;
  c.name = std::move(name);
  return c;
}

net::CidrRange cidr(const char* ip, uint32_t len) { return *net::CidrRange::parse(ip, len); }

std::string matched(const ListenerConfig& l, const net::Address& local, const net::Address& remote) {
  const FilterChain* c = l.match(local, remote);
  return c ? c->name : "<none>";
}

TEST(ListenerMatchTest, SingleUnconditionedChainTakesEverything) {
  ListenerConfig l;
  l.chains.push_back(chain("only"));
  EXPECT_EQ(matched(l, ep("10.0.0.1", 80), ep("1.2.3.4", 5555)), "only");
  EXPECT_EQ(matched(l, ep("::1", 80), ep("::1", 5555)), "only");
}

TEST(ListenerMatchTest, DestinationPort) {
  ListenerConfig l;
  auto p8080 = chain("8080");
  p8080.destination_port = 8080;
  auto p9090 = chain("9090");
  p9090.destination_port = 9090;
  l.chains = {chain("any"), p8080, p9090};
  EXPECT_EQ(matched(l, ep("10.0.0.1", 8080), ep("1.1.1.1", 1)), "8080");
  EXPECT_EQ(matched(l, ep("10.0.0.1", 9090), ep("1.1.1.1", 1)), "9090");
  EXPECT_EQ(matched(l, ep("10.0.0.1", 7070), ep("1.1.1.1", 1)), "any");
}

TEST(ListenerMatchTest, DestinationPrefixRangesLongestWins) {
  ListenerConfig l;
  auto wide = chain("10/8");
  wide.prefix_ranges = {cidr("10.0.0.0", 8)};
  auto narrow = chain("10.1/16");
  narrow.prefix_ranges = {cidr("192.168.0.0", 16), cidr("10.1.0.0", 16)};
  auto host = chain("10.1.2.3/32");
  host.prefix_ranges = {cidr("10.1.2.3", 32)};
  l.chains = {wide, narrow, host};
  EXPECT_EQ(matched(l, ep("10.1.2.3", 80), ep("1.1.1.1", 1)), "10.1.2.3/32");
  EXPECT_EQ(matched(l, ep("10.1.9.9", 80), ep("1.1.1.1", 1)), "10.1/16");
  EXPECT_EQ(matched(l, ep("192.168.7.7", 80), ep("1.1.1.1", 1)), "10.1/16");
  EXPECT_EQ(matched(l, ep("10.200.0.1", 80), ep("1.1.1.1", 1)), "10/8");
  EXPECT_EQ(matched(l, ep("172.16.0.1", 80), ep("1.1.1.1", 1)), "<none>");
}

TEST(ListenerMatchTest, SourcePrefixRangesLongestWinsAndUnsetIsTheFallback) {
  ListenerConfig l;
  auto s16 = chain("192.168/16");
  s16.source_prefix_ranges = {cidr("192.168.0.0", 16)};
  auto s24 = chain("192.168.1/24");
  s24.source_prefix_ranges = {cidr("192.168.1.0", 24)};
  l.chains = {s16, chain("any source"), s24};
  net::Address local = ep("10.0.0.1", 80);
  EXPECT_EQ(matched(l, local, ep("192.168.1.5", 1000)), "192.168.1/24");
  EXPECT_EQ(matched(l, local, ep("192.168.2.5", 1000)), "192.168/16");
  EXPECT_EQ(matched(l, local, ep("172.16.0.1", 1000)), "any source");
}

TEST(ListenerMatchTest, SourceType) {
  ListenerConfig l;
  auto local_chain = chain("local");
  local_chain.source_type = FilterChain::SourceType::SameIpOrLoopback;
  auto external = chain("external");
  external.source_type = FilterChain::SourceType::External;
  l.chains = {local_chain, external};
  EXPECT_EQ(matched(l, ep("10.0.0.5", 80), ep("127.0.0.1", 1)), "local");
  EXPECT_EQ(matched(l, ep("10.0.0.5", 80), ep("127.9.9.9", 1)), "local");
  EXPECT_EQ(matched(l, ep("10.0.0.5", 80), ep("10.0.0.5", 1)), "local");  // same IP as the listener
  EXPECT_EQ(matched(l, ep("::1", 80), ep("::1", 1)), "local");
  EXPECT_EQ(matched(l, ep("10.0.0.5", 80), ep("10.0.0.6", 1)), "external");
  EXPECT_EQ(matched(l, ep("10.0.0.5", 80), ep("8.8.8.8", 1)), "external");

  // A chain that accepts any source type is the fallback for a specific one.
  ListenerConfig l2;
  l2.chains = {local_chain, chain("any")};
  EXPECT_EQ(matched(l2, ep("10.0.0.5", 80), ep("127.0.0.1", 1)), "local");
  EXPECT_EQ(matched(l2, ep("10.0.0.5", 80), ep("8.8.8.8", 1)), "any");
}

TEST(ListenerMatchTest, SourcePorts) {
  ListenerConfig l;
  auto p = chain("from 5000");
  p.source_ports = {5000, 5001};
  l.chains = {p, chain("any")};
  EXPECT_EQ(matched(l, ep("10.0.0.1", 80), ep("1.1.1.1", 5001)), "from 5000");
  EXPECT_EQ(matched(l, ep("10.0.0.1", 80), ep("1.1.1.1", 6000)), "any");
}

TEST(ListenerMatchTest, CriteriaAreAppliedInEnvoysOrder) {
  // Destination port is decided before the destination IP: the port-specific chain wins
  // although the other one has a more specific IP match.
  ListenerConfig l;
  auto port = chain("port");
  port.destination_port = 8080;
  auto ip = chain("ip");
  ip.prefix_ranges = {cidr("10.0.0.1", 32)};
  l.chains = {ip, port};
  EXPECT_EQ(matched(l, ep("10.0.0.1", 8080), ep("1.1.1.1", 1)), "port");
  EXPECT_EQ(matched(l, ep("10.0.0.1", 8081), ep("1.1.1.1", 1)), "ip");

  // Destination IP before source IP.
  ListenerConfig l2;
  auto dst = chain("dst");
  dst.prefix_ranges = {cidr("10.0.0.0", 8)};
  auto src = chain("src");
  src.source_prefix_ranges = {cidr("1.1.1.1", 32)};
  l2.chains = {src, dst};
  EXPECT_EQ(matched(l2, ep("10.0.0.1", 80), ep("1.1.1.1", 1)), "dst");
}

TEST(ListenerMatchTest, NoBacktrackingToALessSpecificChain) {
  // Envoy narrows step by step: once the port step picked the 8080 chain, a source
  // mismatch there means no match, not a fall back to the port-less chain.
  ListenerConfig l;
  auto strict = chain("8080 from 1.2.3.0/24");
  strict.destination_port = 8080;
  strict.source_prefix_ranges = {cidr("1.2.3.0", 24)};
  l.chains = {strict, chain("any")};
  EXPECT_EQ(matched(l, ep("10.0.0.1", 8080), ep("1.2.3.4", 1)), "8080 from 1.2.3.0/24");
  EXPECT_EQ(matched(l, ep("10.0.0.1", 8080), ep("5.5.5.5", 1)), "<none>");
  EXPECT_EQ(matched(l, ep("10.0.0.1", 8081), ep("5.5.5.5", 1)), "any");

  l.default_chain = chain("default");
  EXPECT_EQ(matched(l, ep("10.0.0.1", 8080), ep("5.5.5.5", 1)), "default");
  EXPECT_EQ(matched(l, ep("10.0.0.1", 8080), ep("1.2.3.4", 1)), "8080 from 1.2.3.0/24");
}

TEST(ListenerMatchTest, DefaultChainWhenNothingMatches) {
  ListenerConfig l;
  auto only = chain("10/8");
  only.prefix_ranges = {cidr("10.0.0.0", 8)};
  l.chains = {only};
  EXPECT_EQ(matched(l, ep("192.168.0.1", 80), ep("1.1.1.1", 1)), "<none>");
  l.default_chain = chain("default");
  EXPECT_EQ(matched(l, ep("192.168.0.1", 80), ep("1.1.1.1", 1)), "default");
  EXPECT_EQ(matched(l, ep("10.0.0.1", 80), ep("1.1.1.1", 1)), "10/8");
}

TEST(ListenerMatchTest, IPv6Ranges) {
  ListenerConfig l;
  auto v6 = chain("v6");
  v6.prefix_ranges = {cidr("2001:db8::", 32)};
  auto v4 = chain("v4");
  v4.prefix_ranges = {cidr("0.0.0.0", 0)};
  l.chains = {v4, v6};
  EXPECT_EQ(matched(l, ep("2001:db8::1", 80), ep("2001:db8::2", 1)), "v6");
  EXPECT_EQ(matched(l, ep("10.0.0.1", 80), ep("1.1.1.1", 1)), "v4");
  EXPECT_EQ(matched(l, ep("fe80::1", 80), ep("fe80::2", 1)), "<none>");
}

// ---------------------------------------------------------------------------------------------

// The filters of a chain written as "  - name: ..." (keys at four spaces).
constexpr const char* kTcpFilter = R"(    filters:
    - name: envoy.filters.network.tcp_proxy
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
        stat_prefix: tcp
        cluster: backend
)";

std::string compileError(const std::string& yaml) {
  stats::Store store(1);
  try {
    compileListener(fromYaml<envoy::config::listener::v3::Listener>(yaml), "listeners[0]", store);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "<no ConfigError>";
}

TEST(CompileListenerTest, TcpProxyListenerWithMatchRules) {
  stats::Store store(1);
  auto l = compileListener(fromYaml<envoy::config::listener::v3::Listener>(std::string(R"(
name: tcp_in
address: {socket_address: {address: 0.0.0.0, port_value: 15006}}
filter_chains:
  - name: to_8080
    filter_chain_match:
      destination_port: 8080
      prefix_ranges: [{address_prefix: 10.0.0.0, prefix_len: 8}, {address_prefix: 10.1.2.3}]
      source_type: SAME_IP_OR_LOOPBACK
      source_ports: [1000]
)") + kTcpFilter),
                           "listeners[0]", store);
  EXPECT_EQ(l->name, "tcp_in");
  EXPECT_EQ(l->address.toString(), "0.0.0.0:15006");
  ASSERT_EQ(l->chains.size(), 1u);
  const FilterChain& c = l->chains[0];
  EXPECT_EQ(c.name, "to_8080");
  EXPECT_EQ(c.destination_port, 8080u);
  ASSERT_EQ(c.prefix_ranges.size(), 2u);
  EXPECT_EQ(c.prefix_ranges[0].prefixLength(), 8u);
  EXPECT_EQ(c.prefix_ranges[1].prefixLength(), 32u);  // no prefix_len: the whole address
  EXPECT_EQ(c.source_type, FilterChain::SourceType::SameIpOrLoopback);
  EXPECT_EQ(c.source_ports, (std::vector<uint32_t>{1000}));
  ASSERT_NE(c.filter, nullptr);
  EXPECT_EQ(c.filter->rdsName(), "");  // tcp_proxy
  EXPECT_EQ(c.filter->referencedClusters("p"), (std::vector<std::pair<std::string, std::string>>{{"backend", "p"}}));
  EXPECT_EQ(l->stats->prefix(), "listener.0.0.0.0_15006.");
  EXPECT_FALSE(l->default_chain);
}

TEST(CompileListenerTest, Errors) {
  EXPECT_EQ(compileError("name: l\naddress: {socket_address: {address: 0.0.0.0, port_value: 1}}\n"),
            "listeners[0].filter_chains: a listener needs at least one filter chain");
  EXPECT_EQ(compileError(std::string("name: l\naddress: {socket_address: {address: my.host, port_value: 1}}\n"
                                     "filter_chains:\n  - name: c\n") +
                         kTcpFilter),
            "listeners[0].address.socket_address.address: 'my.host' is not an IP address");
  EXPECT_EQ(compileError(std::string("name: l\naddress: {socket_address: {address: 0.0.0.0, port_value: 1}}\n"
                                     "filter_chains:\n  - filter_chain_match: {prefix_ranges: [{address_prefix: "
                                     "10.0.0.0, prefix_len: 33}]}\n") +
                         kTcpFilter),
            "listeners[0].filter_chains[0].filter_chain_match.prefix_ranges[0]: '10.0.0.0/33' is not a valid CIDR "
            "range");
  EXPECT_THAT(
      compileError("name: l\naddress: {socket_address: {address: 0.0.0.0, port_value: 1}}\n"
                   "filter_chains:\n  - filters: []\n"),
      StartsWith("listeners[0].filter_chains[0].filters: a chain needs a terminal network filter"));
  EXPECT_THAT(compileError("name: l\naddress: {socket_address: {address: 0.0.0.0, port_value: 1}}\n"
                           "filter_chains:\n  - filters:\n    - name: envoy.filters.network.echo\n"),
              StartsWith("listeners[0].filter_chains[0].filters[0]: network filter 'envoy.filters.network.echo'"));
}

}  // namespace
}  // namespace weft::proxy::network
