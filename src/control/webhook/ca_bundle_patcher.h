#pragma once
// Keeps the caBundle of weftd's MutatingWebhookConfiguration and ValidatingWebhookConfiguration
// equal to the root that signed the webhooks' serving certificate, as istiod's webhook
// controller does: at start and then every `period`, each webhook of each configuration whose
// caBundle differs is patched (a JSON patch, guarded by the resourceVersion read).
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/kube/api_client.h"

namespace weft::control::webhook {

// One pass over one configuration (`path`: the object's API path). "" when it is in step or
// was patched; else what went wrong.
std::string patchCaBundle(const weft::kube::ApiClient& client, const std::string& path, const std::string& ca_pem,
                          bool* patched = nullptr);

class CaBundlePatcher {
 public:
  CaBundlePatcher(const weft::kube::ApiClient& client, std::vector<std::string> paths, std::string ca_pem,
                  std::chrono::seconds period);
  ~CaBundlePatcher();

 private:
  void run();
  const weft::kube::ApiClient& client_;
  std::vector<std::string> paths_;
  std::string ca_pem_;
  std::chrono::seconds period_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace weft::control::webhook
