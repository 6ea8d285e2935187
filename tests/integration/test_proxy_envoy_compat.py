"""What an Envoy user brings: a bootstrap written as Envoy's documentation writes them
(lower-case enums, empty messages, runtime layers); the runtime and its admin endpoints, read by
the fault filter, RuntimeFractionalPercent and route runtime_fraction; local_reply_config;
refusals worded one way with the full path; a static listener that cannot bind."""

import json
import pathlib
import socket
import types

import pytest

import weft_harness as wh
from both_protocols import PROTOCOLS, request

DOCS_BOOTSTRAP = pathlib.Path(__file__).parent / "data" / "envoy_docs" / "bootstrap.yaml"


@pytest.fixture(scope="module")
def docs(weft_module):
    h = weft_module
    echo = h.echo("docs-upstream")
    ports = {"ADMIN_PORT": h.port(), "HTTP_PORT": h.port(), "TCP_PORT": h.port(), "UPSTREAM_PORT": echo.port}
    text = DOCS_BOOTSTRAP.read_text()
    for k, v in ports.items():
        text = text.replace(k, str(v))
    # Started from the YAML text itself, as a user would (start_proxy takes a dict).
    proxy = wh.Proxy(h.write_config(text, "docs"), ports["ADMIN_PORT"], h.workdir, 2, (), "docs")
    h.proxies.append(proxy)
    proxy.wait_ready()
    return types.SimpleNamespace(h=h, proxy=proxy, http=ports["HTTP_PORT"], tcp=ports["TCP_PORT"], echo=echo)


def runtime(proxy):
    return json.loads(proxy.admin("/runtime").text)


def runtime_modify(proxy, query):
    r = proxy.admin_post("/runtime_modify?" + query)
    assert r.status == 200 and r.text == "OK\n", r.describe()


def test_docs_bootstrap_validates(weft):
    text = DOCS_BOOTSTRAP.read_text()
    for k in ("ADMIN_PORT", "HTTP_PORT", "TCP_PORT", "UPSTREAM_PORT"):
        text = text.replace(k, str(weft.port()))
    _, result = weft.validate(text)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_docs_bootstrap_serves_http(docs, proto):
    r = request(proto, docs.http, "/hello")
    assert r.status == 200, r.describe()
    assert json.loads(r.body)["server"] == "docs-upstream"


