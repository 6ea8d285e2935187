#pragma once
// Compiles Envoy's transport_socket (envoy.transport_sockets.tls with DownstreamTlsContext or
// UpstreamTlsContext, or envoy.transport_sockets.raw_buffer) into a shared TLS context.
// Certificate files are read here, once; every error names the field path and the file.
#include <memory>
#include <string>
#include <vector>

#include "common/tls/tls_context.h"
#include "envoy/config/core/v3/base.pb.h"
#include "proxy/tls/context_source.h"

namespace weft::proxy::tls {

class SdsSecrets;

// Null for plaintext (raw_buffer). Throws ConfigError naming `path`. Certificates or a trusted
// CA from SDS (tls_certificate_sds_secret_configs, validation_context_sds_secret_config,
// combined_validation_context) need `sds`; the source is empty until they arrive.
std::shared_ptr<const ContextSource> compileDownstreamTransportSocket(
    const envoy::config::core::v3::TransportSocket& ts, const std::string& path, SdsSecrets* sds = nullptr);
// `default_alpn`: offered when the context names no alpn_protocols (auto_config's h2, http/1.1).
std::shared_ptr<const ContextSource> compileUpstreamTransportSocket(const envoy::config::core::v3::TransportSocket& ts,
                                                                    const std::string& path,
                                                                    const std::vector<std::string>& default_alpn = {},
                                                                    SdsSecrets* sds = nullptr);

// Reads a DataSource (filename, inline_string, inline_bytes) as PEM text.
weft::tls::PemSource readPem(const envoy::config::core::v3::DataSource& ds, const std::string& path);

}  // namespace weft::proxy::tls
