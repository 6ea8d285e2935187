#pragma once
// Resolves STRICT_DNS and LOGICAL_DNS clusters with getaddrinfo on its own thread, every
// dns_refresh_rate, and reports host sets that changed. Resolution never blocks a worker.
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "proxy/upstream/cluster_config.h"

namespace weft::proxy::server {

class DnsRefresher {
 public:
  using OnChange = std::function<void(const std::string& cluster, std::shared_ptr<const upstream::HostSet>)>;
  // `on_change` runs on the refresher's thread; it must hand the result to the main loop.
  DnsRefresher(std::vector<std::shared_ptr<const upstream::ClusterConfig>> clusters, uint32_t stat_rows,
               OnChange on_change);
  ~DnsRefresher();

  // Resolves every cluster once, synchronously (startup), and returns the host sets.
  std::vector<std::pair<std::string, std::shared_ptr<const upstream::HostSet>>> resolveAll();
  void start();

 private:
  std::shared_ptr<const upstream::HostSet> resolve(const upstream::ClusterConfig& c, bool* ok);
  void run();

  struct Entry {
    std::shared_ptr<const upstream::ClusterConfig> config;
    std::vector<std::string> last;  // sorted address strings
    std::chrono::steady_clock::time_point next;
  };
  std::vector<Entry> entries_;
  uint32_t stat_rows_;
  OnChange on_change_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
};

}  // namespace weft::proxy::server