def test_docs_bootstrap_serves_tcp(docs):
    with socket.create_connection(("127.0.0.1", docs.tcp), timeout=5) as s:
        s.sendall(b"GET /over-tcp HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    assert data.startswith(b"HTTP/1.1 200"), data[:200]
    assert b'"/over-tcp"' in data


def test_runtime_shows_layers_and_flattened_static_keys(docs):
    rt = runtime(docs.proxy)
    assert rt["layers"] == ["static_layer_0", "admin_layer_0"], rt
    assert rt["entries"]["health_check.min_interval"] == {"final_value": "5", "layer_values": ["5", ""]}, rt
    assert rt["entries"]["fault.http.abort.abort_percent"]["final_value"] == "0", rt


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_runtime_modify_drives_the_fault_filter_and_local_reply_maps_it(docs, proto):
    # The static layer sets fault.http.abort.abort_percent to 0, over the filter's 100%: no abort.
    r = request(proto, docs.http, "/f", headers=["x-fault: 1"])
    assert r.status == 200, r.describe()
    runtime_modify(docs.proxy, "fault.http.abort.abort_percent=100")
    try:
        rt = runtime(docs.proxy)
        assert rt["entries"]["fault.http.abort.abort_percent"] == {"final_value": "100", "layer_values": ["0", "100"]}
        assert docs.proxy.stats()["runtime.admin_overrides_active"] == 1  # 0/1: the admin layer has keys
        r = request(proto, docs.http, "/f", headers=["x-fault: 1"])
        # 503 from the fault filter, mapped by local_reply_config to 504 with its body format.
        assert r.status == 504, r.describe()
        assert r.text == "upstream gone (504)\n", r.describe()
        assert r.headers["content-type"] == "text/plain", r.describe()
        assert request(proto, docs.http, "/f").status == 200  # the fault's header condition
    finally:
        runtime_modify(docs.proxy, "fault.http.abort.abort_percent=")  # empty: back to the static layer
    assert runtime(docs.proxy)["entries"]["fault.http.abort.abort_percent"]["final_value"] == "0"
    assert request(proto, docs.http, "/f", headers=["x-fault: 1"]).status == 200


def test_runtime_modify_needs_post_and_keys(docs):
    assert docs.proxy.admin("/runtime_modify?a=1").status == 405
    assert docs.proxy.admin_post("/runtime_modify").status == 400


def test_runtime_modify_without_an_admin_layer(weft):
    config = wh.bootstrap(weft.port())
    config["layered_runtime"] = {"layers": [{"name": "only", "static_layer": {"a": 1}}]}
    proxy = weft.start_proxy(config)
    r = proxy.admin_post("/runtime_modify?a=2")
    assert r.status == 503 and "No admin layer specified" in r.text, r.describe()


def test_runtime_without_layers_as_envoy(weft):
    # No layered_runtime: no layers at all; an empty one: one admin layer with an empty name.
    proxy = weft.start_proxy(wh.bootstrap(weft.port()))
    assert runtime(proxy) == {"layers": [], "entries": {}}
    assert proxy.admin_post("/runtime_modify?x.y=true").status == 503
    config = wh.bootstrap(weft.port())
    config["layered_runtime"] = {}
    proxy = weft.start_proxy(config)
    assert runtime(proxy)["layers"] == [""]
    runtime_modify(proxy, "x.y=true")
    assert runtime(proxy)["entries"]["x.y"] == {"final_value": "true", "layer_values": ["true"]}


@pytest.fixture(scope="module")
def fractions(weft_module):
    h = weft_module
    canary, stable = h.echoes("canary", "stable")
    port = h.port()
    config = wh.bootstrap(h.port(), listeners=[wh.http_listener("main", port, [wh.vhost("all", ["*"], [
        dict(wh.route_to("canary"), match={"prefix": "/", "runtime_fraction": {
            "default_value": {"numerator": 0, "denominator": "HUNDRED"}, "runtime_key": "routing.canary"}}),
        wh.route_to("stable"),
    ])])], clusters=[wh.cluster("canary", [canary.port]), wh.cluster("stable", [stable.port])])
    config["layered_runtime"] = {"layers": [{"name": "admin", "admin_layer": {}}]}
    return types.SimpleNamespace(proxy=h.start_proxy(config, name="fractions"), port=port)


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_route_runtime_fraction_follows_the_runtime(fractions, proto):
    def servers(n):
        return {json.loads(request(proto, fractions.port, "/r").body)["server"] for _ in range(n)}
    assert servers(10) == {"stable"}  # default 0%
    runtime_modify(fractions.proxy, "routing.canary=100")
    try:
        assert servers(10) == {"canary"}
    finally:
        runtime_modify(fractions.proxy, "routing.canary=")
    assert servers(5) == {"stable"}


@pytest.fixture(scope="module")
def replies(weft_module):
    h = weft_module
    echo = h.echo("replies-upstream")
    port = h.port()
    hcm_extra = {"local_reply_config": {
        "mappers": [{
            "filter": {"header_filter": {"header": {"name": "x-teapot", "present_match": True}}},
            "status_code": 418,
            "headers_to_add": [{"header": {"key": "x-mapped", "value": "teapot"}}],
            "body_format_override": {"text_format": "short and stout: %LOCAL_REPLY_BODY%",
                                     "content_type": "text/teapot"},
        }, {
            "filter": {"and_filter": {"filters": [
                {"status_code_filter": {"comparison": {"op": "GE", "value": {"default_value": 400,
                                                                              "runtime_key": "unused"}}}},
                {"response_flag_filter": {"flags": ["NR"]}}]}},
            "body": {"inline_string": "no route here"},
        }],
        "body_format": {"json_format": {"status": "%RESPONSE_CODE%", "message": "%LOCAL_REPLY_BODY%",
                                        "flags": "%RESPONSE_FLAGS%", "path": "%REQ(:PATH)%"}},
    }}
    config = wh.bootstrap(h.port(), listeners=[wh.http_listener("main", port, [wh.vhost("known", ["known.test"], [
        wh.route_to("up", prefix="/status"), wh.direct(403, "forbidden", prefix="/deny")])], hcm_extra=hcm_extra)],
        clusters=[wh.cluster("up", [echo.port])])
    return types.SimpleNamespace(proxy=h.start_proxy(config, name="replies"), port=port)


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_local_reply_json_body_format(replies, proto):
    r = request(proto, replies.port, "/nowhere", host="unknown.test")
    assert r.status == 404, r.describe()
    assert r.headers["content-type"] == "application/json", r.describe()
    assert json.loads(r.body) == {"status": 404, "message": "no route here", "flags": "NR", "path": "/nowhere"}
    assert r.text.endswith("}\n"), r.describe()


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_local_reply_mapper_rewrites_status_headers_and_body(replies, proto):
    r = request(proto, replies.port, "/deny", host="known.test", headers=["x-teapot: 1"])
    assert r.status == 418, r.describe()
    assert r.headers["x-mapped"] == "teapot", r.describe()
    assert r.headers["content-type"] == "text/teapot", r.describe()
    assert r.text == "short and stout: forbidden", r.describe()
    # Without the header: the direct response keeps its status; only the body format applies.
    r = request(proto, replies.port, "/deny", host="known.test")
    assert r.status == 403 and json.loads(r.body)["message"] == "forbidden", r.describe()


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_local_reply_config_leaves_upstream_responses_alone(replies, proto):
    r = request(proto, replies.port, "/status/404", host="known.test", headers=["x-teapot: 1"])
    assert r.status == 404, r.describe()
    assert "x-mapped" not in r.headers
    assert r.headers["x-echo-server"] == "replies-upstream"


# ---- what is refused, and how it is named ----------------------------------------------------

def rejected(weft, config):
    _, result = weft.validate(config)
    assert result.returncode != 0, result.stdout
    return result.stderr


def hcm_with_filter(weft, http_filter):
    config = wh.bootstrap(weft.port(), listeners=[wh.http_listener("l", weft.port(), [wh.vhost("a", ["*"], [
        wh.direct(200, "ok")])])])
    hcm = config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
    hcm["http_filters"].insert(0, http_filter)
    return config


def test_unknown_and_unsupported_types_are_named_alike(weft):
    path = "static_resources.listeners[0].filter_chains[0].filters[0].typed_config.http_filters[0].typed_config"
    unknown = rejected(weft, hcm_with_filter(weft, {"name": "weft.test.nothing", "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.weft_nothing.v3.Nothing"}}))
    assert ("%s: type 'envoy.extensions.filters.http.weft_nothing.v3.Nothing' (name 'weft.test.nothing') is not "
            "supported by weft-proxy" % path) in unknown, unknown
    assert "Invalid type URL" not in unknown
    known = rejected(weft, hcm_with_filter(weft, {"name": "envoy.filters.http.lua", "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua"}}))
    assert ("%s: type 'envoy.extensions.filters.http.lua.v3.Lua' (name 'envoy.filters.http.lua') is not "
            "supported by weft-proxy" % path) in known, known


