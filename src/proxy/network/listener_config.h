#pragma once
// A compiled envoy.config.listener.v3.Listener: address, filter chains and their match rules.
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/net/address.h"
#include "common/stats/stats.h"
#include "common/tls/tls_context.h"
#include "proxy/tls/context_source.h"

namespace weft::proxy::tls {
class SdsSecrets;
}
#include "envoy/config/listener/v3/listener.pb.h"
#include "proxy/network/network_filter.h"

namespace weft::proxy::network {

#define WEFT_LISTENER_STATS(COUNTER, GAUGE)                                                     \
  COUNTER(downstream_cx_total)                                                                  \
  GAUGE(downstream_cx_active)                                                                   \
  COUNTER(downstream_cx_destroy) COUNTER(no_filter_chain_match) COUNTER(downstream_cx_overflow) \
      COUNTER(downstream_listener_filter_error)
WEFT_STATS_STRUCT(ListenerStats, WEFT_LISTENER_STATS)

// What the listener filters learned about a new connection before a chain is chosen.
struct ConnectionHints {
  std::string_view server_name;               // SNI, empty when none
  std::string_view transport = "raw_buffer";  // "tls" when a ClientHello was seen
  std::vector<std::string_view> alpn;         // offered by the client
};

struct FilterChain {
  std::string name;
  std::optional<uint32_t> destination_port;
  std::vector<net::CidrRange> prefix_ranges;
  std::vector<net::CidrRange> source_prefix_ranges;
  std::vector<uint32_t> source_ports;
  enum class SourceType { Any, SameIpOrLoopback, External } source_type = SourceType::Any;
  std::vector<std::string> server_names;  // exact, or "*.suffix"
  std::string transport_protocol;         // "", "tls" or "raw_buffer"
  std::vector<std::string> application_protocols;
  std::shared_ptr<const proxy::tls::ContextSource> tls;  // downstream TLS; null: plaintext
  std::shared_ptr<const NetworkFilter> filter;  // the chain's first filter (its gates, then the terminal one)
};

struct ListenerConfig {
  std::string name;
  net::Address address;
  std::vector<FilterChain> chains;
  std::optional<FilterChain> default_chain;
  uint32_t buffer_limit = 1024 * 1024;
  bool bind_to_port = true;    // false: reached only by hand-off from another listener
  bool tls_inspector = false;  // envoy.filters.listener.tls_inspector
  // envoy.filters.listener.original_dst: the connection's local address is the one it had
  // before an iptables REDIRECT (SO_ORIGINAL_DST).
  bool original_dst = false;
  // use_original_dst: hand the connection to the listener of that original address, if any.
  bool use_original_dst = false;
  std::chrono::milliseconds listener_filters_timeout{15000};
  std::shared_ptr<stats::Scope> stats;
  envoy::config::listener::v3::Listener source;

  // Envoy's order: destination port, destination IP, server name, transport protocol,
  // application protocols, source type, source IP, source port; at each step the most
  // specific match wins. Null when no chain matches.
  const FilterChain* match(const net::Address& local, const net::Address& remote,
                           const ConnectionHints& hints = {}) const;
};

// Throws ConfigError naming `path`. `sds` serves the TLS contexts that use SDS secrets.
std::shared_ptr<const ListenerConfig> compileListener(const envoy::config::listener::v3::Listener& l,
                                                      const std::string& path, stats::Store& store,
                                                      proxy::tls::SdsSecrets* sds = nullptr);

}  // namespace weft::proxy::network
