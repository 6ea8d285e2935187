#include "common/config/yaml_json.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "envoy/config/cluster/v3/cluster.pb.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h"

namespace weft::config {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using json = nlohmann::json;

std::string errorOf(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "<no ConfigError>";
}

TEST(YamlJsonTest, PlainScalarsStayStrings) {
  std::string out = yamlToJson(R"(
a: 1
b: true
c: hello
d: [1, 2.5, "x"]
e: 0123
f: 1e3
g: {nested: false}
)",
                               "test.yaml");
  json j = json::parse(out);
  EXPECT_EQ(j, json::parse(R"({"a":"1","b":"true","c":"hello","d":["1","2.5","x"],"e":"0123","f":"1e3",
                               "g":{"nested":"false"}})"));
}

TEST(YamlJsonTest, NullsAndQuotedNulls) {
  json j = json::parse(yamlToJson("a: ~\nb: null\nc:\nd: '~'\ne: \"null\"\n", "t"));
  EXPECT_TRUE(j["a"].is_null());
  EXPECT_TRUE(j["b"].is_null());
  EXPECT_TRUE(j["c"].is_null());
  EXPECT_EQ(j["d"], "~");     // quoted: a string
  EXPECT_EQ(j["e"], "null");  // quoted: a string
}

TEST(YamlJsonTest, JsonInputIsYaml) {
  json j = json::parse(yamlToJson(R"({"name": "x", "port": 80, "list": [true]})", "t.json"));
  EXPECT_EQ(j, json::parse(R"({"name":"x","port":"80","list":["true"]})"));
}

TEST(YamlJsonTest, QuotedAndPlainNumbersFillTypedProtoFields) {
  const char* yaml = R"(
name: backend
type: STRICT_DNS
connect_timeout: 1.5s
lb_policy: RANDOM
per_connection_buffer_limit_bytes: "32768"
wait_for_warm_on_init: true
respect_dns_ttl: "true"
load_assignment:
  cluster_name: backend
  endpoints:
  - lb_endpoints:
    - endpoint:
        address:
          socket_address: {address: backend.local, port_value: 8080}
      load_balancing_weight: 3
)";
  envoy::config::cluster::v3::Cluster c;
  jsonToMessage(yamlToJson(yaml, "cluster.yaml"), c, "cluster.yaml");
  EXPECT_EQ(c.name(), "backend");
  EXPECT_EQ(c.type(), envoy::config::cluster::v3::Cluster::STRICT_DNS);
  EXPECT_EQ(c.lb_policy(), envoy::config::cluster::v3::Cluster::RANDOM);
  EXPECT_EQ(c.connect_timeout().seconds(), 1);
  EXPECT_EQ(c.connect_timeout().nanos(), 500000000);
  EXPECT_EQ(c.per_connection_buffer_limit_bytes().value(), 32768u);
  ASSERT_TRUE(c.has_wait_for_warm_on_init());
  EXPECT_TRUE(c.wait_for_warm_on_init().value());
  EXPECT_TRUE(c.respect_dns_ttl());
  const auto& ep = c.load_assignment().endpoints(0).lb_endpoints(0);
  EXPECT_EQ(ep.endpoint().address().socket_address().address(), "backend.local");
  EXPECT_EQ(ep.endpoint().address().socket_address().port_value(), 8080u);
  EXPECT_EQ(ep.load_balancing_weight().value(), 3u);
}

TEST(YamlJsonTest, NumericLookingStringsStayStringsInProtoStringFields) {
  envoy::config::cluster::v3::Cluster c;
  jsonToMessage(yamlToJson("name: 0123\nalt_stat_name: true\n", "c.yaml"), c, "c.yaml");
  EXPECT_EQ(c.name(), "0123");
  EXPECT_EQ(c.alt_stat_name(), "true");
}

