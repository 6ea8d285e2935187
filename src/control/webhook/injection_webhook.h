#pragma once
// Istio's sidecar injector webhook (/inject on 15017): an AdmissionReview for a Pod in, the
// AdmissionReview with a JSONPatch that adds the sidecar out (common/inject, the same as
// `weftctl kube-inject`). The namespace's choice (istio-injection=enabled, istio.io/rev) is the
// MutatingWebhookConfiguration's namespaceSelector, as with Istio; the pod's own
// (sidecar.istio.io/inject, hostNetwork, an injected pod) is decided here. A pod that cannot be
// injected as written is denied with the reason, as Istio's injector denies it.
#include <string>

#include "common/inject/sidecar_injection.h"
#include "control/webhook/validation_webhook.h"

namespace weft::control::webhook {

WebhookReply injectAdmissionReview(const std::string& body, const inject::InjectionConfig& config);

}  // namespace weft::control::webhook
