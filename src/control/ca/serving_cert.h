#pragma once
// weftd's own TLS certificate for 15012 (and later 15017), signed by its CA as istiod's is, so
// that workloads trust it through root-cert.pem alone. DNS names as Istio's istiod
// (istiod.istio-system.svc, ...) plus those weftd is reached by here.
#include <chrono>
#include <string>
#include <vector>

#include "control/ca/ca_bundle.h"

namespace weft::control::ca {

struct ServingCertificate {
  std::string chain_pem;  // leaf, then cert-chain.pem if any (not the root)
  std::string key_pem;
};

// EC P-256 key; `names` are DNS names, or IP addresses (then IP SANs). Throws CaError.
ServingCertificate issueServingCertificate(const CaBundle& ca, const std::vector<std::string>& names,
                                           std::chrono::seconds ttl);

}  // namespace weft::control::ca
