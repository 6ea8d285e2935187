#pragma once
// Helpers for the proxy unit tests: Envoy messages written as YAML (as users write them),
// and request heads whose views point into storage the helper owns.
#include <string>
#include <utility>
#include <vector>

#include "common/config/yaml_json.h"
#include "proxy/http/headers.h"

namespace weft::testing {

template <typename Message>
Message fromYaml(const std::string& yaml) {
  Message m;
  config::jsonToMessage(config::yamlToJson(yaml, "test"), m, "test");
  return m;
}

// A RequestHead as RequestParser fills it: Host is both `host` and a header.
class TestRequest {
 public:
  explicit TestRequest(std::string target, std::string host = "example.com",
                       std::vector<std::pair<std::string, std::string>> headers = {}, std::string method = "GET")
      : target_(std::move(target)), host_(std::move(host)), method_(std::move(method)), headers_(std::move(headers)) {
    head_.method = method_;
    head_.target = target_;
    auto q = head_.target.find('?');
    head_.path = head_.target.substr(0, q);
    head_.query = q == std::string_view::npos ? std::string_view() : head_.target.substr(q + 1);
    head_.host = host_;
    head_.headers.push_back({"Host", host_});
    for (const auto& [n, v] : headers_) head_.headers.push_back({n, v});
  }
  TestRequest(const TestRequest&) = delete;
  TestRequest& operator=(const TestRequest&) = delete;

  const proxy::http::RequestHead& head() const { return head_; }
  proxy::http::RequestHead& head() { return head_; }

 private:
  std::string target_, host_, method_;
  std::vector<std::pair<std::string, std::string>> headers_;
  proxy::http::RequestHead head_;
};

}  // namespace weft::testing
