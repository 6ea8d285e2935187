#pragma once
// Istio's validating admission webhook (/validate on 15017): a kube-apiserver AdmissionReview
// (admission.k8s.io/v1 or v1beta1) in, the AdmissionReview with weftd's verdict out. Every kind
// weftd knows goes through the one validation path (decodeResource); the verdict is Istio's:
// allowed: false with every error's field path in the message, Istio's warnings as warnings,
// and what only weftd cannot serve allowed with a warning. Unknown kinds and deletions are
// allowed, as Istio's webhook allows them.
#include <string>

#include "control/webhook/admission_review.h"

namespace weft::control::webhook {

WebhookReply validateAdmissionReview(const std::string& body);

}  // namespace weft::control::webhook
