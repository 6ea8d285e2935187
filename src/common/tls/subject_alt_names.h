#pragma once
// A certificate's subject alternative names of one kind (GEN_URI, GEN_DNS, ...), in order: what
// SPIFFE identities, RBAC principals and Istio's principal labels are read from.
#include <string>
#include <vector>

typedef struct x509_st X509;

namespace weft::tls {

std::vector<std::string> subjectAltNames(X509* cert, int type);

}  // namespace weft::tls
