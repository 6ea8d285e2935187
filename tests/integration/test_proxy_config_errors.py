"""Bootstrap validation: `--mode validate` accepts a valid config (YAML or JSON) and rejects bad
ones with an error that names the file/line or the field path; run mode refuses them too."""

import re

import pytest

import weft_harness as wh

# A field that changes behaviour and that weft-proxy does not implement: it must be rejected,
# not ignored. (LRS load reporting; swap for another unimplemented field if this one gets done.)
UNSUPPORTED_FIELD = "lrs_server"
UNSUPPORTED_VALUE = {"self": {}}


def valid_config(weft):
    port, tcp_port, admin = weft.port(), weft.port(), weft.port()
    return wh.bootstrap(admin, listeners=[
        wh.http_listener("http", port, [wh.vhost("all", ["*"], [
            wh.route_to("svc", prefix="/svc", timeout="2s"),
            wh.direct(200, "ok"),
        ])], access_log=[wh.file_access_log(weft.path("access.log"))]),
        wh.listener("tcp", tcp_port, [wh.tcp_proxy_filter("svc", "tcp")]),
    ], clusters=[
        wh.cluster("svc", [8081]),
        wh.cluster("dns", [("localhost", 8082)], type="STRICT_DNS", dns_lookup_family="V4_ONLY"),
    ])


def rejected(result, what):
    assert result.returncode != 0, (
        "%s: expected --mode validate to fail, it exited 0 (stdout %r, stderr %r)"
        % (what, result.stdout[-500:], result.stderr[-500:]))
    assert result.stderr.strip(), "%s: rejected without an error message on stderr" % what
    return result.stderr


def test_valid_config_json_in_yaml_file(weft):
    path, result = weft.validate(valid_config(weft))
    assert result.returncode == 0, "valid bootstrap %s rejected: rc=%d stderr:\n%s" % (
        path, result.returncode, result.stderr[-3000:])


def test_valid_config_json_file(weft):
    path, result = weft.validate(valid_config(weft), suffix=".json")
    assert result.returncode == 0, "valid bootstrap %s rejected: rc=%d stderr:\n%s" % (
        path, result.returncode, result.stderr[-3000:])


def test_valid_config_block_yaml(weft):
    port, admin, upstream = weft.port(), weft.port(), weft.port()
    text = """\
# a hand-written YAML bootstrap
node:
  id: yaml-node
  cluster: yaml-cluster
admin:
  address:
    socket_address: { address: 127.0.0.1, port_value: %(admin)d }
static_resources:
  listeners:
  - name: listener_0
    address:
      socket_address:
        address: 127.0.0.1
        port_value: %(port)d
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ingress_http
          route_config:
            name: local_route
            virtual_hosts:
            - name: backend
              domains: ["*"]
              routes:
              - match: { prefix: "/" }
                route: { cluster: service_a, timeout: 5s }
          http_filters:
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  clusters:
  - name: service_a
    connect_timeout: 0.25s
    type: STATIC
    lb_policy: ROUND_ROBIN
    load_assignment:
      cluster_name: service_a
      endpoints:
      - lb_endpoints:
        - endpoint:
            address:
              socket_address: { address: 127.0.0.1, port_value: %(upstream)d }
""" % {"admin": admin, "port": port, "upstream": upstream}
    path, result = weft.validate(text)
    assert result.returncode == 0, "valid YAML bootstrap %s rejected: rc=%d stderr:\n%s" % (
        path, result.returncode, result.stderr[-3000:])


def test_unsupported_cluster_field_names_its_path(weft):
    config = valid_config(weft)
    config["static_resources"]["clusters"][1][UNSUPPORTED_FIELD] = UNSUPPORTED_VALUE
    _, result = weft.validate(config)
    err = rejected(result, "cluster with %s" % UNSUPPORTED_FIELD)
    expected = "static_resources.clusters[1].%s" % UNSUPPORTED_FIELD
    assert expected in err, "error should name the field path %r; stderr:\n%s" % (expected, err[-2000:])


