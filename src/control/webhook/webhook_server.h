#pragma once
// weftd's admission webhooks over HTTPS (Istio's 15017): /validate and /inject. The certificate
// is weftd's own (from its CA, or files), whose CA the webhook configurations carry as caBundle.
#include <functional>
#include <memory>
#include <string>

#include "common/http/admin_server.h"
#include "common/inject/sidecar_injection.h"

namespace weft::control::webhook {

// `injection`: the injector's settings now (the mesh config's defaultConfig changes with it).
// kube-apiserver sends at most a few MB per AdmissionReview (its request size limit is 3 MiB).
constexpr size_t kMaxAdmissionReviewBytes = 3 * 1024 * 1024 + 64 * 1024;

// Throws ConfigError when the address cannot be bound or the certificate is unusable.
std::unique_ptr<http::AdminServer> startWebhookServer(event::Reactor& reactor, const net::Address& address,
                                                      const std::string& chain_pem, const std::string& key_pem,
                                                      std::function<inject::InjectionConfig()> injection);

}  // namespace weft::control::webhook
