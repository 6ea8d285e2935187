#pragma once
// envoy.config.core.v3.SubstitutionFormatString: a text format (text_format, or an inline
// text_format_source) or a json_format, whose string values are text formats. Used by the
// access logs and by local_reply_config's body formats.
#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "envoy/config/core/v3/substitution_format_string.pb.h"
#include "proxy/access_log/formatter.h"

namespace weft::proxy::access_log {

class SubstitutionFormat {
 public:
  // Throws ConfigError naming `path`. `default_text`: the text format when none is set.
  static SubstitutionFormat compile(const envoy::config::core::v3::SubstitutionFormatString& f, const std::string& path,
                                    CaptureList& capture, const std::string& default_text);
  static SubstitutionFormat text(const std::string& format, const std::string& path, CaptureList& capture);

  void format(const StreamInfo& info, std::string& out) const;
  // content_type, else Envoy's: "application/json" for a JSON format, "text/plain" for text.
  const std::string& contentType() const { return content_type_; }

 private:
  // A JSON value: a text format (a string), a literal (number, bool, null) or an object.
  struct Node {
    std::variant<std::monostate, Formatter, std::string, std::vector<std::pair<std::string, Node>>> value;
  };
  static Node compileValue(const google::protobuf::Value& v, const std::string& path, CaptureList& capture);
  static void formatNode(const Node& n, const StreamInfo& info, std::string& out);

  std::shared_ptr<const Formatter> text_;
  std::shared_ptr<const Node> json_;
  std::string content_type_ = "text/plain";
};

}  // namespace weft::proxy::access_log
