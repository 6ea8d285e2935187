#include "control/kube/reflector.h"

#include <spdlog/spdlog.h>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <random>

namespace weft::control::kube {

namespace {

namespace asio = boost::asio;

std::string percentEncoded(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::string metadataField(const nlohmann::json& obj, const char* key) {
  auto md = obj.find("metadata");
  if (md == obj.end() || !md->is_object()) return {};
  auto it = md->find(key);
  return it != md->end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::mt19937_64& rng() {
  thread_local std::mt19937_64 r{std::random_device{}()};
  return r;
}

}  // namespace

std::shared_ptr<const KubeObject> Reflector::object(nlohmann::json j) const {
  j["kind"] = type_.kind;
  j["apiVersion"] = type_.api_version;
  return std::make_shared<const KubeObject>(std::move(j));
}

asio::awaitable<void> Reflector::run() {
  for (;;) {
    auto listed = std::chrono::steady_clock::now();
    if (!co_await list()) {
      co_await backoff();
      continue;
    }
    for (;;) {
      WatchEnd end = co_await watch();
      if (end == WatchEnd::Relist) {
        stats_.relists++;
        spdlog::info("kubernetes {}: resourceVersion {} is gone (410); listing again", type_.kind, resource_version_);
        if (std::chrono::steady_clock::now() - listed < std::chrono::seconds(1)) co_await backoff();
        break;
      }
      if (end == WatchEnd::Backoff) co_await backoff();
    }
  }
}

asio::awaitable<bool> Reflector::list() {
  std::vector<std::shared_ptr<const KubeObject>> objects;
  std::string cont, version;
  do {
    weft::kube::Request req;
    req.target = std::string(type_.path) + "?limit=" + std::to_string(options_.page_size);
    if (!cont.empty()) req.target += "&continue=" + percentEncoded(cont);
    req.timeout = options_.request_timeout;
    weft::kube::ApiResponse resp = co_await client_.call(req);
    if (resp.status == 410 && !cont.empty()) {
      // The continue token expired between pages: the list starts again, whole.
      spdlog::info("kubernetes {}: the list's continue token expired; listing again", type_.kind);
      objects.clear();
      cont.clear();
      continue;
    }
    std::string why = resp.error;
    nlohmann::json body;
    if (why.empty() && !resp.ok()) {
      why = "GET " + client_.server().url() + req.target + ": HTTP " + std::to_string(resp.status) + " " +
            resp.body.substr(0, 512);
    }
    if (why.empty()) {
      body = nlohmann::json::parse(resp.body, nullptr, false);
      if (body.is_discarded() || !body.is_object() || !body["items"].is_array())
        why =
            "GET " + client_.server().url() + req.target + ": the answer is not a " + std::string(type_.kind) + "List";
    }
    if (!why.empty()) {
      stats_.errors++;
      if (why != last_error_) spdlog::warn("kubernetes {}: list failed: {}", type_.kind, why);
      last_error_ = why;
      co_return false;
    }
    for (auto& item : body["items"]) {
      if (!item.is_object()) continue;
      objects.push_back(object(std::move(item)));
    }
    version = metadataField(body, "resourceVersion");
    cont = metadataField(body, "continue");
  } while (!cont.empty());
  resource_version_ = version;
  size_t n = objects.size();
  store_.replace(std::string(type_.kind), std::move(objects));
  stats_.lists++;
  stats_.synced = true;
  next_backoff_ = std::chrono::milliseconds(0);
  last_error_.clear();
  spdlog::debug("kubernetes {}: listed {} at resourceVersion {}", type_.kind, n, version);
  co_return true;
}

void Reflector::onEvent(std::string_view line, WatchEnd& end) {
  if (end == WatchEnd::Relist) return;
  nlohmann::json ev = nlohmann::json::parse(line, nullptr, false);
  auto bad = [&](const std::string& why) {
    stats_.errors++;
    spdlog::warn("kubernetes {}: watch event left out: {}", type_.kind, why);
  };
  if (ev.is_discarded() || !ev.is_object() || !ev["type"].is_string() || !ev["object"].is_object())
    return bad("not a watch event (a JSON object with type and object)");
  std::string type = ev["type"].get<std::string>();
  nlohmann::json& obj = ev["object"];
  if (type == "ERROR") {
    int code = obj.value("code", 0);
    std::string message = obj.value("message", std::string());
    if (code == 410) {
      end = WatchEnd::Relist;
      return;
    }
    stats_.errors++;
    spdlog::warn("kubernetes {}: watch error {}: {}", type_.kind, code, message);
    end = WatchEnd::Backoff;
    return;
  }
  std::string version = metadataField(obj, "resourceVersion");
  if (type == "BOOKMARK") {
    stats_.bookmarks++;
    if (!version.empty()) resource_version_ = version;
    return;
  }
  if (type != "ADDED" && type != "MODIFIED" && type != "DELETED") return bad("unknown event type '" + type + "'");
  if (metadataField(obj, "name").empty()) return bad(type + " of an object without metadata.name");
  stats_.events++;
  if (!version.empty()) resource_version_ = version;
  if (type == "DELETED") {
    store_.remove(std::string(type_.kind), metadataField(obj, "namespace"), metadataField(obj, "name"));
  } else {
    store_.put(object(std::move(obj)));
  }
}

asio::awaitable<Reflector::WatchEnd> Reflector::watch() {
  auto min = options_.min_watch_timeout.count();
  auto timeout_s = min + static_cast<int64_t>(rng()() % static_cast<uint64_t>(std::max<int64_t>(min, 1)));
  weft::kube::Request req;
  req.target = std::string(type_.path) +
               "?watch=1&allowWatchBookmarks=true&resourceVersion=" + percentEncoded(resource_version_) +
               "&timeoutSeconds=" + std::to_string(timeout_s);
  req.timeout = options_.request_timeout;
  req.body_timeout = std::chrono::seconds(timeout_s + 30);
  req.max_body = options_.max_object_bytes;
  stats_.watches++;
  WatchEnd end = WatchEnd::Resume;
  uint64_t events_before = stats_.events + stats_.bookmarks;
  auto started = std::chrono::steady_clock::now();
  weft::kube::ApiResponse resp = co_await client_.stream(req, [&](std::string_view line) { onEvent(line, end); });
  if (resp.status == 410) co_return WatchEnd::Relist;
  if (end == WatchEnd::Relist) co_return end;
  if (!resp.error.empty() || !resp.ok()) {
    stats_.errors++;
    std::string why =
        !resp.error.empty() ? resp.error : "HTTP " + std::to_string(resp.status) + " " + resp.body.substr(0, 512);
    if (why != last_error_) spdlog::warn("kubernetes {}: watch failed: {}", type_.kind, why);
    last_error_ = why;
    co_return WatchEnd::Backoff;
  }
  if (stats_.events + stats_.bookmarks > events_before) {
    next_backoff_ = std::chrono::milliseconds(0);
    last_error_.clear();
  } else if (end == WatchEnd::Resume && std::chrono::steady_clock::now() - started < std::chrono::seconds(1)) {
    co_return WatchEnd::Backoff;  // a server that ends every watch at once is not asked in a tight loop
  }
  co_return end;
}

asio::awaitable<void> Reflector::backoff() {
  next_backoff_ =
      next_backoff_.count() == 0 ? options_.initial_backoff : std::min(next_backoff_ * 2, options_.max_backoff);
  // Jitter 1.0, as client-go's: somewhere in [d, 2d).
  auto d = next_backoff_ + std::chrono::milliseconds(rng()() % static_cast<uint64_t>(next_backoff_.count() + 1));
  asio::steady_timer timer(co_await asio::this_coro::executor);
  timer.expires_after(d);
  co_await timer.async_wait(asio::use_awaitable);
}

}  // namespace weft::control::kube
