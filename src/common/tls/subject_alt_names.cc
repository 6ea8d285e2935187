#include "common/tls/subject_alt_names.h"

#include <openssl/x509v3.h>

namespace weft::tls {

std::vector<std::string> subjectAltNames(X509* cert, int type) {
  std::vector<std::string> out;
  if (cert == nullptr) return out;
  auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; names != nullptr && i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(names, i);
    if (n->type != type) continue;
    // URI, DNS and email names are all IA5Strings in the same union.
    const ASN1_STRING* s = n->d.ia5;
    out.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     static_cast<size_t>(ASN1_STRING_length(s)));
  }
  GENERAL_NAMES_free(names);
  return out;
}

}  // namespace weft::tls
