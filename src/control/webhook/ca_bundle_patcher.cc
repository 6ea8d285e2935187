#include "control/webhook/ca_bundle_patcher.h"

#include <spdlog/spdlog.h>

#include <map>
#include <nlohmann/json.hpp>

#include "common/base64.h"

namespace weft::control::webhook {

std::string patchCaBundle(const weft::kube::ApiClient& client, const std::string& path, const std::string& ca_pem,
                          bool* patched) {
  if (patched) *patched = false;
  weft::kube::Request get;
  get.target = path;
  get.timeout = std::chrono::seconds(10);
  get.max_body = 4 << 20;
  auto got = client.callSync(get);
  if (!got.error.empty()) return got.error;
  if (got.status == 404) return "GET " + path + ": not found (are the manifests applied?)";
  if (!got.ok()) return "GET " + path + ": HTTP " + std::to_string(got.status) + " " + got.body.substr(0, 300);
  auto obj = nlohmann::json::parse(got.body, nullptr, false);
  if (obj.is_discarded() || !obj.is_object()) return "GET " + path + ": the answer is not a JSON object";
  const std::string bundle = base64Encode(ca_pem);
  nlohmann::json ops = nlohmann::json::array();
  std::string version = obj["metadata"].value("resourceVersion", "");
  if (!version.empty()) ops.push_back({{"op", "test"}, {"path", "/metadata/resourceVersion"}, {"value", version}});
  const auto& hooks = obj["webhooks"];
  for (size_t i = 0; hooks.is_array() && i < hooks.size(); ++i) {
    const auto& cc = hooks[i]["clientConfig"];
    if (cc.is_object() && cc.value("caBundle", "") == bundle) continue;
    std::string at = "/webhooks/" + std::to_string(i) + "/clientConfig";
    if (cc.is_object()) {
      ops.push_back({{"op", "add"}, {"path", at + "/caBundle"}, {"value", bundle}});
    } else {
      ops.push_back({{"op", "add"}, {"path", at}, {"value", {{"caBundle", bundle}}}});
    }
  }
  if (ops.size() <= (version.empty() ? 0u : 1u)) return "";
  weft::kube::Request patch;
  patch.method = "PATCH";
  patch.target = path;
  patch.content_type = "application/json-patch+json";
  patch.body = ops.dump();
  patch.timeout = std::chrono::seconds(10);
  patch.max_body = 4 << 20;
  auto put = client.callSync(patch);
  if (!put.error.empty()) return put.error;
  if (!put.ok()) return "PATCH " + path + ": HTTP " + std::to_string(put.status) + " " + put.body.substr(0, 300);
  if (patched) *patched = true;
  return "";
}

CaBundlePatcher::CaBundlePatcher(const weft::kube::ApiClient& client, std::vector<std::string> paths,
                                 std::string ca_pem, std::chrono::seconds period)
    : client_(client), paths_(std::move(paths)), ca_pem_(std::move(ca_pem)), period_(period) {
  thread_ = std::thread([this] { run(); });
}

CaBundlePatcher::~CaBundlePatcher() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void CaBundlePatcher::run() {
  std::map<std::string, std::string> last_error;  // logged when it changes
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    lock.unlock();
    for (const auto& path : paths_) {
      bool patched = false;
      std::string error = patchCaBundle(client_, path, ca_pem_, &patched);
      if (patched) spdlog::info("webhooks: caBundle of {} set to weftd's root", path);
      if (error != last_error[path] && !error.empty()) spdlog::warn("webhooks: caBundle of {}: {}", path, error);
      last_error[path] = error;
    }
    lock.lock();
    cv_.wait_for(lock, period_, [this] { return stop_; });
  }
}

}  // namespace weft::control::webhook
