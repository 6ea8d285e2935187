#pragma once
// The HTTP connection manager's local_reply_config: mappers that rewrite a local reply
// (status, body, added headers) when their access-log filter matches, then a body format.
// Applies only to replies weft-proxy makes itself, never to upstream responses, as Envoy.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/random.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h"
#include "proxy/access_log/substitution_format.h"
#include "proxy/http/fractional_percent.h"
#include "proxy/http/header_mutations.h"
#include "proxy/http/headers.h"
#include "proxy/runtime/runtime_snapshot.h"
#include "proxy/stream_info.h"

namespace weft::proxy::http {

// envoy.config.accesslog.v3.AccessLogFilter, the kinds a local reply can be matched on.
class ReplyFilter {
 public:
  virtual ~ReplyFilter() = default;
  virtual bool matches(const RequestHead* req, const StreamInfo& info, const runtime::Snapshot& rt,
                       Random& random) const = 0;
  // Throws ConfigError naming `path` for a kind weft-proxy does not implement.
  static std::unique_ptr<ReplyFilter> compile(const envoy::config::accesslog::v3::AccessLogFilter& f,
                                              const std::string& path);
};

class LocalReplyConfig {
 public:
  // Throws ConfigError naming `path`.
  static std::shared_ptr<const LocalReplyConfig> compile(
      const envoy::extensions::filters::network::http_connection_manager::v3::LocalReplyConfig& proto,
      const std::string& path, access_log::CaptureList& capture);

  // What a local reply becomes: `info.response_code` is set to the final status.
  struct Rewritten {
    int status;
    std::string body;
    std::string content_type;
    const HeaderMutations* headers = nullptr;  // the matched mapper's headers_to_add, or null
  };
  Rewritten rewrite(const RequestHead* req, StreamInfo& info, int status, std::string_view body,
                    const runtime::Snapshot& rt, Random& random) const;

 private:
  struct Mapper {
    std::unique_ptr<ReplyFilter> filter;
    std::optional<int> status;
    std::optional<std::string> body;
    std::optional<access_log::SubstitutionFormat> body_format;
    HeaderMutations headers;
  };
  std::vector<std::unique_ptr<Mapper>> mappers_;
  access_log::SubstitutionFormat body_format_;
};

}  // namespace weft::proxy::http
