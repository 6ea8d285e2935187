#include "control/xds/tls_origination.h"
#include "control/xds/pack.h"

#include "control/xds/istio_mtls.h"
#include "envoy/extensions/transport_sockets/tls/v3/tls.pb.h"
#include "envoy/extensions/upstreams/http/v3/http_protocol_options.pb.h"

namespace weft::control::xds {

namespace tlsv3 = envoy::extensions::transport_sockets::tls::v3;
namespace httpv3 = envoy::extensions::upstreams::http::v3;

const char* const kSystemRootsFile = "/etc/ssl/certs/ca-certificates.crt";

void applyTlsOrigination(const ClientTls& tls, bool http, bool http2, bool sds,
                         envoy::config::cluster::v3::Cluster& c) {
  tlsv3::UpstreamTlsContext u;
  auto* common = u.mutable_common_tls_context();
  common->mutable_tls_params()->set_tls_minimum_protocol_version(tlsv3::TlsParameters::TLSv1_2);
  u.set_sni(tls.sni);
  if (tls.mode == ClientTls::Mode::Mutual) {
    if (sds) {
      *common->add_tls_certificate_sds_secret_configs() =
          sdsSecret("file-cert:" + tls.client_certificate + "~" + tls.private_key);
    } else {
      auto* cert = common->add_tls_certificates();
      cert->mutable_certificate_chain()->set_filename(tls.client_certificate);
      cert->mutable_private_key()->set_filename(tls.private_key);
    }
  }
  if (tls.insecure_skip_verify) {
    common->mutable_validation_context();  // present and empty: nothing is verified
  } else {
    std::string ca = tls.ca_certificates.empty() ? "system" : tls.ca_certificates;
    tlsv3::CertificateValidationContext v;
    for (const auto& san : tls.subject_alt_names) v.add_match_subject_alt_names()->set_exact(san);
    if (sds) {
      auto* combined = common->mutable_combined_validation_context();
      *combined->mutable_default_validation_context() = v;
      *combined->mutable_validation_context_sds_secret_config() = sdsSecret("file-root:" + ca);
    } else {
      v.mutable_trusted_ca()->set_filename(ca == "system" ? kSystemRootsFile : ca);
      *common->mutable_validation_context() = v;
    }
  }
  if (http2) common->add_alpn_protocols("h2");
  *c.mutable_transport_socket() = tlsSocket(u);
  // Istio's setAutoSniAndAutoSanValidation, for HTTP clusters.
  if (!http || !tls.sni.empty()) return;
  const char* key = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions";
  httpv3::HttpProtocolOptions o;
  auto it = c.typed_extension_protocol_options().find(key);
  if (it != c.typed_extension_protocol_options().end()) it->second.UnpackTo(&o);
  if (o.upstream_protocol_options_case() == httpv3::HttpProtocolOptions::UPSTREAM_PROTOCOL_OPTIONS_NOT_SET)
    o.mutable_explicit_http_config()->mutable_http_protocol_options();
  o.mutable_upstream_http_protocol_options()->set_auto_sni(true);
  if (tls.subject_alt_names.empty() && !tls.insecure_skip_verify)
    o.mutable_upstream_http_protocol_options()->set_auto_san_validation(true);
  pack((*c.mutable_typed_extension_protocol_options())[key], o);
}

}  // namespace weft::control::xds
