#include "proxy/network/listener_config.h"

#include <cctype>

#include "common/config/error.h"
#include "envoy/extensions/filters/listener/original_dst/v3/original_dst.pb.h"
#include "envoy/extensions/filters/listener/tls_inspector/v3/tls_inspector.pb.h"
#include "proxy/tls/tls_config.h"

namespace weft::proxy::network {

namespace lv3 = envoy::config::listener::v3;

namespace {

std::vector<net::CidrRange> compileRanges(
    const google::protobuf::RepeatedPtrField<envoy::config::core::v3::CidrRange>& in, const std::string& path) {
  std::vector<net::CidrRange> out;
  for (int i = 0; i < in.size(); ++i) {
    uint32_t len = in[i].has_prefix_len() ? in[i].prefix_len().value()
                                          : (in[i].address_prefix().find(':') != std::string::npos ? 128 : 32);
    auto r = net::CidrRange::parse(in[i].address_prefix(), len);
    if (!r) {
      throw ConfigError(path + "[" + std::to_string(i) + "]: '" + in[i].address_prefix() + "/" + std::to_string(len) +
                        "' is not a valid CIDR range");
    }
    out.push_back(*r);
  }
  return out;
}

FilterChain compileChain(const lv3::FilterChain& fc, const std::string& path, stats::Store& store, bool inbound,
                         proxy::tls::SdsSecrets* sds) {
  FilterChain out;
  out.name = fc.name();
  const auto& m = fc.filter_chain_match();
  if (m.has_destination_port()) out.destination_port = m.destination_port().value();
  out.prefix_ranges = compileRanges(m.prefix_ranges(), path + ".filter_chain_match.prefix_ranges");
  out.source_prefix_ranges = compileRanges(m.source_prefix_ranges(), path + ".filter_chain_match.source_prefix_ranges");
  for (uint32_t p : m.source_ports()) out.source_ports.push_back(p);
  switch (m.source_type()) {
    case lv3::FilterChainMatch::ANY:
      break;
    case lv3::FilterChainMatch::SAME_IP_OR_LOOPBACK:
      out.source_type = FilterChain::SourceType::SameIpOrLoopback;
      break;
    case lv3::FilterChainMatch::EXTERNAL:
      out.source_type = FilterChain::SourceType::External;
      break;
    default:
      throw ConfigError(path + ".filter_chain_match.source_type: unknown value");
  }
  for (const auto& n : m.server_names()) {
    std::string lower;
    for (char ch : n) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    out.server_names.push_back(lower);
  }
  out.transport_protocol = m.transport_protocol();
  if (!out.transport_protocol.empty() && out.transport_protocol != "tls" && out.transport_protocol != "raw_buffer") {
    throw ConfigError(path + ".filter_chain_match.transport_protocol: '" + out.transport_protocol +
                      "' is not one of tls, raw_buffer");
  }
  for (const auto& a : m.application_protocols()) out.application_protocols.push_back(a);
  if (fc.has_transport_socket()) {
    out.tls = proxy::tls::compileDownstreamTransportSocket(fc.transport_socket(), path + ".transport_socket", sds);
  }
  if (fc.filters_size() == 0) {
    throw ConfigError(path +
                      ".filters: a chain needs a terminal network filter "
                      "(envoy.filters.network.http_connection_manager or envoy.filters.network.tcp_proxy)");
  }
  // The last filter ends the chain; each one before it is a gate in front of the rest, or a
  // watcher whose observer the terminal filter's sessions call.
  std::vector<const NetworkFilterFactory*> factories;
  for (int i = 0; i < fc.filters_size(); ++i) {
    const auto& f = fc.filters(i);
    std::string fpath = path + ".filters[" + std::to_string(i) + "]";
    const NetworkFilterFactory* factory = findNetworkFilter(f.typed_config());
    if (factory == nullptr) {
      throw ConfigError(fpath + ": network filter '" + f.name() + "' (" + f.typed_config().type_url() +
                        ") is not supported by weft-proxy");
    }
    bool last = i == fc.filters_size() - 1;
    if (factory->terminal() != last) {
      throw ConfigError(fpath + ": '" + f.name() + "' " +
                        (last ? "cannot end a filter chain (put tcp_proxy or http_connection_manager after it)"
                              : "must be the last filter of its chain"));
    }
    factories.push_back(factory);
  }
  NetworkFilterContext ctx{store, inbound, nullptr, {}};
  for (int i = 0; i + 1 < fc.filters_size(); ++i) {
    if (factories[static_cast<size_t>(i)]->observer())
      ctx.observers.push_back(factories[static_cast<size_t>(i)]->compileObserver(
          fc.filters(i).typed_config(), path + ".filters[" + std::to_string(i) + "].typed_config", ctx));
  }
  std::shared_ptr<const NetworkFilter> next;
  for (int i = fc.filters_size() - 1; i >= 0; --i) {
    const NetworkFilterFactory* factory = factories[static_cast<size_t>(i)];
    if (factory->observer()) continue;
    ctx.next = next;
    next =
        factory->compile(fc.filters(i).typed_config(), path + ".filters[" + std::to_string(i) + "].typed_config", ctx);
    ctx.observers.clear();  // only the terminal filter takes them
  }
  out.filter = std::move(next);
  return out;
}

bool isLoopback(const net::Address& a) {
  static const auto v4 = *net::CidrRange::parse("127.0.0.0", 8);
  static const auto v6 = *net::CidrRange::parse("::1", 128);
  return v4.contains(a) || v6.contains(a);
}

// Keeps the candidates with the most specific match for one criterion. `score` returns -1
// for "does not match", 0 for "matches because unset", higher for more specific matches.
template <typename Score>
void narrow(std::vector<const FilterChain*>& c, Score score) {
  int best = -1;
  for (const auto* fc : c) best = std::max(best, score(*fc));
  std::vector<const FilterChain*> kept;
  if (best >= 0) {
    for (const auto* fc : c) {
      if (score(*fc) == best) kept.push_back(fc);
    }
  }
  c.swap(kept);
}

int rangeScore(const std::vector<net::CidrRange>& ranges, const net::Address& a) {
  if (ranges.empty()) return 0;
  int best = -1;
  for (const auto& r : ranges) {
    if (r.contains(a)) best = std::max(best, static_cast<int>(r.prefixLength()) + 1);
  }
  return best;
}

bool equalsLower(std::string_view a, std::string_view lower) {
  if (a.size() != lower.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != lower[i]) return false;
  }
  return true;
}

int serverNameScore(const std::vector<std::string>& names, std::string_view sni) {
  if (names.empty()) return 0;
  int best = -1;
  for (const auto& n : names) {
    if (n.size() == sni.size() && equalsLower(sni, n)) return 1 << 20;  // exact beats any wildcard
    if (n.size() > 1 && n[0] == '*' && sni.size() > n.size() - 1 &&
        equalsLower(sni.substr(sni.size() - (n.size() - 1)), std::string_view(n).substr(1))) {
      best = std::max(best, static_cast<int>(n.size()));  // longer suffix: more specific
    }
  }
  return best;
}

}  // namespace

