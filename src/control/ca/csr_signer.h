#pragma once
// Workload certificates from CSRs, as Istio's CA signs them: the identity comes from the
// caller's credential (never from the CSR), as a critical URI SAN
// spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>; digitalSignature and
// keyEncipherment, serverAuth and clientAuth; 2 minutes of clock-skew grace; the lifetime asked
// for (24 h by default) up to a maximum, and never past the signing certificate.
#include <chrono>
#include <string>
#include <vector>

#include "control/ca/ca_bundle.h"

namespace weft::control::ca {

struct WorkloadIdentity {
  std::string trust_domain, ns, service_account;
  std::string spiffe() const { return "spiffe://" + trust_domain + "/ns/" + ns + "/sa/" + service_account; }
};

struct SignPolicy {
  std::chrono::seconds default_ttl{24 * 3600};
  std::chrono::seconds max_ttl{90 * 24 * 3600};  // Istio's MAX_WORKLOAD_CERT_TTL
};

struct SignResult {
  std::vector<std::string> cert_chain;  // leaf, cert-chain.pem (if any), root: IstioCertificateResponse's order
  std::string error;                    // empty on success; says what is wrong with the request
};

// `requested_ttl` 0: the default. Refuses a CSR that does not parse or verify, a weak key
// (RSA under 2048 bits, EC other than P-256/P-384), a SAN other than the caller's identity,
// and a lifetime over the maximum.
SignResult signCsr(const CaBundle& ca, const WorkloadIdentity& who, const std::string& csr_pem,
                   std::chrono::seconds requested_ttl, const SignPolicy& policy = {});

}  // namespace weft::control::ca
