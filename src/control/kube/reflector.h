#pragma once
// One resource type kept in step with the API server, as client-go's reflector does: LIST
// (in pages, following `continue`), then WATCH from the list's resourceVersion with bookmarks;
// a watch that ends is resumed from the last resourceVersion seen; `410 Gone` (the version
// was compacted away) means LIST again; other errors wait a jittered, growing backoff.
#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <string>

#include "common/kube/api_client.h"
#include "control/kube/object_store.h"
#include "control/kube/watched_types.h"

namespace weft::control::kube {

struct ReflectorOptions {
  size_t page_size = 500;
  std::chrono::seconds min_watch_timeout{300};  // timeoutSeconds is random in [min, 2*min), as client-go's
  std::chrono::milliseconds initial_backoff{800};
  std::chrono::milliseconds max_backoff{30000};
  std::chrono::milliseconds request_timeout{60000};
  size_t max_object_bytes = 8 << 20;
};

struct ReflectorStats {
  std::atomic<uint64_t> events{0};     // ADDED, MODIFIED, DELETED
  std::atomic<uint64_t> bookmarks{0};  // BOOKMARK
  std::atomic<uint64_t> lists{0};      // complete LISTs
  std::atomic<uint64_t> relists{0};    // LISTs again after 410 Gone
  std::atomic<uint64_t> watches{0};    // WATCH requests
  std::atomic<uint64_t> errors{0};     // failed requests and bad events
  std::atomic<bool> synced{false};     // the first LIST is in
};

class Reflector {
 public:
  Reflector(const weft::kube::ApiClient& client, const WatchedType& type, ObjectStore& store, ReflectorOptions options,
            ReflectorStats& stats)
      : client_(client), type_(type), store_(store), options_(options), stats_(stats) {}
  boost::asio::awaitable<void> run();  // until its io_context stops

 private:
  enum class WatchEnd { Resume, Relist, Backoff };
  boost::asio::awaitable<bool> list();  // false: failed (the reason logged)
  boost::asio::awaitable<WatchEnd> watch();
  void onEvent(std::string_view line, WatchEnd& end);
  boost::asio::awaitable<void> backoff();
  std::shared_ptr<const KubeObject> object(nlohmann::json j) const;

  const weft::kube::ApiClient& client_;
  WatchedType type_;
  ObjectStore& store_;
  ReflectorOptions options_;
  ReflectorStats& stats_;
  std::string resource_version_;
  std::chrono::milliseconds next_backoff_{0};
  std::string last_error_;  // logged once per distinct error
};

}  // namespace weft::control::kube
