#pragma once
// A WorkerContext for unit tests: a real reactor and random source, no clusters or RDS tables,
// a fixed date, and the access log entries it was asked to write.
#include <memory>
#include <string>
#include <vector>

#include "common/event/reactor.h"
#include "proxy/runtime/runtime_snapshot.h"
#include "proxy/stream_info.h"
#include "proxy/worker_context.h"

namespace weft::testing {

class TestWorker final : public proxy::WorkerContext {
 public:
  event::Reactor& reactor() override { return reactor_; }
  Random& random() override { return random_; }
  const proxy::runtime::Snapshot& runtime() const override { return runtime_; }
  std::shared_ptr<proxy::upstream::WorkerCluster> cluster(std::string_view, bool) override { return nullptr; }
  std::shared_ptr<const proxy::http::RouteTable> routeTable(const std::string&) const override { return nullptr; }
  std::shared_ptr<const proxy::network::ListenerConfig> listenerForAddress(const net::Address&) const override {
    return nullptr;
  }
  std::string_view httpDate() override { return "Thu, 01 Jan 1970 00:00:00 GMT"; }
  bool drainClose() const override { return false; }
  void addSession(proxy::network::ActiveSession*) override {}
  void removeSession(proxy::network::ActiveSession*) override {}
  void lingerClose(std::unique_ptr<net::Connection> conn) override { lingering.push_back(std::move(conn)); }
  void writeAccessLog(const proxy::access_log::AccessLogger&, const proxy::StreamInfo& info) override {
    logged_codes.push_back(info.response_code);
  }

  std::vector<std::unique_ptr<net::Connection>> lingering;
  std::vector<int> logged_codes;

 private:
  event::Reactor reactor_;
  Random random_{1};
  proxy::runtime::Snapshot runtime_;
};

}  // namespace weft::testing
