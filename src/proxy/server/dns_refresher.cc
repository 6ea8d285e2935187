#include "proxy/server/dns_refresher.h"

#include <netdb.h>
#include <netinet/in.h>

#include <algorithm>
#include <map>

namespace weft::proxy::server {

using upstream::ClusterConfig;

DnsRefresher::DnsRefresher(std::vector<std::shared_ptr<const ClusterConfig>> clusters, uint32_t stat_rows,
                           OnChange on_change)
    : stat_rows_(stat_rows), on_change_(std::move(on_change)) {
  for (auto& c : clusters) {
    if (c->type == ClusterConfig::Type::StrictDns || c->type == ClusterConfig::Type::LogicalDns) {
      entries_.push_back({c, {}, {}});
    }
  }
}

DnsRefresher::~DnsRefresher() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::shared_ptr<const upstream::HostSet> DnsRefresher::resolve(const ClusterConfig& c, bool* ok) {
  *ok = true;
  std::vector<std::shared_ptr<const upstream::Host>> hosts;
  std::string stat_name = c.source.alt_stat_name().empty() ? c.name : c.source.alt_stat_name();
  for (const auto& e : c.endpoints) {
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    switch (c.dns_family) {
      case ClusterConfig::DnsFamily::V4Only:
        hints.ai_family = AF_INET;
        break;
      case ClusterConfig::DnsFamily::V6Only:
        hints.ai_family = AF_INET6;
        break;
      default:
        hints.ai_family = AF_UNSPEC;
    }
    addrinfo* res = nullptr;
    if (getaddrinfo(e.address.c_str(), nullptr, &hints, &res) != 0 || res == nullptr) {
      *ok = false;
      continue;
    }
    std::vector<net::Address> found;
    for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
      auto a = net::Address::fromSockaddr(ai->ai_addr, ai->ai_addrlen);
      a.setPort(e.port);
      if (std::find(found.begin(), found.end(), a) == found.end()) found.push_back(a);
    }
    freeaddrinfo(res);
    // AUTO prefers IPv6, V4_PREFERRED IPv4; ALL keeps both.
    if (c.dns_family == ClusterConfig::DnsFamily::Auto || c.dns_family == ClusterConfig::DnsFamily::V4Preferred) {
      int preferred = c.dns_family == ClusterConfig::DnsFamily::Auto ? AF_INET6 : AF_INET;
      bool has_preferred =
          std::any_of(found.begin(), found.end(), [&](const net::Address& a) { return a.family() == preferred; });
      if (has_preferred) {
        found.erase(
            std::remove_if(found.begin(), found.end(), [&](const net::Address& a) { return a.family() != preferred; }),
            found.end());
      }
    }
    if (c.type == ClusterConfig::Type::LogicalDns && found.size() > 1) found.resize(1);
    for (const auto& a : found) {
      auto h = upstream::makeHost(a, e.weight, stat_name, e.address, stat_rows_);
      h->priority = e.priority;
      h->locality = e.locality;
      hosts.push_back(std::move(h));
    }
  }
  return upstream::makeHostSet(std::move(hosts), c.locality_weights, c.overprovisioning_factor);
}

std::vector<std::pair<std::string, std::shared_ptr<const upstream::HostSet>>> DnsRefresher::resolveAll() {
  std::vector<std::pair<std::string, std::shared_ptr<const upstream::HostSet>>> out;
  auto now = std::chrono::steady_clock::now();
  for (auto& e : entries_) {
    bool ok;
    auto set = resolve(*e.config, &ok);
    e.config->stats->inc(ok ? upstream::ClusterStats::update_success : upstream::ClusterStats::update_failure);
    e.last.clear();
    for (const auto& h : set->hosts) e.last.push_back(h->address_string);
    std::sort(e.last.begin(), e.last.end());
    e.next = now + e.config->dns_refresh;
    out.emplace_back(e.config->name, set);
  }
  return out;
}

void DnsRefresher::start() {
  if (entries_.empty()) return;
  thread_ = std::thread([this] { run(); });
}

void DnsRefresher::run() {
  stats::tls_row = stat_rows_ - 1;  // the row reserved for helper threads
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    auto next = entries_.front().next;
    for (const auto& e : entries_) next = std::min(next, e.next);
    if (cv_.wait_until(lock, next, [this] { return stop_; })) return;
    auto now = std::chrono::steady_clock::now();
    for (auto& e : entries_) {
      if (e.next > now) continue;
      e.next = now + e.config->dns_refresh;
      lock.unlock();
      bool ok;
      auto set = resolve(*e.config, &ok);
      lock.lock();
      if (stop_) return;
      e.config->stats->inc(ok ? upstream::ClusterStats::update_success : upstream::ClusterStats::update_failure);
      if (!ok && set->hosts.empty()) continue;  // keep the last good answer through a DNS outage
      std::vector<std::string> addrs;
      for (const auto& h : set->hosts) addrs.push_back(h->address_string);
      std::sort(addrs.begin(), addrs.end());
      if (addrs == e.last) continue;
      e.last = addrs;
      on_change_(e.config->name, set);
    }
  }
}

}  // namespace weft::proxy::server