def test_unsupported_http_filter_is_rejected(weft):
    config = valid_config(weft)
    hcm = config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
    hcm["http_filters"].insert(0, {
        "name": "envoy.filters.http.lua",
        "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua",
                         "default_source_code": {"inline_string": "function envoy_on_request(h) end"}},
    })
    _, result = weft.validate(config)
    err = rejected(result, "HCM with envoy.filters.http.lua")
    assert "envoy.filters.http.lua" in err or "envoy.extensions.filters.http.lua.v3.Lua" in err, (
        "error should name the unsupported filter; stderr:\n%s" % err[-2000:])


def test_unknown_listener_filter_is_rejected(weft):
    config = valid_config(weft)
    config["static_resources"]["listeners"][1]["listener_filters"] = [{
        "name": "envoy.filters.listener.weft_test_unknown",
        "typed_config": {"@type": "type.googleapis.com/google.protobuf.Empty"},
    }]
    _, result = weft.validate(config)
    err = rejected(result, "listener with an unknown listener filter")
    assert "weft_test_unknown" in err, "error should name the unknown listener filter; stderr:\n%s" % err[-2000:]


def test_unknown_field_is_rejected(weft):
    config = valid_config(weft)
    config["static_resources"]["clusters"][0]["conect_timeout"] = "1s"  # typo
    _, result = weft.validate(config)
    err = rejected(result, "cluster with a misspelt field")
    assert "conect_timeout" in err, "error should name the unknown field; stderr:\n%s" % err[-2000:]


def test_yaml_syntax_error_names_file_and_line(weft):
    text = (
        "admin:\n"                                                      # 1
        "  address:\n"                                                  # 2
        "    socket_address: {address: 127.0.0.1, port_value: 9901}\n"  # 3
        "static_resources:\n"                                           # 4
        "  clusters:\n"                                                 # 5
        "  - name: broken\n"                                            # 6
        "    connect_timeout: 1s\n"                                     # 7
        "    type: STATIC: oops\n"                                      # 8  <- the error
    )
    path, result = weft.validate(text, name="broken-syntax")
    err = rejected(result, "YAML syntax error")
    assert path.name in err, "error should name the file %s; stderr:\n%s" % (path.name, err[-2000:])
    assert re.search(r"(line\W{0,3}8\b|:8(:|\b))", err), (
        "error should name line 8; stderr:\n%s" % err[-2000:])


@pytest.mark.parametrize("kind", ["route", "weighted"])
def test_route_to_unknown_cluster_is_rejected(weft, kind):
    config = valid_config(weft)
    vh = (config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]
          ["typed_config"]["route_config"]["virtual_hosts"][0])
    if kind == "route":
        missing = "no_such_cluster"
        vh["routes"].insert(0, wh.route_to(missing, prefix="/missing"))
    else:
        missing = "missing_weighted_cluster"
        vh["routes"].insert(0, {"match": {"prefix": "/w"}, "route": {"weighted_clusters": {
            "clusters": [{"name": "svc", "weight": 50}, {"name": missing, "weight": 50}]}}})
    _, result = weft.validate(config)
    err = rejected(result, "route to an undefined cluster")
    assert missing in err, "error should name the unknown cluster %r; stderr:\n%s" % (missing, err[-2000:])


def test_run_mode_refuses_invalid_config(weft):
    config = valid_config(weft)
    config["static_resources"]["clusters"][1][UNSUPPORTED_FIELD] = UNSUPPORTED_VALUE
    proxy = weft.start_proxy(config, wait_ready=False)
    rc = proxy.wait_exit(10)
    assert rc is not None and rc != 0, "weft-proxy should exit non-zero on an invalid bootstrap, rc=%r%s" % (
        rc, proxy.ctx())
    expected = "static_resources.clusters[1].%s" % UNSUPPORTED_FIELD
    assert expected in proxy.stderr_text(), "stderr should name %r%s" % (expected, proxy.ctx())