def test_lower_case_enums_are_accepted(weft):
    config = wh.bootstrap(weft.port(), clusters=[
        wh.cluster("c", [("localhost", 80)], type="strict_dns", lb_policy="round_robin", dns_lookup_family="v4_only")])
    _, result = weft.validate(config)
    assert result.returncode == 0, result.stderr
    config["static_resources"]["clusters"][0]["lb_policy"] = "no_such_policy"
    assert "no_such_policy" in rejected(weft, config)


def test_empty_messages_and_inert_fields_are_accepted(weft):
    config = wh.bootstrap(weft.port(), clusters=[
        wh.cluster("c", [80], ring_hash_lb_config={"minimum_ring_size": 64}, common_lb_config={},
                   dns_refresh_rate="3s")])
    config["cluster_manager"] = {}
    _, result = weft.validate(config)
    assert result.returncode == 0, result.stderr


def test_fields_that_would_change_something_are_still_refused(weft):
    config = wh.bootstrap(weft.port(), clusters=[wh.cluster("c", [80], lb_policy="ROUND_ROBIN",
                                                            round_robin_lb_config={"slow_start_config": {}})])
    # With lb_policy ROUND_ROBIN its settings matter, and weft-proxy has no slow start.
    assert ("static_resources.clusters[0].round_robin_lb_config: not supported by weft-proxy"
            in rejected(weft, config))
    config = wh.bootstrap(weft.port())
    config["cluster_manager"] = {"local_cluster_name": "x"}
    assert "cluster_manager.local_cluster_name: not supported by weft-proxy" in rejected(weft, config)
    config = wh.bootstrap(weft.port(), clusters=[wh.cluster("c", [80], common_lb_config={
        "zone_aware_lb_config": {"min_cluster_size": 3}})])
    assert ("static_resources.clusters[0].common_lb_config.zone_aware_lb_config: not supported by weft-proxy"
            in rejected(weft, config))


def test_runtime_layers_refused_or_invalid_are_named(weft):
    config = wh.bootstrap(weft.port())
    config["layered_runtime"] = {"layers": [{"name": "disk", "disk_layer": {"symlink_root": "/srv/runtime"}}]}
    assert "layered_runtime.layers[0].disk_layer: not supported by weft-proxy" in rejected(weft, config)
    config["layered_runtime"] = {"layers": [{"name": "s", "static_layer": {"a": {"b": [1, 2]}}}]}
    assert "layered_runtime.layers[0].static_layer.a.b: invalid runtime entry value" in rejected(weft, config)
    config["layered_runtime"] = {"layers": [{"name": "x", "admin_layer": {}}, {"name": "y", "admin_layer": {}}]}
    assert ("layered_runtime.layers[1].admin_layer: too many admin layers specified in LayeredRuntime, at most one "
            "may be specified") in rejected(weft, config)


def test_static_listener_that_cannot_bind_stops_startup_naming_the_address(weft):
    busy = socket.socket()
    busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 0)
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    port = busy.getsockname()[1]
    try:
        config = wh.bootstrap(weft.port(), listeners=[wh.http_listener("busy", port, [wh.vhost("a", ["*"], [
            wh.direct(200, "ok")])])])
        _, result = weft.validate(config)
        assert result.returncode == 0, "binding is not part of validation: " + result.stderr
        proxy = weft.start_proxy(config, wait_ready=False)
        assert proxy.wait_exit(10) not in (None, 0), proxy.ctx()
        err = proxy.stderr_text()
        assert ("weft-proxy: cannot start: listener 'busy': cannot listen on 127.0.0.1:%d: Address already in use"
                % port) in err, err
        assert "invalid configuration" not in err
    finally:
        busy.close()
