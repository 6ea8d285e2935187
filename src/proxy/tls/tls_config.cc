#include "proxy/tls/tls_config.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/config/error.h"
#include "envoy/extensions/transport_sockets/raw_buffer/v3/raw_buffer.pb.h"
#include "envoy/extensions/transport_sockets/tls/v3/tls.pb.h"
#include "proxy/http/matchers.h"
#include "proxy/tls/sds_secrets.h"

namespace weft::proxy::tls {

namespace tlsv3 = envoy::extensions::transport_sockets::tls::v3;
using weft::tls::ContextOptions;
using weft::tls::PemSource;
using weft::tls::SanMatcher;

weft::tls::PemSource readPem(const envoy::config::core::v3::DataSource& ds, const std::string& path) {
  PemSource out;
  out.field = path;
  switch (ds.specifier_case()) {
    case envoy::config::core::v3::DataSource::kFilename: {
      out.origin = "file '" + ds.filename() + "'";
      std::ifstream in(ds.filename(), std::ios::binary);
      if (!in) throw ConfigError(path + ": cannot read file '" + ds.filename() + "': " + std::strerror(errno));
      std::ostringstream ss;
      ss << in.rdbuf();
      out.pem = ss.str();
      if (out.pem.empty()) throw ConfigError(path + ": file '" + ds.filename() + "' is empty");
      return out;
    }
    case envoy::config::core::v3::DataSource::kInlineString:
      out.origin = "inline_string";
      out.pem = ds.inline_string();
      return out;
    case envoy::config::core::v3::DataSource::kInlineBytes:
      out.origin = "inline_bytes";
      out.pem = ds.inline_bytes();
      return out;
    default:
      throw ConfigError(path + ": one of filename, inline_string or inline_bytes is required");
  }
}

namespace {

int tlsVersion(tlsv3::TlsParameters::TlsProtocol v, int fallback, const std::string& path) {
  switch (v) {
    case tlsv3::TlsParameters::TLS_AUTO:
      return fallback;
    case tlsv3::TlsParameters::TLSv1_2:
      return TLS1_2_VERSION;
    case tlsv3::TlsParameters::TLSv1_3:
      return TLS1_3_VERSION;
    default:
      throw ConfigError(path + ": TLS versions before 1.2 are not supported by weft-proxy");
  }
}

std::string joined(const google::protobuf::RepeatedPtrField<std::string>& v) {
  std::string out;
  for (const auto& s : v) {
    if (!out.empty()) out += ':';
    out += s;
  }
  return out;
}

SanMatcher sanMatcher(SanMatcher::Type type, const envoy::type::matcher::v3::StringMatcher& m,
                      const std::string& path) {
  auto compiled = std::make_shared<http::StringMatcher>(http::StringMatcher::compile(m, path));
  return SanMatcher{type, [compiled](std::string_view v) { return compiled->match(v); }};
}

struct CommonOptions {
  ContextOptions options;
  const tlsv3::SdsSecretConfig* certificate_sds = nullptr;
  const tlsv3::SdsSecretConfig* validation_sds = nullptr;
};

void addValidation(const tlsv3::CertificateValidationContext& v, const std::string& vpath, ContextOptions& o);

CommonOptions commonOptions(const tlsv3::CommonTlsContext& c, bool server, const std::string& path) {
  CommonOptions out;
  ContextOptions& o = out.options;
  o.server = server;
  o.path = path;
  const std::string cpath = path + ".common_tls_context";
  if (c.tls_certificate_sds_secret_configs_size() > 1) {
    throw ConfigError(cpath + ".tls_certificate_sds_secret_configs: weft-proxy takes one SDS certificate");
  }
  if (c.tls_certificate_sds_secret_configs_size() == 1) {
    if (c.tls_certificates_size() > 0) {
      throw ConfigError(cpath + ": tls_certificates and tls_certificate_sds_secret_configs are exclusive");
    }
    out.certificate_sds = &c.tls_certificate_sds_secret_configs(0);
  }
  if (c.has_validation_context_sds_secret_config()) out.validation_sds = &c.validation_context_sds_secret_config();
  if (c.has_combined_validation_context()) {
    // Istio's form: SAN matchers in the default context, the trusted CA (ROOTCA) from SDS.
    const auto& cv = c.combined_validation_context();
    if (!cv.has_validation_context_sds_secret_config()) {
      throw ConfigError(cpath + ".combined_validation_context.validation_context_sds_secret_config: required");
    }
    out.validation_sds = &cv.validation_context_sds_secret_config();
    addValidation(cv.default_validation_context(), cpath + ".combined_validation_context.default_validation_context",
                  o);
  }
  if (c.has_tls_params()) {
    const auto& p = c.tls_params();
    o.min_version = tlsVersion(p.tls_minimum_protocol_version(), TLS1_2_VERSION,
                               cpath + ".tls_params.tls_minimum_protocol_version");
    o.max_version = tlsVersion(p.tls_maximum_protocol_version(), TLS1_3_VERSION,
                               cpath + ".tls_params.tls_maximum_protocol_version");
    if (o.min_version > o.max_version) throw ConfigError(cpath + ".tls_params: minimum version is above the maximum");
    o.cipher_list = joined(p.cipher_suites());
    o.curves = joined(p.ecdh_curves());
  }
  for (int i = 0; i < c.tls_certificates_size(); ++i) {
    const auto& tc = c.tls_certificates(i);
    std::string tpath = cpath + ".tls_certificates[" + std::to_string(i) + "]";
    if (!tc.has_certificate_chain()) throw ConfigError(tpath + ".certificate_chain: required");
    if (!tc.has_private_key()) throw ConfigError(tpath + ".private_key: required");
    o.certificates.push_back({readPem(tc.certificate_chain(), tpath + ".certificate_chain"),
                              readPem(tc.private_key(), tpath + ".private_key")});
  }
  if (c.has_validation_context()) addValidation(c.validation_context(), cpath + ".validation_context", o);
  for (const auto& a : c.alpn_protocols()) o.alpn.push_back(a);
  return out;
}

void addValidation(const tlsv3::CertificateValidationContext& v, const std::string& vpath, ContextOptions& o) {
  if (v.has_trusted_ca()) o.trusted_ca = readPem(v.trusted_ca(), vpath + ".trusted_ca");
  for (int i = 0; i < v.match_typed_subject_alt_names_size(); ++i) {
    const auto& m = v.match_typed_subject_alt_names(i);
    std::string mpath = vpath + ".match_typed_subject_alt_names[" + std::to_string(i) + "]";
    SanMatcher::Type type;
    switch (m.san_type()) {
      case tlsv3::SubjectAltNameMatcher::DNS:
        type = SanMatcher::Type::Dns;
        break;
      case tlsv3::SubjectAltNameMatcher::URI:
        type = SanMatcher::Type::Uri;
        break;
      case tlsv3::SubjectAltNameMatcher::EMAIL:
        type = SanMatcher::Type::Email;
        break;
      case tlsv3::SubjectAltNameMatcher::IP_ADDRESS:
        type = SanMatcher::Type::IpAddress;
        break;
      default:
        throw ConfigError(mpath + ".san_type: must be DNS, URI, EMAIL or IP_ADDRESS");
    }
    o.san_matchers.push_back(sanMatcher(type, m.matcher(), mpath + ".matcher"));
  }
  for (int i = 0; i < v.match_subject_alt_names_size(); ++i) {
    o.san_matchers.push_back(sanMatcher(SanMatcher::Type::Any, v.match_subject_alt_names(i),
                                        vpath + ".match_subject_alt_names[" + std::to_string(i) + "]"));
  }
}

std::shared_ptr<const ContextSource> build(const CommonOptions& c, SdsSecrets* sds, const std::string& path) {
  if (!c.certificate_sds && !c.validation_sds)
    return std::make_shared<const ContextSource>(weft::tls::Context::create(c.options));
  if (!sds) throw ConfigError(path + ".common_tls_context: SDS secrets need a running weft-proxy (not available here)");
  return sds->dynamicContext(c.options, c.certificate_sds, c.validation_sds, path + ".common_tls_context");
}

}  // namespace

std::shared_ptr<const ContextSource> compileDownstreamTransportSocket(
    const envoy::config::core::v3::TransportSocket& ts, const std::string& path, SdsSecrets* sds) {
  const auto& any = ts.typed_config();
  if (any.Is<envoy::extensions::transport_sockets::raw_buffer::v3::RawBuffer>()) return nullptr;
  if (!any.Is<tlsv3::DownstreamTlsContext>()) {
    throw ConfigError(path + ": transport socket '" + ts.name() + "' (" + any.type_url() +
                      ") is not supported by weft-proxy on listeners (use DownstreamTlsContext)");
  }
  tlsv3::DownstreamTlsContext d;
  any.UnpackTo(&d);
  std::string tpath = path + ".typed_config";
  CommonOptions c = commonOptions(d.common_tls_context(), true, tpath);
  c.options.require_client_certificate = d.has_require_client_certificate() && d.require_client_certificate().value();
  return build(c, sds, tpath);
}

std::shared_ptr<const ContextSource> compileUpstreamTransportSocket(const envoy::config::core::v3::TransportSocket& ts,
                                                                    const std::string& path,
                                                                    const std::vector<std::string>& default_alpn,
                                                                    SdsSecrets* sds) {
  const auto& any = ts.typed_config();
  if (any.Is<envoy::extensions::transport_sockets::raw_buffer::v3::RawBuffer>()) return nullptr;
  if (!any.Is<tlsv3::UpstreamTlsContext>()) {
    throw ConfigError(path + ": transport socket '" + ts.name() + "' (" + any.type_url() +
                      ") is not supported by weft-proxy on clusters (use UpstreamTlsContext)");
  }
  tlsv3::UpstreamTlsContext u;
  any.UnpackTo(&u);
  std::string tpath = path + ".typed_config";
  CommonOptions c = commonOptions(u.common_tls_context(), false, tpath);
  c.options.sni = u.sni();
  if (c.options.alpn.empty()) c.options.alpn = default_alpn;
  return build(c, sds, tpath);
}

}  // namespace weft::proxy::tls