const FilterChain* ListenerConfig::match(const net::Address& local, const net::Address& remote,
                                         const ConnectionHints& hints) const {
  if (chains.size() == 1 && !chains[0].destination_port && chains[0].prefix_ranges.empty() &&
      chains[0].source_prefix_ranges.empty() && chains[0].source_ports.empty() &&
      chains[0].source_type == FilterChain::SourceType::Any && chains[0].server_names.empty() &&
      chains[0].transport_protocol.empty() && chains[0].application_protocols.empty()) {
    return &chains[0];
  }
  std::vector<const FilterChain*> c;
  for (const auto& fc : chains) c.push_back(&fc);
  narrow(c, [&](const FilterChain& fc) {
    if (!fc.destination_port) return 0;
    return *fc.destination_port == local.port() ? 1 : -1;
  });
  narrow(c, [&](const FilterChain& fc) { return rangeScore(fc.prefix_ranges, local); });
  narrow(c, [&](const FilterChain& fc) { return serverNameScore(fc.server_names, hints.server_name); });
  narrow(c, [&](const FilterChain& fc) {
    if (fc.transport_protocol.empty()) return 0;
    return fc.transport_protocol == hints.transport ? 1 : -1;
  });
  narrow(c, [&](const FilterChain& fc) {
    if (fc.application_protocols.empty()) return 0;
    for (const auto& a : fc.application_protocols) {
      for (auto offered : hints.alpn) {
        if (offered == a) return 1;
      }
    }
    return -1;
  });
  narrow(c, [&](const FilterChain& fc) {
    bool local_src = isLoopback(remote) || remote.ip() == local.ip();
    switch (fc.source_type) {
      case FilterChain::SourceType::Any:
        return 0;
      case FilterChain::SourceType::SameIpOrLoopback:
        return local_src ? 1 : -1;
      case FilterChain::SourceType::External:
        return local_src ? -1 : 1;
    }
    return 0;
  });
  narrow(c, [&](const FilterChain& fc) { return rangeScore(fc.source_prefix_ranges, remote); });
  narrow(c, [&](const FilterChain& fc) {
    if (fc.source_ports.empty()) return 0;
    for (uint32_t p : fc.source_ports) {
      if (p == remote.port()) return 1;
    }
    return -1;
  });
  if (!c.empty()) return c.front();
  return default_chain ? &*default_chain : nullptr;
}

