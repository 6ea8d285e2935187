#include "control/kube/kube_source.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

namespace weft::control::kube {

KubeSource::KubeSource(weft::kube::ApiServer server, ReflectorOptions options, std::function<void()> on_change)
    : client_(std::move(server)),
      options_(options),
      store_(std::move(on_change)),
      io_(std::make_unique<boost::asio::io_context>(1)) {}

KubeSource::~KubeSource() { stop(); }

void KubeSource::stop() {
  io_->stop();
  if (thread_.joinable()) thread_.join();
}

void KubeSource::start() {
  for (size_t i = 0; i < kWatchedTypeCount; ++i) {
    reflectors_.push_back(std::make_unique<Reflector>(client_, kWatchedTypes[i], store_, options_, stats_[i]));
    boost::asio::co_spawn(*io_, reflectors_.back()->run(), boost::asio::detached);
  }
  thread_ = std::thread([this] { io_->run(); });
}

bool KubeSource::synced() const {
  for (const auto& s : stats_)
    if (!s.synced) return false;
  return true;
}

bool KubeSource::waitForSync(std::chrono::milliseconds timeout) const {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!synced()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

std::string KubeSource::metrics() const {
  struct Metric {
    const char* name;
    const char* type;
    const char* help;
    uint64_t (*value)(const ReflectorStats&);
  };
  static const Metric kMetrics[] = {
      {"weftd_kube_events_total", "counter", "Watch events applied (ADDED, MODIFIED, DELETED)",
       [](const ReflectorStats& s) { return s.events.load(); }},
      {"weftd_kube_bookmarks_total", "counter", "Watch BOOKMARK events",
       [](const ReflectorStats& s) { return s.bookmarks.load(); }},
      {"weftd_kube_lists_total", "counter", "Complete LISTs", [](const ReflectorStats& s) { return s.lists.load(); }},
      {"weftd_kube_relists_total", "counter", "LISTs again after 410 Gone",
       [](const ReflectorStats& s) { return s.relists.load(); }},
      {"weftd_kube_watches_total", "counter", "WATCH requests",
       [](const ReflectorStats& s) { return s.watches.load(); }},
      {"weftd_kube_errors_total", "counter", "Failed requests and events left out",
       [](const ReflectorStats& s) { return s.errors.load(); }},
      {"weftd_kube_synced", "gauge", "1 once the type's first LIST is in",
       [](const ReflectorStats& s) { return static_cast<uint64_t>(s.synced.load()); }},
  };
  std::string out;
  for (const auto& m : kMetrics) {
    out += std::string("# HELP ") + m.name + " " + m.help + "\n# TYPE " + m.name + " " + m.type + "\n";
    for (size_t i = 0; i < kWatchedTypeCount; ++i)
      out += std::string(m.name) + "{kind=\"" + std::string(kWatchedTypes[i].kind) + "\"} " +
             std::to_string(m.value(stats_[i])) + "\n";
  }
  out += "# HELP weftd_kube_objects Objects held from the Kubernetes API\n# TYPE weftd_kube_objects gauge\n";
  out += "weftd_kube_objects " + std::to_string(store_.size()) + "\n";
  return out;
}

}  // namespace weft::control::kube
