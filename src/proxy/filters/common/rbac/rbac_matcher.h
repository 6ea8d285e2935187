#pragma once
// Envoy's RBAC policies (envoy.config.rbac.v3), compiled once into a tree of matchers: a policy
// matches when any of its permissions and any of its principals match; permissions and
// principals nest with and/or/not. What a matcher may look at is the request's head, the
// connection's addresses and SNI, the peer certificate's identity, and the dynamic metadata
// earlier filters wrote (jwt_authn's payload). The network filter asks the same questions
// without a request head.
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/net/address.h"
#include "envoy/config/rbac/v3/rbac.pb.h"
#include "proxy/config/supported_fields.h"
#include "proxy/dynamic_metadata.h"
#include "proxy/http/headers.h"

typedef struct ssl_st SSL;

namespace weft::proxy::rbac {

using http::RequestHead;

// One request as the matchers see it.
class RbacRequest {
 public:
  RbacRequest(const RequestHead* head, std::string_view scheme, const net::Address* remote, const net::Address* local,
              SSL* ssl, std::string_view sni, const DynamicMetadata* metadata = nullptr)
      : head_(head), scheme_(scheme), remote_(remote), local_(local), ssl_(ssl), sni_(sni), metadata_(metadata) {}
  const RequestHead* head() const { return head_; }
  std::string_view scheme() const { return scheme_; }
  const net::Address* remote() const { return remote_; }
  const net::Address* local() const { return local_; }
  std::string_view sni() const { return sni_; }
  const DynamicMetadata* metadata() const { return metadata_; }
  // The path without its query, as url_path matches it.
  std::string_view path() const;
  // The peer certificate's principal as Envoy names it: its first URI SAN, else its first DNS
  // SAN, else its subject; nullopt without a verified peer certificate. Read once.
  const std::optional<std::string>& principal() const;

 private:
  const RequestHead* head_;
  std::string_view scheme_;
  const net::Address* remote_;
  const net::Address* local_;
  SSL* ssl_;
  std::string_view sni_;
  const DynamicMetadata* metadata_;
  mutable bool principal_read_ = false;
  mutable std::optional<std::string> principal_;
};

class Matcher {
 public:
  virtual ~Matcher() = default;
  virtual bool matches(const RbacRequest& r) const = 0;
};

std::unique_ptr<Matcher> compilePermission(const envoy::config::rbac::v3::Permission& p, const std::string& path);
std::unique_ptr<Matcher> compilePrincipal(const envoy::config::rbac::v3::Principal& p, const std::string& path);

class Policies {
 public:
  enum class Action { Allow, Deny, Log };
  // Throws ConfigError naming the field.
  static std::shared_ptr<const Policies> compile(const envoy::config::rbac::v3::RBAC& rbac, const std::string& path);
  // Whether the request may pass, and the first matching policy's name (empty: none).
  bool allowed(const RbacRequest& r, std::string* matched) const;
  Action action() const { return action_; }

 private:
  struct Policy {
    std::string name;
    std::vector<std::unique_ptr<Matcher>> permissions, principals;
  };
  Action action_ = Action::Allow;
  std::vector<Policy> policies_;  // in name order, as Envoy's map iterates
};

// The envoy.config.rbac.v3 fields (and the matchers under them) that compile() takes.
config::FieldTable rbacSupportedFields();

}  // namespace weft::proxy::rbac