std::shared_ptr<const ListenerConfig> compileListener(const lv3::Listener& l, const std::string& path,
                                                      stats::Store& store, proxy::tls::SdsSecrets* sds) {
  auto out = std::make_shared<ListenerConfig>();
  out->name = l.name();
  out->source = l;
  if (!l.address().has_socket_address()) throw ConfigError(path + ".address: a socket_address is required");
  const auto& sa = l.address().socket_address();
  if (sa.protocol() != envoy::config::core::v3::SocketAddress::TCP) {
    throw ConfigError(path + ".address.socket_address.protocol: only TCP listeners are supported by weft-proxy");
  }
  if (sa.port_value() > 65535) throw ConfigError(path + ".address.socket_address.port_value: must be 0-65535");
  auto addr = net::Address::parse(sa.address(), static_cast<uint16_t>(sa.port_value()));
  if (!addr) {
    throw ConfigError(path + ".address.socket_address.address: '" + sa.address() + "' is not an IP address");
  }
  out->address = *addr;
  if (out->name.empty()) out->name = addr->toString();
  out->bind_to_port = !l.has_bind_to_port() || l.bind_to_port().value();
  out->use_original_dst = l.has_use_original_dst() && l.use_original_dst().value();
  if (l.has_per_connection_buffer_limit_bytes()) out->buffer_limit = l.per_connection_buffer_limit_bytes().value();
  if (out->buffer_limit < 1024) out->buffer_limit = 1024;
  for (int i = 0; i < l.listener_filters_size(); ++i) {
    const auto& f = l.listener_filters(i);
    std::string fpath = path + ".listener_filters[" + std::to_string(i) + "]";
    if (f.typed_config().Is<envoy::extensions::filters::listener::tls_inspector::v3::TlsInspector>() ||
        (!f.has_typed_config() && f.name() == "envoy.filters.listener.tls_inspector")) {
      out->tls_inspector = true;
    } else if (f.typed_config().Is<envoy::extensions::filters::listener::original_dst::v3::OriginalDst>() ||
               (!f.has_typed_config() && f.name() == "envoy.filters.listener.original_dst")) {
      out->original_dst = true;
    } else {
      throw ConfigError(fpath + ": listener filter '" + f.name() + "' (" + f.typed_config().type_url() +
                        ") is not supported by weft-proxy");
    }
  }
  if (l.has_listener_filters_timeout()) {
    out->listener_filters_timeout = std::chrono::milliseconds(l.listener_filters_timeout().seconds() * 1000 +
                                                              l.listener_filters_timeout().nanos() / 1000000);
  }
  if (l.filter_chains_size() == 0 && !l.has_default_filter_chain()) {
    throw ConfigError(path + ".filter_chains: a listener needs at least one filter chain");
  }
  bool inbound = l.traffic_direction() == envoy::config::core::v3::INBOUND;
  for (int i = 0; i < l.filter_chains_size(); ++i) {
    out->chains.push_back(
        compileChain(l.filter_chains(i), path + ".filter_chains[" + std::to_string(i) + "]", store, inbound, sds));
  }
  if (l.has_default_filter_chain())
    out->default_chain = compileChain(l.default_filter_chain(), path + ".default_filter_chain", store, inbound, sds);
  for (const auto& fc : out->chains) {
    // As Envoy does: chains that match on what only a ClientHello tells need the inspector.
    if (!fc.server_names.empty() || fc.transport_protocol == "tls" || !fc.application_protocols.empty()) {
      out->tls_inspector = true;
    }
  }
  std::string stat_name = l.stat_prefix().empty() ? addr->ip() + "_" + std::to_string(addr->port()) : l.stat_prefix();
  out->stats = store.scope("listener." + stat_name + ".", ListenerStats::kDefs, ListenerStats::kCount,
                           {{"envoy_listener_address", stat_name}});
  return out;
}

}  // namespace weft::proxy::network