TEST(YamlJsonTest, BoolValueWrapperFromPlainYaml) {
  envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager hcm;
  jsonToMessage(yamlToJson("stat_prefix: ingress\nuse_remote_address: true\nskip_xff_append: false\n", "hcm"), hcm,
                "hcm");
  ASSERT_TRUE(hcm.has_use_remote_address());
  EXPECT_TRUE(hcm.use_remote_address().value());
  EXPECT_FALSE(hcm.skip_xff_append());
}

TEST(YamlJsonTest, SyntaxErrorNamesSourceAndLine) {
  std::string msg = errorOf([] { yamlToJson("a: 1\nb: 2\nc: [1, 2\nd: 4\n", "/etc/weft/bootstrap.yaml"); });
  EXPECT_THAT(msg, StartsWith("/etc/weft/bootstrap.yaml: YAML error at line "));
  EXPECT_THAT(msg, HasSubstr("column"));

  msg = errorOf([] { yamlToJson("first: ok\nsecond: ok\n  third: bad\n", "cfg.yaml"); });
  EXPECT_THAT(msg, StartsWith("cfg.yaml: YAML error at line 3, column"));
}

TEST(YamlJsonTest, UnknownFieldIsRejected) {
  envoy::config::cluster::v3::Cluster c;
  std::string msg = errorOf([&] { jsonToMessage(yamlToJson("name: x\nconect_timeout: 1s\n", "c.yaml"), c, "c.yaml"); });
  EXPECT_THAT(msg, StartsWith("c.yaml: not a valid envoy.config.cluster.v3.Cluster: "));
  EXPECT_THAT(msg, HasSubstr("conect_timeout"));
}

TEST(YamlJsonTest, WrongValueTypeIsRejected) {
  envoy::config::cluster::v3::Cluster c;
  std::string msg = errorOf(
      [&] { jsonToMessage(yamlToJson("name: x\nper_connection_buffer_limit_bytes: lots\n", "c.yaml"), c, "c.yaml"); });
  EXPECT_THAT(msg, StartsWith("c.yaml: not a valid envoy.config.cluster.v3.Cluster"));
  msg = errorOf([&] { jsonToMessage(yamlToJson("name: x\nlb_policy: FASTEST\n", "c.yaml"), c, "c.yaml"); });
  EXPECT_THAT(msg, StartsWith("c.yaml: not a valid envoy.config.cluster.v3.Cluster"));
}

TEST(YamlJsonTest, LoadMessageFromFile) {
  char path[] = "/tmp/weft_yaml_json_testXXXXXX.yaml";
  int fd = mkstemps(path, 5);
  ASSERT_GE(fd, 0);
  close(fd);
  {
    std::ofstream out(path);
    out << "name: from_file\nconnect_timeout: 2s\n";
  }
  envoy::config::cluster::v3::Cluster c;
  loadMessageFromFile(path, c);
  EXPECT_EQ(c.name(), "from_file");
  EXPECT_EQ(c.connect_timeout().seconds(), 2);
  {
    std::ofstream out(path);
    out << "name: x\nbogus: 1\n";
  }
  std::string msg = errorOf([&] { loadMessageFromFile(path, c); });
  EXPECT_THAT(msg, StartsWith(std::string(path) + ": not a valid"));
  std::remove(path);

  msg = errorOf([&] { loadMessageFromFile("/nonexistent/dir/x.yaml", c); });
  EXPECT_EQ(msg, "/nonexistent/dir/x.yaml: cannot read the file");
}

TEST(YamlJsonTest, MessageToJsonUsesProtoFieldNames) {
  envoy::config::cluster::v3::Cluster c;
  c.set_name("x");
  c.mutable_connect_timeout()->set_seconds(1);
  json j = json::parse(messageToJson(c, false));
  EXPECT_EQ(j["name"], "x");
  EXPECT_EQ(j["connect_timeout"], "1s");
  EXPECT_FALSE(j.contains("connectTimeout"));
  EXPECT_FALSE(j.contains("lb_policy"));
  json with_defaults = json::parse(messageToJson(c, true, true));
  EXPECT_EQ(with_defaults["lb_policy"], "ROUND_ROBIN");
}

}  // namespace
}  // namespace weft::config
