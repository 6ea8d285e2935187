// ServiceEntry and WorkloadEntry validation against Istio's own test tables
// (pkg/config/validation/validation_test.go TestValidateServiceEntries, TestValidateWorkloadEntry,
// and the CRD fixtures in testdata/crds, Istio master 86c9f01): the same verdict (valid or not,
// with or without warnings), and Istio's reasons in the messages. weftd's own limits
// (DNS_ROUND_ROBIN, DYNAMIC_DNS) are not part of Istio's verdict.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "control/config/decode.h"

namespace weft::control {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

struct IstioCase {
  const char* name;
  const char* yaml;
  bool valid;
  bool warning;
};

const IstioCase kServiceEntryCases[] = {
    {"discovery type DNS",
     "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  hosts: "
     "['*.google.com']\n  ports: [{number: 80, protocol: http, name: http-valid1}, {number: 8080, protocol: http, "
     "name: http-valid2}]\n  endpoints: [{address: lon.google.com, ports: {http-valid1: 8080}}, {address: "
     "in.google.com, ports: {http-valid2: 9080}}]\n  resolution: DNS\n",
     true, false},
    {"discovery type DNS Round Robin",
     "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  hosts: "
     "['*.istio.io']\n  ports: [{number: 80, protocol: http, name: http-valid1}, {number: 8080, protocol: http, name: "
     "http-valid2}]\n  endpoints: [{address: api-v1.istio.io, ports: {http-valid1: 8080}}]\n  resolution: "
     "DNS_ROUND_ROBIN\n",
     true, false},
    {"discovery type DNS, label tlsMode: istio",
     "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  hosts: "
     "['*.google.com']\n  ports: [{number: 80, protocol: http, name: http-valid1}, {number: 8080, protocol: http, "
     "name: http-valid2}]\n  endpoints: [{address: lon.google.com, ports: {http-valid1: 8080}, labels: "
     "{security.istio.io/tlsMode: istio}}, {address: in.google.com, ports: {http-valid2: 9080}, labels: "
     "{security.istio.io/tlsMode: istio}}]\n  resolution: DNS\n",
     true, false},
    {"discovery type DNS, one host set with IP address and https port",
     "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  hosts: "
     "[httpbin.org]\n  addresses: [10.10.10.10]\n  ports: [{number: 80, protocol: http, name: http-valid1}, {number: "
     "8080, protocol: http, name: http-valid2}, {number: 443, protocol: https, name: https}]\n  resolution: DNS\n",
     true, false},
    {"discovery type DNS, multi hosts set with IP address and https port",
     "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  hosts: "
     "[httpbin.org, wikipedia.org]\n  addresses: [10.10.10.10]\n  ports: [{number: 80, protocol: http, name: "
     "http-valid1}, {number: 8080, protocol: http, name: http-valid2}, {number: 443, protocol: https, name: https}]\n  "
     "resolution: DNS\n",
     true, true},
    {"discovery type DNS, IP address set",
     "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  hosts: "
     "['*.google.com']\n  addresses: [10.10.10.10]\n  ports: [{number: 80, protocol: http, name: http-valid1}, "
     "{number: 8080, protocol: http, name: http-valid2}]\n  endpoints: [{address: lon.google.com, ports: {http-valid1: "
     "8080}}, {address: in.google.com, ports: {http-valid2: 9080}}]\n  resolution: DNS\n",
     true, false},
    {"discovery type DNS, IP in endpoints",
     "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  hosts: "
     "['*.google.com']\n  ports: [{number: 80, protocol: http, name: http-valid1}, {number: 8080, protocol: http, "
     "name: http-valid2}]\n  endpoints: [{address: 1.1.1.1, ports: {http-valid1: 8080}}, {address: in.google.com, "
     "ports: {http-valid2: 9080}}]\n  resolution: DNS\n",
     true, false},
    {"discovery type DYNAMIC_DNS",
     "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  hosts: "
     "['*.google.com']\n  ports: [{number: 80, protocol: http, name: http-valid1}, {number: 8080, protocol: http, "
     "name: http-valid2}]\n  resolution: DYNAMIC_DNS\n",
     true, false},
    {"empty hosts",
     "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  ports: "
     "[{number: 80, protocol: http, name: http-valid1}]\n  endpoints: [{address: in.google.com, ports: {http-valid2: "
     "9080}}]\n  resolution: DNS\n",
     false, false},
    {"bad hosts",
     "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  hosts: "
     "['-']\n  ports: [{number: 80, protocol: http, name: http-valid1}]\n  endpoints: [{address: in.google.com, ports: "
     "{http-valid2: 9080}}]\n  resolution: DNS\n",
     false, false},
    {"full wildcard host",
     "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  hosts: "
     "[foo.com, '*']\n  ports: [{number: 80, protocol: http, name: http-valid1}]\n  endpoints: [{address: "
     "in.google.com, ports: {http-valid2: 9080}}]\n  resolution: DNS\n",
     false, false},
    {"short name host",
     "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  hosts: "
     "[foo, bar.com]\n  ports: [{number: 80, protocol: http, name: http-valid1}]\n  endpoints: [{address: "
     "in.google.com, ports: {http-valid1: 9080}}]\n  resolution: DNS\n",
     true, false},
    {"undefined endpoint port",
     "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  hosts: "
     "[google.com]\n  ports: [{number: 80, protocol: http, name: http-valid1}, {number: 80, protocol: http, name: "
     "http-valid2}]\n  endpoints: [{address: lon.google.com, ports: {http-valid1: 8080}}, {address: in.google.com, "
     "ports: {http-dne: 9080}}]\n  resolution: DNS\n",
     false, false},
    {"discovery type DNS, non-FQDN endpoint",
     "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  hosts: "
     "['*.google.com']\n  ports: [{number: 80, protocol: http, name: http-valid1}, {number: 8080, protocol: http, "
     "name: http-valid2}]\n  endpoints: [{address: '*.lon.google.com', ports: {http-valid1: 8080}}, {address: "
     "in.google.com, ports: {http-dne: 9080}}]\n  resolution: DNS\n",
     false, false},
    {"discovery type DNS, non-FQDN host",
     "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  hosts: "
     "['*.google.com']\n  ports: [{number: 80, protocol: http, name: http-valid1}, {number: 8080, protocol: http, "
     "name: http-valid2}]\n  resolution: DNS\n",
     false, false},
    {"discovery type DNS, no endpoints",
     "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  hosts: "
     "[google.com]\n  ports: [{number: 80, protocol: http, name: http-valid1}, {number: 8080, protocol: http, name: "
     "http-valid2}]\n  resolution: DNS\n",
     true, false},
    {"discovery type DNS, unix endpoint",
     "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  hosts: "
     "['*.google.com']\n  ports: [{number: 80, protocol: http, name: http-valid1}]\n  endpoints: [{address: "
     "'unix:///lon/google/com'}]\n  resolution: DNS\n",
     false, false},
    {"discovery type none",
     "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  hosts: "
     "[google.com]\n  ports: [{number: 80, protocol: http, name: http-valid1}, {number: 8080, protocol: http, name: "
     "http-valid2}]\n  resolution: NONE\n",
     true, false},
    {"discovery type none, endpoints provided",
     "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  hosts: "
     "[google.com]\n  ports: [{number: 80, protocol: http, name: http-valid1}, {number: 8080, protocol: http, name: "
     "http-valid2}]\n  endpoints: [{address: lon.google.com, ports: {http-valid1: 8080}}]\n  resolution: NONE\n",
     false, false},
    {"discovery type none, cidr addresses",
     "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  hosts: "
     "[google.com]\n  addresses: [172.1.2.16/16]\n  ports: [{number: 80, protocol: http, name: http-valid1}, {number: "
     "8080, protocol: http, name: http-valid2}]\n  resolution: NONE\n",
     true, false},
    {"discovery type static, cidr addresses with endpoints",
     "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  hosts: "
     "[google.com]\n  addresses: [172.1.2.16/16]\n  ports: [{number: 80, protocol: http, name: http-valid1}, {number: "
     "8080, protocol: http, name: http-valid2}]\n  endpoints: [{address: 1.1.1.1, ports: {http-valid1: 8080}}, "
     "{address: 2.2.2.2, ports: {http-valid2: 9080}}]\n  resolution: STATIC\n",
     true, false},
    {"discovery type static",
     "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  hosts: "
     "[google.com]\n  addresses: [172.1.2.16]\n  ports: [{number: 80, protocol: http, name: http-valid1}, {number: "
     "8080, protocol: http, name: http-valid2}]\n  endpoints: [{address: 1.1.1.1, ports: {http-valid1: 8080}}, "
     "{address: 2.2.2.2, ports: {http-valid2: 9080}}]\n  resolution: STATIC\n",
     true, false},
    {"discovery type static, FQDN in endpoints",
     "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  hosts: "
     "[google.com]\n  addresses: [172.1.2.16]\n  ports: [{number: 80, protocol: http, name: http-valid1}, {number: "
     "8080, protocol: http, name: http-valid2}]\n  endpoints: [{address: google.com, ports: {http-valid1: 8080}}, "
     "{address: 2.2.2.2, ports: {http-valid2: 9080}}]\n  resolution: STATIC\n",
     false, false},
    {"discovery type static, missing endpoints",
     "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  hosts: "
     "[google.com]\n  addresses: [172.1.2.16]\n  ports: [{number: 80, protocol: http, name: http-valid1}, {number: "
     "8080, protocol: http, name: http-valid2}]\n  resolution: STATIC\n",
     true, false},
    {"discovery type static, bad endpoint port name",
     "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  hosts: "
     "[google.com]\n  addresses: [172.1.2.16]\n  ports: [{number: 80, protocol: http, name: http-valid1}, {number: "
     "8080, protocol: http, name: http-valid2}]\n  endpoints: [{address: 1.1.1.1, ports: {http-valid1: 8080}}, "
     "{address: 2.2.2.2, ports: {http-dne: 9080}}]\n  resolution: STATIC\n",
     false, false},
    {"discovery type none, conflicting port names",
     "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  hosts: "
     "[google.com]\n  ports: [{number: 80, protocol: http, name: http-conflict}, {number: 8080, protocol: http, name: "
     "http-conflict}]\n  resolution: NONE\n",
     false, false},
    {"discovery type none, conflicting port numbers",
     "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  hosts: "
     "[google.com]\n  ports: [{number: 80, protocol: http, name: http-conflict1}, {number: 80, protocol: http, name: "
     "http-conflict2}]\n  resolution: NONE\n",
     false, false},
    {"unix socket",
     "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  hosts: "
     "[uds.cluster.local]\n  ports: [{number: 6553, protocol: grpc, name: grpc-service1}]\n  resolution: STATIC\n  "
     "endpoints: [{address: 'unix:///path/to/socket'}]\n",
     true, false},
    {"unix socket, relative path",
     "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  hosts: "
     "[uds.cluster.local]\n  ports: [{number: 6553, protocol: grpc, name: grpc-service1}]\n  resolution: STATIC\n  "
     "endpoints: [{address: 'unix://./relative/path.sock'}]\n",
     false, false},
    {"unix socket, endpoint ports",
     "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  hosts: "
     "[uds.cluster.local]\n  ports: [{number: 6553, protocol: grpc, name: grpc-service1}]\n  resolution: STATIC\n  "
     "endpoints: [{address: 'unix:///path/to/socket', ports: {grpc-service1: 6553}}]\n",
     false, false},
    {"unix socket, multiple service ports",
     "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  hosts: "
     "[uds.cluster.local]\n  ports: [{number: 6553, protocol: grpc, name: grpc-service1}, {number: 80, protocol: http, "
     "name: http-service2}]\n  resolution: STATIC\n  endpoints: [{address: 'unix:///path/to/socket'}]\n",
     false, false},
    {"empty protocol",
     "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  hosts: "
     "[google.com]\n  addresses: [172.1.2.16/16]\n  ports: [{number: 80, protocol: http, name: http-valid1}, {number: "
     "8080, name: http-valid2}]\n  resolution: NONE\n",
     true, false},
    {"selector",
     "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  hosts: "
     "[google.com]\n  workloadSelector: {labels: {foo: bar}}\n  ports: [{number: 80, protocol: http, name: "
     "http-valid1}]\n",
     true, true},
    {"workload selector without labels",
     "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  hosts: "
     "[google.com]\n  workloadSelector: {}\n  ports: [{number: 80, protocol: http, name: http-valid1}, {number: 8080, "
     "protocol: http, name: http-valid2}]\n  resolution: NONE\n",
     true, true},
    {"selector and endpoints",
     "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  hosts: "
     "[google.com]\n  workloadSelector: {labels: {foo: bar}}\n  ports: [{number: 80, protocol: http, name: "
     "http-valid1}]\n  endpoints: [{address: 1.1.1.1}]\n",
     false, true},
    {"selector and resolution NONE",
     "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  hosts: "
     "[google.com]\n  workloadSelector: {labels: {foo: bar}}\n  ports: [{number: 80, protocol: http, name: "
     "http-valid1}]\n  resolution: NONE\n",
     true, true},
    {"selector and resolution DNS",
     "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  hosts: "
     "[google.com]\n  workloadSelector: {labels: {foo: bar}}\n  ports: [{number: 80, protocol: http, name: "
     "http-valid1}]\n  resolution: DNS\n",
     true, false},
    {"bad selector key",
     "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  hosts: "
     "[google.com]\n  workloadSelector: {labels: {'': bar}}\n  ports: [{number: 80, protocol: http, name: "
     "http-valid1}]\n  resolution: NONE\n",
     false, false},
    {"repeat target port",
     "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  hosts: "
     "[google.com]\n  resolution: DNS\n  ports: [{number: 80, protocol: http, name: http-valid1, targetPort: 80}, "
     "{number: 81, protocol: http, name: http-valid2, targetPort: 80}]\n",
     true, false},
    {"valid target port",
     "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  hosts: "
     "[google.com]\n  resolution: DNS\n  ports: [{number: 80, protocol: http, name: http-valid1, targetPort: 81}]\n",
     true, false},
    {"invalid target port",
     "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  hosts: "
     "[google.com]\n  resolution: DNS\n  ports: [{number: 80, protocol: http, name: http-valid1, targetPort: 65536}]\n",
     false, false},
    {"warn target port",
     "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  hosts: "
     "[google.com]\n  workloadSelector: {labels: {key: bar}}\n  ports: [{number: 80, protocol: http, name: "
     "http-valid1, targetPort: 1234}]\n",
     true, true},
    {"valid endpoint port",
     "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  hosts: "
     "[google.com]\n  resolution: STATIC\n  ports: [{number: 80, protocol: http, name: http-valid1, targetPort: 81}]\n "
     " endpoints: [{address: 1.1.1.1, ports: {http-valid1: 8081}}]\n",
     true, false},
    {"invalid endpoint port",
     "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  hosts: "
     "[google.com]\n  resolution: STATIC\n  ports: [{number: 80, protocol: http, name: http-valid1, targetPort: 81}]\n "
     " endpoints: [{address: 1.1.1.1, ports: {http-valid1: 65536}}]\n",
     false, false},
    {"protocol unset for addresses empty",
     "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  hosts: "
     "[google.com]\n  addresses: []\n  ports: [{number: 80, protocol: http, name: http-valid1}, {number: 8080, name: "
     "http-valid2}]\n  resolution: NONE\n",
     true, true},
    {"protocol is TCP for addresses empty",
     "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  hosts: "
     "[google.com]\n  addresses: []\n  ports: [{number: 80, protocol: http, name: http-valid1}, {number: 81, protocol: "
     "TCP, name: tcp-valid1}]\n  resolution: NONE\n",
     true, true},
    {"dns round robin with more than one endpoint",
     "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  hosts: "
     "[google.com]\n  ports: [{number: 8081, protocol: http, name: http-valid1}]\n  endpoints: [{address: "
     "api-v1.istio.io, ports: {http-valid1: 8081}}, {address: 1.1.1.2, ports: {http-valid1: 8081}}]\n  resolution: "
     "DNS_ROUND_ROBIN\n",
     false, false},
    {"dns round robin with 0 endpoints",
     "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  hosts: "
     "[google.com]\n  ports: [{number: 8081, protocol: http, name: http-valid1}]\n  endpoints: []\n  resolution: "
     "DNS_ROUND_ROBIN\n",
     true, false},
    {"partial wildcard hosts",
     "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  hosts: "
     "['*.nytimes.com', '*washingtonpost.com']\n  ports: [{number: 443, protocol: HTTPS, name: https-nytimes}]\n  "
     "endpoints: []\n  resolution: NONE\n",
     true, true},
    {"network set with no address on endpoint",
     "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  hosts: "
     "[www.example.com]\n  ports: [{number: 443, protocol: HTTPS, name: https-example}]\n  endpoints: [{network: "
     "cluster-1}]\n  resolution: STATIC\n",
     true, true},
    {"discovery type DYNAMIC_DNS, unsupported TCP protocol",
     "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  hosts: "
     "['*.google.com']\n  ports: [{number: 80, protocol: http, name: http-valid1}, {number: 81, protocol: TCP, name: "
     "tcp-valid1}]\n  resolution: DYNAMIC_DNS\n",
     false, false},
    {"discovery type DYNAMIC_DNS, GRPC protocol",
     "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  hosts: "
     "['*.svc.cluster.local']\n  ports: [{number: 9090, protocol: GRPC, name: grpc}]\n  resolution: DYNAMIC_DNS\n",
     true, false},
    {"discovery type DYNAMIC_DNS, FQDN host",
     "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  hosts: "
     "[google.com]\n  ports: [{number: 80, protocol: http, name: http-valid}]\n  resolution: DYNAMIC_DNS\n",
     false, false},
    {"discovery type DYNAMIC_DNS, endpoints set",
     "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  hosts: "
     "['*.google.com']\n  ports: [{number: 80, protocol: http, name: http-valid1}]\n  endpoints: [{address: "
     "in.google.com, ports: {http-valid1: 9080}}]\n  resolution: DYNAMIC_DNS\n",
     false, false},
    {"discovery type DYNAMIC_DNS, IP address set",
     "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  hosts: "
     "['*.google.com']\n  addresses: [10.10.10.10]\n  ports: [{number: 80, protocol: http, name: http-valid1}, "
     "{number: 8080, protocol: http, name: http-valid2}]\n  resolution: DYNAMIC_DNS\n",
     false, false},
    {"discovery type DYNAMIC_DNS, empty hosts",
     "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  hosts: "
     "[]\n  ports: [{number: 80, protocol: http, name: http-valid1}]\n  resolution: DYNAMIC_DNS\n",
     false, false},
    {"discovery type DYNAMIC_DNS, multiple wildcarded hosts",
     "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  hosts: "
     "['*.google.com', '*.amazon.com']\n  ports: [{number: 80, protocol: http, name: http-valid1}]\n  resolution: "
     "DYNAMIC_DNS\n",
     true, false},
    {"discovery type DYNAMIC_DNS, internal mesh location",
     "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  hosts: "
     "['*.google.com']\n  ports: [{number: 80, protocol: http, name: http-valid1}]\n  resolution: DYNAMIC_DNS\n  "
     "location: MESH_INTERNAL\n",
     true, false},
    {"discovery type DYNAMIC_DNS, MESH_INTERNAL with waypoint",
     "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: foo, namespace: bar, labels: "
     "{istio.io/use-waypoint: my-waypoint}}\nspec:\n  hosts: ['*.google.com']\n  ports: [{number: 80, protocol: http, "
     "name: http-valid1}]\n  resolution: DYNAMIC_DNS\n  location: MESH_INTERNAL\n",
     false, false},
    {"crd full",
     "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  hosts: "
     "[example.com]\n  workloadSelector: {labels: {foo: bar}}\n  addresses: [1.2.3.4, '001:db8::']\n  exportTo: [foo, "
     ".]\n  location: MESH_EXTERNAL\n  ports: [{name: foo, protocol: HTTP, number: 1234, targetPort: 2345}]\n  "
     "subjectAltNames: [sa]\n  resolution: DNS\n",
     true, false},
    {"crd static-endpoints",
     "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  hosts: "
     "[example.com]\n  endpoints: [{address: sub.example.com}]\n  ports: [{name: foo, protocol: HTTP, number: 1234, "
     "targetPort: 2345}]\n  resolution: DNS\n",
     true, false},
    {"crd empty-selector",
     "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  hosts: "
     "[example.com]\n  workloadSelector: {}\n",
     true, true},
    {"crd partial-wildcard",
     "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  hosts: "
     "['*x']\n",
     true, true},
    {"crd none-cidr",
     "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  hosts: "
     "[example.com]\n  addresses: [1.1.1.1/32]\n",
     true, false},
    {"crd missing-host",
     "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: foo, namespace: bar}\nspec: {}\n", false,
     false},
    {"crd bad-selector-value",
     "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  hosts: "
     "[example.com]\n  workloadSelector: {labels: {val: '*'}}\n",
     false, false},
    {"crd selector-and-endpoints",
     "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  hosts: "
     "[example.com]\n  workloadSelector: {}\n  endpoints: [{address: 1.2.3.4}]\n",
     false, true},
    {"crd bad-cidr-resolution",
     "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  hosts: "
     "[example.com]\n  addresses: [1.2.3.4/16]\n  resolution: DNS\n",
     false, false},
    {"crd duplicate-ports-name",
     "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  hosts: "
     "[example.com]\n  ports: [{name: a, number: 1}, {name: a, number: 12}]\n",
     false, true},
    {"crd duplicate-ports-number",
     "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  hosts: "
     "[example.com]\n  ports: [{name: a, number: 1}, {name: b, number: 1}]\n",
     false, true},
    {"crd bad-port",
     "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  hosts: "
     "[example.com]\n  ports: [{name: a, number: 99999}]\n",
     false, true},
    {"crd bad-port-target",
     "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  hosts: "
     "[example.com]\n  ports: [{name: a, number: 1, targetPort: 99999}]\n",
     false, true},
    {"crd none-with-endpoints",
     "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  hosts: "
     "[example.com]\n  endpoints: [{address: 1.2.3.4}]\n  resolution: NONE\n",
     false, false},
    {"crd dns-rr-with-multiple-endpoints",
     "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  hosts: "
     "[example.com]\n  endpoints: [{address: sub1.example.com}, {address: sub2.example.com}]\n  resolution: "
     "DNS_ROUND_ROBIN\n",
     false, false},
};
const IstioCase kWorkloadEntryCases[] = {
    {"valid",
     "apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  "
     "address: 1.2.3.4\n",
     true, false},
    {"missing address",
     "apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata: {name: foo, namespace: bar}\nspec: {}\n",
     false, false},
    {"missing address with network",
     "apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  "
     "network: network-2\n",
     true, true},
    {"valid unix endpoint",
     "apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  "
     "address: 'unix:///lon/google/com'\n",
     true, false},
    {"invalid unix endpoint",
     "apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  "
     "address: 'unix:///lon/google/com'\n  ports: {'7777': 7777}\n",
     false, false},
    {"valid FQDN",
     "apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  "
     "address: validdns.com\n  ports: {'7777': 7777}\n",
     true, false},
    {"invalid FQDN",
     "apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  "
     "address: 'invaliddns.com:9443'\n  ports: {'7777': 7777}\n",
     false, false},
    {"valid IP",
     "apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  "
     "address: 172.16.1.1\n  ports: {'7777': 7777}\n",
     true, false},
    {"crd full",
     "apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  "
     "address: 1.2.3.4\n  serviceAccount: sa\n  network: net\n  labels: {app: app}\n  ports: {http: 1}\n  weight: 2\n  "
     "locality: foo/bar/baz\n",
     true, false},
    {"crd uds-abstract",
     "apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  "
     "address: 'unix://@foo'\n",
     true, false},
    {"crd bad-uds-dir",
     "apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  "
     "address: 'unix:///dir/'\n",
     false, false},
    {"crd bad-uds-relative",
     "apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  "
     "address: 'unix://relative'\n",
     false, false},
    {"crd uds-with-ports",
     "apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  "
     "address: 'unix://@foo'\n  ports: {http: 80}\n",
     false, false},
    {"crd high-port",
     "apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  "
     "address: 1.1.1.1\n  ports: {http: 99999}\n",
     false, false},
    {"crd bad-port-name",
     "apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata: {name: foo, namespace: bar}\nspec:\n  "
     "address: 1.1.1.1\n  ports: {'@': 80}\n",
     false, false},
};

struct Verdict {
  std::vector<std::string> errors;  // Istio's (weftd's own limits left out)
  std::vector<std::string> warnings;
};

Verdict verdict(const std::string& yaml) {
  DecodeResult r = decodeResource(YAML::Load(yaml));
  Verdict v{{}, r.warnings};
  for (auto& e : r.errors)
    if (!isWeftdLimitation(e)) v.errors.push_back(e);
  return v;
}

std::string describe(const Verdict& v) {
  std::string s = "errors:";
  for (const auto& e : v.errors) s += "\n  " + e;
  s += "\nwarnings:";
  for (const auto& w : v.warnings) s += "\n  " + w;
  return s;
}

TEST(IstioValidationTest, ServiceEntriesAsIstioJudgesThem) {
  for (const auto& c : kServiceEntryCases) {
    Verdict v = verdict(c.yaml);
    EXPECT_EQ(v.errors.empty(), c.valid) << c.name << "\n" << describe(v);
    EXPECT_EQ(!v.warnings.empty(), c.warning) << c.name << "\n" << describe(v);
  }
}

TEST(IstioValidationTest, WorkloadEntriesAsIstioJudgesThem) {
  for (const auto& c : kWorkloadEntryCases) {
    Verdict v = verdict(c.yaml);
    EXPECT_EQ(v.errors.empty(), c.valid) << c.name << "\n" << describe(v);
    EXPECT_EQ(!v.warnings.empty(), c.warning) << c.name << "\n" << describe(v);
  }
}

const IstioCase& find(const IstioCase* begin, const IstioCase* end, const std::string& name) {
  for (const IstioCase* c = begin; c != end; ++c)
    if (name == c->name) return *c;
  throw std::runtime_error("no case " + name);
}
Verdict se(const std::string& name) {
  return verdict(find(std::begin(kServiceEntryCases), std::end(kServiceEntryCases), name).yaml);
}
Verdict we(const std::string& name) {
  return verdict(find(std::begin(kWorkloadEntryCases), std::end(kWorkloadEntryCases), name).yaml);
}

// For Istio's reason: the messages are Istio's, after the field's path.
TEST(IstioValidationTest, IstiosReasons) {
  EXPECT_THAT(
      se("empty hosts").errors,
      ElementsAre("spec.hosts: service entry must have at least one host",
                  "spec.endpoints[0].ports[http-valid2]: endpoint port 9080 is not defined by the service entry"));
  EXPECT_THAT(se("bad hosts").errors[0], "spec.hosts[0]: domain name \"-\" invalid (label \"-\" invalid)");
  EXPECT_THAT(se("full wildcard host").errors[0], "spec.hosts[1]: invalid host *");
  EXPECT_THAT(se("undefined endpoint port").errors,
              ElementsAre("spec.ports[1].number: service entry port 80 already defined",
                          "spec.endpoints[1].ports[http-dne]: endpoint port 9080 is not defined by the service entry"));
  EXPECT_THAT(
      se("discovery type DNS, non-FQDN host").errors,
      ElementsAre("spec.hosts[0]: hosts must be FQDN or contain only prefix wildcards if no endpoints are "
                  "provided for resolution mode DNS, domain name \"*.google.com\" invalid (label \"*\" invalid)"));
  EXPECT_THAT(se("discovery type static, FQDN in endpoints").errors,
              ElementsAre("spec.endpoints[0].address: endpoint address \"google.com\" is not a valid IP address"));
  EXPECT_THAT(se("unix socket, relative path").errors,
              ElementsAre("spec.endpoints[0].address: ./relative/path.sock is not an absolute path to a file"));
  EXPECT_THAT(se("unix socket, multiple service ports").errors,
              ElementsAre("spec.endpoints[0]: exactly 1 service port required for unix endpoints"));
  EXPECT_THAT(se("bad selector key").errors,
              ElementsAre("spec.workloadSelector.labels[]: empty key is not supported in selector: \"=bar\""));
  EXPECT_THAT(se("bad selector key").warnings, IsEmpty());  // a bad selector is all Istio reports
  EXPECT_THAT(se("crd partial-wildcard").warnings, ElementsAre("spec.hosts[0]: partial wildcard \"*x\" not allowed"));
  EXPECT_THAT(se("network set with no address on endpoint").warnings,
              ElementsAre("spec.endpoints[0].address: address is unset with network \"cluster-1\""));
  EXPECT_THAT(se("discovery type DNS, multi hosts set with IP address and https port").warnings,
              ElementsAre("spec.hosts: service entry can not have more than one host specified simultaneously with "
                          "address and tcp port"));
  EXPECT_THAT(se("discovery type DYNAMIC_DNS, IP address set").errors,
              ElementsAre("spec.addresses: addresses cannot be set for resolution type DYNAMIC_DNS. HTTP route domains "
                          "will only be generatedfrom the hosts field values"));
  EXPECT_THAT(se("discovery type DYNAMIC_DNS, MESH_INTERNAL with waypoint").errors,
              ElementsAre("spec.location: location MESH_INTERNAL with resolution type DYNAMIC_DNS is not supported "
                          "when using waypoints"));
  EXPECT_THAT(se("crd bad-port-target").errors,
              ElementsAre("spec.ports[0].targetPort: port number 99999 must be in the range 1..65535"));
  EXPECT_THAT(we("missing address").errors, ElementsAre("spec.address: address is required"));
  EXPECT_THAT(
      we("invalid FQDN").errors,
      ElementsAre("spec.address: endpoint address \"invaliddns.com:9443\" is not a valid FQDN or an IP address"));
  EXPECT_THAT(we("crd bad-port-name").errors, ElementsAre("spec.ports[@]: invalid port name: @"));
  EXPECT_THAT(we("crd bad-uds-dir").errors, ElementsAre("spec.address: /dir/ is not an absolute path to a file"));
}

TEST(IstioValidationTest, WeftdRefusesWhatItCannotServeAfterIstiosRules) {
  DecodeResult r = decodeResource(YAML::Load(
      find(std::begin(kServiceEntryCases), std::end(kServiceEntryCases), "discovery type DYNAMIC_DNS").yaml));
  EXPECT_THAT(r.errors, ElementsAre("spec.resolution: DYNAMIC_DNS is not supported by weftd (NONE, STATIC, DNS are)"));
  EXPECT_FALSE(r.resource.has_value());
}

TEST(IstioValidationTest, ExportTo) {
  auto errors = [](const std::string& list) {
    return verdict(
               "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: foo, namespace: ns5}\n"
               "spec:\n  hosts: [a.example.com]\n  addresses: [1.1.1.1]\n  exportTo: " +
               list + "\n")
        .errors;
  };
  EXPECT_THAT(errors("['*']"), IsEmpty());
  EXPECT_THAT(errors("[., ns1]"), IsEmpty());
  EXPECT_THAT(errors("['~']"), IsEmpty());
  EXPECT_THAT(errors("[., ns5]"), ElementsAre("spec.exportTo: duplicate entries in exportTo for entry ns5"));
  EXPECT_THAT(errors("[ns5, .]"),
              ElementsAre("spec.exportTo: duplicate entries in exportTo: . and current namespace ns5"));
  EXPECT_THAT(errors("[ns1, ns2, ns1]"), ElementsAre("spec.exportTo: duplicate entries in exportTo for entry ns1"));
  EXPECT_THAT(errors("['*', ns1]"),
              ElementsAre("spec.exportTo: cannot have both public (*) and non-public exportTo values for a resource"));
  EXPECT_THAT(errors("['~', ns1]"),
              ElementsAre("spec.exportTo: cannot export service entry to no one (~) and someone"));
  EXPECT_THAT(errors("[ns1_]"),
              ElementsAre("spec.exportTo: only .,*, or a valid DNS 1123 label is allowed as exportTo entry"));
}

// VirtualService and DestinationRule rules re-derived so far (Istio's messages; its test cases
// "wildcard for mesh gateway", the retry policy cases, upper-case subset names, LEAST_CONN).
TEST(IstioValidationTest, VirtualServiceAndDestinationRule) {
  auto vs = [](const std::string& spec) {
    return verdict(
               "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: r, namespace: ns5}\n"
               "spec:\n" +
               spec)
        .errors;
  };
  const std::string route = "  http: [{route: [{destination: {host: reviews}}]";
  EXPECT_THAT(
      vs("  hosts: ['*']\n" + route + "}]\n"),
      ElementsAre("spec.hosts[0]: wildcard host * is not allowed for virtual services bound to the mesh gateway"));
  EXPECT_THAT(vs("  hosts: [reviews]\n" + route + ", retries: {attempts: 0, retryOn: 5xx}}]\n"),
              ElementsAre("spec.http[0].retries: http retry policy configured when attempts are set to 0 (disabled)"));
  EXPECT_THAT(vs("  hosts: [reviews]\n" + route + ", retries: {attempts: 2, retryOn: '600,connect-failure'}}]\n"),
              ElementsAre("spec.http[0].retries.retryOn: \"600\" is not a valid retryOn policy"));
  EXPECT_THAT(vs("  hosts: [reviews]\n" + route + ", retries: {attempts: 2, retryOn: '5xx, gateway-error'}}]\n"),
              ElementsAre("spec.http[0].retries.retryOn: \" gateway-error\" is not a valid retryOn policy"));
  EXPECT_THAT(vs("  hosts: [reviews]\n" + route + ", retries: {attempts: 2, retryOn: '503,429,connect-failure'}}]\n"),
              IsEmpty());
  EXPECT_THAT(vs("  hosts: [reviews]\n  http: [{route: [{destination: {host: reviews, subset: V1}}]}]\n"), IsEmpty());
  EXPECT_THAT(vs("  hosts: [reviews]\n  exportTo: ['*', ns1]\n" + route + "}]\n"),
              ElementsAre("spec.exportTo: cannot have both public (*) and non-public exportTo values for a resource"));
  auto dr = [](const std::string& spec) {
    return verdict(
               "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: r, namespace: ns5}\n"
               "spec:\n  host: reviews\n" +
               spec)
        .errors;
  };
  EXPECT_THAT(dr("  subsets: [{name: V1, labels: {version: v1}}]\n"), IsEmpty());
  EXPECT_THAT(dr("  subsets: [{name: v1}, {name: v1}]\n"),
              ElementsAre("spec.subsets[1].name: duplicate subset names: v1"));
  EXPECT_THAT(dr("  subsets: [{name: v1, labels: {'bad key': x}}]\n"),
              ElementsAre("spec.subsets[0].labels: invalid tag key: \"bad key\""));
  EXPECT_THAT(dr("  trafficPolicy: {loadBalancer: {simple: LEAST_CONN}}\n"), IsEmpty());
}

// validateWorkloadSelector, shared by the security and telemetry kinds.
TEST(IstioValidationTest, PolicyWorkloadSelectors) {
  for (const std::string kind :
       {"security.istio.io/v1\nkind: PeerAuthentication", "security.istio.io/v1\nkind: AuthorizationPolicy",
        "security.istio.io/v1\nkind: RequestAuthentication", "telemetry.istio.io/v1\nkind: Telemetry"}) {
    auto errors = [&](const std::string& labels) {
      return verdict("apiVersion: " + kind +
                     "\nmetadata: {name: p, namespace: ns}\nspec:\n  selector: {matchLabels: " + labels + "}\n")
          .errors;
    };
    EXPECT_THAT(errors("{app: reviews}"), IsEmpty()) << kind;
    EXPECT_THAT(errors("{app: '*'}"),
                ElementsAre("spec.selector.matchLabels[app]: wildcard is not supported in selector: \"app=*\""))
        << kind;
    EXPECT_THAT(errors("{'': x}"),
                ElementsAre("spec.selector.matchLabels[]: empty key is not supported in selector: \"=x\""))
        << kind;
    // A selector without labels: valid, with Istio's warning.
    Verdict empty = verdict("apiVersion: " + kind + "\nmetadata: {name: p, namespace: ns}\nspec:\n  selector: {}\n");
    EXPECT_THAT(empty.errors, IsEmpty()) << kind;
    EXPECT_THAT(empty.warnings, ElementsAre("spec.selector: workload selector specified without labels")) << kind;
  }
}

// RequestAuthentication's jwtRules: outputClaimToHeaders header names (ValidateStrictHTTPHeaderName)
// and the fetch timeout (ValidateDuration).
TEST(IstioValidationTest, RequestAuthenticationHeadersAndTimeout) {
  auto errors = [](const std::string& rule) {
    return verdict(
               "apiVersion: security.istio.io/v1\nkind: RequestAuthentication\nmetadata: {name: r, namespace: "
               "ns}\nspec:\n  jwtRules:\n  - {issuer: https://i.example, jwksUri: https://i.example/jwks, " +
               rule + "}\n")
        .errors;
  };
  EXPECT_THAT(errors("outputClaimToHeaders: [{header: x-sub, claim: sub}]"), IsEmpty());
  EXPECT_THAT(errors("outputClaimToHeaders: [{header: 'abc%123', claim: sub}, {header: ':authority', claim: sub}]"),
              ElementsAre("spec.jwtRules[0].outputClaimToHeaders[0].header: header name abc%123 is not a valid header "
                          "name",
                          "spec.jwtRules[0].outputClaimToHeaders[1].header: header name :authority is not a valid "
                          "header name"));
  EXPECT_THAT(errors("timeout: 0s"), ElementsAre("spec.jwtRules[0].timeout: duration must be greater than 1ms"));
  EXPECT_THAT(errors("timeout: 1m30s"), IsEmpty());
}

// istio.io/dry-run (TestValidateAuthorizationPolicy's dry-run cases) and the annotations only
// Istio may set (validateMetadata).
TEST(IstioValidationTest, DryRunAndInternalAnnotations) {
  auto ap = [](const std::string& value, const std::string& action) {
    return decodeResource(YAML::Load("apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\n"
                                     "metadata: {name: p, namespace: ns, annotations: {istio.io/dry-run: '" +
                                     value + "'}}\nspec: {action: " + action + ", rules: [{}]}\n"))
        .errors;
  };
  EXPECT_THAT(ap("false", "DENY"), IsEmpty());
  EXPECT_THAT(ap("true", "ALLOW"), IsEmpty());  // counted, not enforced (authz_gen's shadow rules)
  EXPECT_THAT(ap("foo", "ALLOW"), ElementsAre("metadata.annotations[istio.io/dry-run]: ns/p has annotation "
                                              "istio.io/dry-run with invalid value (foo): strconv.ParseBool: parsing "
                                              "\"foo\": invalid syntax"));
  EXPECT_THAT(ap("true", "AUDIT"),
              ElementsAre("metadata.annotations[istio.io/dry-run]: the annotation istio.io/dry-run "
                          "currently only supports action ALLOW/DENY, found action AUDIT in ns/p"));
  EXPECT_THAT(verdict("apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: d, namespace: ns, "
                      "annotations: {istio.io/dry-run: 'true'}}\nspec: {host: reviews}\n")
                  .errors,
              ElementsAre("metadata.annotations[istio.io/dry-run]: ns/d has unsupported annotation istio.io/dry-run, "
                          "please remove the annotation"));
  EXPECT_THAT(verdict("apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: d, namespace: ns, "
                      "annotations: {internal.istio.io/webhook-always-reject: 'x'}}\nspec: {host: reviews}\n")
                  .errors,
              ElementsAre("metadata.annotations: \"internal.istio.io/webhook-always-reject\" annotation found, "
                          "rejecting"));
}

// Header operations (TestValidateHTTPRoute's header cases).
TEST(IstioValidationTest, HeaderOperations) {
  auto vs = [](const std::string& headers) {
    return verdict(
               "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: r, namespace: ns}\n"
               "spec:\n  hosts: [reviews]\n  http: [{route: [{destination: {host: reviews}}], headers: " +
               headers + "}]\n")
        .errors;
  };
  EXPECT_THAT(vs("{request: {set: {':authority': a.example.com, x-a: b}}, response: {add: {x-b: c}}}"), IsEmpty());
  EXPECT_THAT(vs("{request: {add: {'': x}}}"),
              ElementsAre("spec.http[0].headers.request.add[]: header name cannot be empty"));
  EXPECT_THAT(vs("{request: {remove: [Host]}}"),
              ElementsAre("spec.http[0].headers.request.remove[0]: invalid header \"Host\": cannot set Host header"));
  EXPECT_THAT(vs("{response: {set: {':status': '200'}}}"),
              ElementsAre("spec.http[0].headers.response.set[:status]: invalid header \":status\": header cannot have "
                          "\":\" prefix"));
}

// Sidecar (TestValidateSidecar): every field checked as Istio checks it. weftd serves only the
// catch-all egress listener; the rest is then refused as weftd's limit, which is not Istio's verdict.
TEST(IstioValidationTest, SidecarsAsIstioJudgesThem) {
  auto sidecar = [](const std::string& spec) {
    return verdict("apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {name: s, namespace: ns}\nspec:\n" +
                   spec);
  };
  struct Case {
    const char* name;
    const char* spec;
    const char* error;  // Istio's message after the path; nullptr: valid
  } cases[] = {
      {"egress listeners on distinct ports",
       "  egress:\n  - {port: {number: 90, protocol: http, name: foo}, hosts: [\"ns1/bar.com\"]}\n"
       "  - {port: {number: 8080, protocol: http, name: bar}, hosts: [\"ns1/bar.com\"]}\n  - {hosts: [\"*/*\"]}\n",
       nullptr},
      {"ingress only",
       "  ingress: [{port: {protocol: http, number: 90, name: foo}, defaultEndpoint: \"127.0.0.1:9999\"}]\n", nullptr},
      {"outbound traffic policy only", "  outboundTrafficPolicy: {mode: ALLOW_ANY}\n", nullptr},
      {"inbound connection pool only", "  inboundConnectionPool: {http: {http1MaxPendingRequests: 1024}}\n", nullptr},
      {"uds egress",
       "  egress:\n  - {port: {protocol: http, number: 0, name: uds}, bind: \"unix:///@foo/bar/com\", "
       "hosts: [\"ns1/bar.com\"]}\n",
       nullptr},
      {"ingress without port", "  ingress: [{defaultEndpoint: \"127.0.0.1:110\"}]\n",
       "spec.ingress[0]: sidecar: port is required for ingress listeners"},
      {"ingress with duplicate ports",
       "  ingress:\n  - {port: {protocol: http, number: 90, name: foo}, defaultEndpoint: \"127.0.0.1:110\"}\n"
       "  - {port: {protocol: tcp, number: 90, name: bar}, defaultEndpoint: \"127.0.0.1:110\"}\n",
       "spec.ingress[1]: sidecar: ports on IP bound listeners must be unique"},
      {"ingress with a bad default endpoint port",
       "  ingress: [{port: {protocol: http, number: 90, name: foo}, defaultEndpoint: \"1.1.1.1:hi\"}]\n",
       "spec.ingress[0].defaultEndpoint: sidecar: defaultEndpoint must be of form 127.0.0.1:<port>,0.0.0.0:<port>,"
       "[::1]:port,[::]:port,unix://filepath or unset"},
      {"invalid egress port",
       "  egress: [{port: {protocol: http, number: 1000000, name: foo}, hosts: [\"ns1/bar.com\"]}]\n",
       "spec.egress[0].port.number: port number 1000000 must be in the range 1..65535"},
      {"port 0 without a unix bind",
       "  egress: [{port: {protocol: http, number: 0, name: foo}, bind: 1.1.1.1, hosts: [\"ns1/bar.com\"]}]\n",
       "spec.egress[0]: sidecar: ports with 0 value must have a unix domain socket bind address"},
      {"capture mode with a uds bind",
       "  egress: [{port: {protocol: http, number: 0, name: uds}, bind: \"unix:///@foo\", captureMode: IPTABLES, "
       "hosts: [\"ns1/bar.com\"]}]\n",
       "spec.egress[0]: sidecar: captureMode must be DEFAULT/NONE for unix domain socket listeners"},
      {"dynamic DNS mode", "  outboundTrafficPolicy: {mode: ALLOW_ANY_DYNAMIC_DNS}\n",
       "spec.outboundTrafficPolicy: sidecar: ALLOW_ANY_DYNAMIC_DNS mode is only supported in MeshConfig, not in "
       "Sidecar resource"},
      {"egress proxy without ALLOW_ANY",
       "  outboundTrafficPolicy: {egressProxy: {host: foo.bar, port: {number: 80}}}\n",
       "spec.outboundTrafficPolicy: sidecar: egress_proxy must be set only with ALLOW_ANY outbound_traffic_policy "
       "mode"},
      {"egress proxy without a port", "  outboundTrafficPolicy: {mode: ALLOW_ANY, egressProxy: {host: foo.bar}}\n",
       "spec.outboundTrafficPolicy.egressProxy: sidecar: egress_proxy port must be non-nil"},
  };
  for (const auto& c : cases) {
    Verdict v = sidecar(c.spec);
    if (c.error == nullptr) {
      EXPECT_THAT(v.errors, IsEmpty()) << c.name;
    } else {
      EXPECT_THAT(v.errors, ::testing::Contains(std::string(c.error))) << c.name << "\n" << describe(v);
    }
  }
  // Duplicated hosts are Istio's warnings.
  EXPECT_THAT(sidecar("  egress: [{hosts: [\"ns1/a.com\", \"ns1/a.com\", \"*/*\"]}]\n").warnings,
              ElementsAre("spec.egress[0].hosts: duplicated egress host: ns1/a.com",
                          "spec.egress[0].hosts: `*/*` host select all resources, no other hosts can be added"));
  // weftd serves the catch-all listener; the rest is its limit, named.
  DecodeResult r = decodeResource(
      YAML::Load("apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {name: s, namespace: ns}\nspec:\n"
                 "  egress: [{port: {number: 90, protocol: http, name: foo}, hosts: [\"ns1/bar.com\"]}]\n"));
  EXPECT_THAT(r.errors, ElementsAre("spec.egress: listeners with a port or a bind address are not supported by weftd"));
}

// TestValidateAuthorizationPolicy, TestValidateRequestAuthentication, TestValidateTelemetry,
// TestValidateDestinationRule and TestValidateVirtualService cases weftd judged otherwise before
// (Istio master 86c9f01): the verdict, and Istio's message after the path.
TEST(IstioValidationTest, PolicyAndRoutingCasesAsIstioJudgesThem) {
  const std::string ap =
      "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: a, namespace: ns}\nspec:\n";
  const std::string ra =
      "apiVersion: security.istio.io/v1\nkind: RequestAuthentication\nmetadata: {name: r, namespace: ns}\nspec:\n";
  const std::string tm =
      "apiVersion: telemetry.istio.io/v1\nkind: Telemetry\nmetadata: {name: t, namespace: ns}\nspec:\n";
  const std::string dr =
      "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: d, namespace: ns}\nspec:\n  host: "
      "reviews\n";
  const std::string vs =
      "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: v, namespace: ns}\nspec:\n";
  struct Case {
    std::string name, yaml;
    const char* error;    // Istio's message (a substring of one error); nullptr: valid
    const char* warning;  // a substring of one warning, or nullptr
  } cases[] = {
      {"experimental filter key",
       ap + "  rules: [{when: [{key: \"experimental.envoy.filters.a.b[c]\", values: [x]}]}]\n", nullptr, nullptr},
      {"experimental key without brackets",
       ap + "  rules: [{when: [{key: experimental.envoy.filters.a, values: [x]}]}]\n",
       "bad key (experimental.envoy.filters.a): should have format a[b]", nullptr},
      {"CUSTOM without a provider", ap + "  action: CUSTOM\n  rules: [{}]\n", "`provider.name` must not be empty",
       nullptr},
      {"CUSTOM without rules", ap + "  action: CUSTOM\n  provider: {name: ext}\n",
       "CUSTOM action without `rules` is meaningless", nullptr},
      {"CUSTOM on source.principal",
       ap + "  action: CUSTOM\n  provider: {name: ext}\n  rules: [{when: [{key: source.principal, values: [a]}]}]\n",
       "source.principal is currently not supported with CUSTOM action", nullptr},
      {"CUSTOM on principals",
       ap + "  action: CUSTOM\n  provider: {name: ext}\n  rules: [{from: [{source: {principals: [a]}}]}]\n",
       "From.Principals is currently not supported with CUSTOM action", nullptr},
      {"targetRef with a namespace", ap + "  targetRef: {kind: Service, name: s, namespace: other}\n",
       "targetRef namespace must not be set; cross namespace referencing is not supported", nullptr},
      {"targetRef without a name", ap + "  targetRef: {kind: Service}\n", "targetRef name must be set", nullptr},
      {"targetRef to a Pod", ap + "  targetRef: {kind: Pod, name: p}\n", "targetRef must be to one of", nullptr},
      {"targetRefs and a selector",
       ap + "  selector: {matchLabels: {a: b}}\n  targetRefs: [{kind: Service, name: s}]\n",
       "only one of targetRefs or workloadSelector can be set", nullptr},
      {"a Service targetRef", ap + "  targetRef: {kind: Service, name: s}\n", nullptr, nullptr},
      {"path template in the middle", ap + "  rules: [{to: [{operation: {paths: [\"/a/{**}/b/{*}\"]}}]}]\n",
       "{**} is not the last operator", nullptr},
      {"path template with braces", ap + "  rules: [{to: [{operation: {paths: [\"/a/{x}\"]}}]}]\n",
       "Contains '{' or '}' beyond a supported path template", nullptr},
      {"valid path templates", ap + "  rules: [{to: [{operation: {paths: [\"/a/{*}/b/{**}\"]}}]}]\n", nullptr, nullptr},
      {"trust domain wildcard in the middle", ap + "  rules: [{from: [{source: {trustDomains: [\"a*b\"]}}]}]\n",
       "wildcard is only allowed at the start or end, found in TrustDomains: \"a*b\"", nullptr},
      {"trust domain with a slash", ap + "  rules: [{from: [{source: {trustDomains: [\"a/b\"]}}]}]\n",
       "trust domain must not contain '/'", nullptr},
      {"DENY on paths only", ap + "  action: DENY\n  rules: [{to: [{operation: {paths: [/admin]}}]}]\n", nullptr,
       "will deny all traffic to TCP ports under its scope"},
      {"DENY on paths and ports",
       ap + "  action: DENY\n  rules: [{to: [{operation: {paths: [/admin], ports: [\"80\"]}}]}]\n", nullptr, nullptr},
      {"presence MANDATORY", ra + "  jwtRules: [{issuer: https://i.example, presence: MANDATORY}]\n",
       "Unsupported value: \"MANDATORY\"", nullptr},
      {"jwks with a private key",
       ra + "  jwtRules: [{issuer: https://i.example, jwks: '{\"keys\": [{\"kty\": \"RSA\", \"n\": \"x\", \"e\": "
            "\"AQAB\", \"d\": \"y\"}]}'}]\n",
       nullptr, "jwks key at index 0 contains private key material"},
      {"RA targetRef to a Pod", ra + "  targetRef: {kind: Pod, name: p}\n", "targetRef must be to one of", nullptr},
      {"empty custom metric", tm + "  metrics: [{overrides: [{match: {customMetric: \"\"}}]}]\n",
       "customMetric may not be empty", nullptr},
      {"two tracings", tm + "  tracing: [{providers: [{name: a}]}, {providers: [{name: b}]}]\n", nullptr,
       "multiple tracing is not currently supported"},
      {"two tracing providers", tm + "  tracing: [{providers: [{name: a}, {name: b}]}]\n", nullptr,
       "multiple providers is not currently supported"},
      {"warmup", dr + "  trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN, warmup: {duration: 10s}}}\n", nullptr,
       nullptr},
      {"warmup without a duration", dr + "  trafficPolicy: {loadBalancer: {warmup: {aggression: 0}}}\n",
       "duration is required", nullptr},
      {"warmup with its numbers",
       dr + "  trafficPolicy: {loadBalancer: {warmup: {duration: 10s, minimumPercent: 5.0, aggression: 1.5}}}\n",
       nullptr, nullptr},
      {"warmup over 100%", dr + "  trafficPolicy: {loadBalancer: {warmup: {duration: 10s, minimumPercent: 150}}}\n",
       "minimumPercent value should be less than or equal to 100", nullptr},
      {"source.principal wildcards",
       ap + "  rules: [{when: [{key: source.principal, values: [\"*a*\"], notValues: [\"a*b\"]}]}]\n", nullptr,
       nullptr},
      {"TLS route without a route", vs + "  hosts: [a.example.com]\n  tls: [{match: [{sniHosts: [a.example.com]}]}]\n",
       "TLS route is required", nullptr},
      {"TLS route without a match", vs + "  hosts: [a.example.com]\n  tls: [{route: [{destination: {host: r}}]}]\n",
       "TLS route must have at least one match condition", nullptr},
      {"TLS match without SNI hosts",
       vs + "  hosts: [a.example.com]\n  tls: [{match: [{port: 443}], route: [{destination: {host: r}}]}]\n",
       "TLS match must have at least one SNI host", nullptr},
      {"SNI host outside the hosts",
       vs + "  hosts: [a.example.com]\n  tls: [{match: [{sniHosts: [b.example.com]}], route: [{destination: {host: "
            "r}}]}]\n",
       "SNI host \"b.example.com\" is not a compatible subset of any of the virtual service hosts: [a.example.com]",
       nullptr},
      {"SNI host under a wildcard",
       vs + "  hosts: [\"*.example.com\"]\n  tls: [{match: [{sniHosts: [b.example.com]}], route: [{destination: {host: "
            "r}}]}]\n",
       nullptr, nullptr},
      {"bad SNI wildcard",
       vs + "  hosts: [\"*.bar.com\"]\n  tls: [{match: [{sniHosts: [\"foo.*.com\"]}], route: [{destination: {host: "
            "r}}]}]\n",
       "(label \"*\" invalid)", nullptr},
      {"MUTUAL with a credentialName", dr + "  trafficPolicy: {tls: {mode: MUTUAL, credentialName: c}}\n", nullptr,
       nullptr},
      {"SIMPLE, insecureSkipVerify and a credentialName",
       dr + "  trafficPolicy: {tls: {mode: SIMPLE, credentialName: c, insecureSkipVerify: true}}\n",
       "cannot specify CaCertificates or CredentialName or SubjectAltNames when InsecureSkipVerify is set true",
       nullptr},
      {"credentialName and caCertificates",
       dr + "  trafficPolicy: {tls: {mode: SIMPLE, credentialName: c, caCertificates: /ca}}\n",
       "cannot specify client certificates or CA certificate or CA CRL If credentialName is set", nullptr},
      {"http2 keepalive without an interval",
       dr + "  trafficPolicy: {connectionPool: {http: {http2KeepAlive: {timeout: 1s}}}}\n",
       "http2 keepalive interval is required", nullptr},
      {"a workload selector without labels", dr + "  workloadSelector: {}\n", nullptr,
       "workload selector specified without labels"},
      {"a workload selector and exportTo elsewhere",
       dr + "  workloadSelector: {matchLabels: {a: b}}\n  exportTo: [other]\n",
       "destination rule with workload selector cannot have exportTo beyond current namespace", nullptr},
      {"locality and zone-aware settings",
       dr + "  trafficPolicy: {loadBalancer: {localityLbSetting: {enabled: true}, zoneAwareLbSetting: {}}}\n",
       "only one of localityLbSetting and zoneAwareLbSetting can be set", nullptr},
      {"delegate", vs + "  http: [{route: [{destination: {host: r}}]}]\n", nullptr, nullptr},
      {"delegate with gateways", vs + "  gateways: [ns/g]\n  http: [{route: [{destination: {host: r}}]}]\n",
       "delegate virtual service must have no gateways specified", nullptr},
      {"tls routes only",
       vs + "  hosts: [r.example.com]\n  tls: [{match: [{sniHosts: [r.example.com]}], route: [{destination: {host: "
            "r}}]}]\n",
       nullptr, nullptr},
      {"SNI names of AUTO_PASSTHROUGH",
       vs + "  hosts: [\"outbound_.15010_._.istiod.istio-system.svc.cluster.local\"]\n  gateways: [ns/g]\n"
            "  tls: [{match: [{sniHosts: [\"outbound_.15010_._.istiod.istio-system.svc.cluster.local\"]}], route: "
            "[{destination: {host: r}}]}]\n",
       nullptr, nullptr},
      {"an IP address as a host", vs + "  hosts: [1.1.1.1]\n  http: [{route: [{destination: {host: r}}]}]\n", nullptr,
       nullptr},
      {"a bad gateway name",
       vs + "  hosts: [r]\n  gateways: [\"b@d\"]\n  http: [{route: [{destination: {host: r}}]}]\n",
       "domain name \"b@d\" invalid", nullptr},
      {"namespace/* gateway",
       vs + "  hosts: [r]\n  gateways: [\"ns/*\"]\n  http: [{route: [{destination: {host: r}}]}]\n",
       "invalid value for gateway name: \"*\"", nullptr},
      {"authority set twice",
       vs + "  hosts: [r]\n  http: [{rewrite: {authority: a}, headers: {request: {set: {\":authority\": b}}}, route: "
            "[{destination: {host: r}}]}]\n",
       "authority header cannot be set multiple times: have \"a\", attempting to set \"b\"", nullptr},
      {"redirect prefixRewrite",
       vs + "  hosts: [r]\n  http: [{match: [{uri: {prefix: /a}}], redirect: {prefixRewrite: /b}}]\n", nullptr,
       nullptr},
      {"redirect prefixRewrite on an exact match",
       vs + "  hosts: [r]\n  http: [{match: [{uri: {exact: /a}}], redirect: {prefixRewrite: /b}}]\n",
       "redirect prefix_rewrite requires all URI matches to use prefix match type", nullptr},
  };
  for (const auto& c : cases) {
    Verdict v = verdict(c.yaml);
    if (c.error == nullptr) {
      EXPECT_THAT(v.errors, IsEmpty()) << c.name;
    } else {
      EXPECT_THAT(v.errors, ::testing::Contains(::testing::HasSubstr(c.error))) << c.name << "\n" << describe(v);
    }
    if (c.warning != nullptr) {
      EXPECT_THAT(v.warnings, ::testing::Contains(::testing::HasSubstr(c.warning))) << c.name << "\n" << describe(v);
    } else if (c.error == nullptr) {
      EXPECT_THAT(v.warnings, IsEmpty()) << c.name;
    }
  }
}

}  // namespace
}  // namespace weft::control
