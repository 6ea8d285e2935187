"""request_mirror_policies, as Envoy's: each request (and its body) is copied to the mirror
cluster with its host suffixed "-shadow", fire and forget: a mirror that hangs or refuses
connections changes nothing for the client. runtime_fraction samples. HTTP/1.1 and HTTP/2."""

import json
import time
import types

import pytest

import weft_harness as wh
from both_protocols import PROTOCOLS, request
from failing_server import FailingServer


def mirrored(prefix, mirrors):
    r = wh.route_to("main", prefix=prefix)
    r["route"]["request_mirror_policies"] = mirrors
    return r


@pytest.fixture(scope="module")
def env(weft_module):
    h = weft_module
    main = h.echo("main")
    seen = FailingServer(200)  # records what the mirror receives
    hang = h.blackhole()
    refused_port = wh.free_port()  # nothing listens there: connections are refused
    routes = [
        mirrored("/copy", [{"cluster": "seen"}]),
        mirrored("/keep-host", [{"cluster": "seen", "disable_shadow_host_suffix_append": True}]),
        mirrored("/never", [{"cluster": "seen", "runtime_fraction": {"default_value": {"numerator": 0}}}]),
        mirrored("/hang", [{"cluster": "hang"}]),
        mirrored("/refused", [{"cluster": "refused"}, {"cluster": "seen"}]),
    ]
    port, admin = h.port(), h.port()
    config = wh.bootstrap(admin, listeners=[wh.http_listener("main", port, [wh.vhost("all", ["*"], routes)])],
                          clusters=[wh.cluster("main", [main.port]), wh.cluster("seen", [seen.port]),
                                    wh.cluster("hang", [hang.port]), wh.cluster("refused", [refused_port])])
    proxy = h.start_proxy(config)
    return types.SimpleNamespace(proxy=proxy, port=port, seen=seen)


def wait_seen(env, count):
    assert wh.wait_for(lambda: env.seen.count >= count, 5), env.seen.count


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_the_request_and_its_body_are_mirrored_with_a_shadow_host(env, proto):
    before = env.seen.count
    body = b"m" * 70000
    r = request(proto, env.port, "/copy", method="POST", body=body, host="shop.test:8080")
    assert r.status == 200 and json.loads(r.body)["server"] == "main", r.describe()
    wait_seen(env, before + 1)
    assert env.seen.bodies[-1] == body
    assert env.seen.headers[-1]["host"] == "shop.test-shadow:8080"
    # The client got the main cluster's answer, never the mirror's.
    assert "failed" not in r.text


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_disable_shadow_host_suffix_append_keeps_the_host(env, proto):
    before = env.seen.count
    assert request(proto, env.port, "/keep-host", host="shop.test").status == 200
    wait_seen(env, before + 1)
    assert env.seen.headers[-1]["host"] == "shop.test"


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_a_zero_runtime_fraction_mirrors_nothing(env, proto):
    before = env.seen.count
    for _ in range(5):
        assert request(proto, env.port, "/never").status == 200
    time.sleep(0.3)
    assert env.seen.count == before


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_a_hanging_or_refusing_mirror_changes_nothing_for_the_client(env, proto):
    start = time.monotonic()
    for _ in range(5):
        r = request(proto, env.port, "/hang")
        assert r.status == 200 and json.loads(r.body)["server"] == "main", r.describe()
    assert time.monotonic() - start < 5
    before = env.seen.count
    r = request(proto, env.port, "/refused", method="POST", body=b"x" * 1000)
    assert r.status == 200 and json.loads(r.body)["server"] == "main", r.describe()
    wait_seen(env, before + 1)  # the second mirror of the route still gets its copy
    assert env.proxy.stats().get("cluster.refused.upstream_cx_connect_fail", 0) >= 1
