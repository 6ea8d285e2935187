"""Priorities and locality-weighted load balancing, as Envoy's: a priority whose hosts fail
hands its load to the next one (overprovisioning factor 1.4) and takes it back when they
recover; locality_weighted_lb_config splits a priority's load by locality weight; a retry with
the previous_priorities retry priority leaves the priority it tried; /clusters and
/config_dump show priority and locality. Each on HTTP/1.1 and HTTP/2."""

import json
import types

import pytest

import weft_harness as wh
from both_protocols import PROTOCOLS, request
from failing_server import FailingServer


def group(ports, priority=0, region="", zone="", weight=None):
    g = {"priority": priority, "locality": {"region": region, "zone": zone},
         "lb_endpoints": [wh.endpoint(wh.LOOPBACK, p) for p in ports]}
    if weight is not None:
        g["load_balancing_weight"] = weight
    return g


def prioritized(name, groups, **extra):
    c = wh.cluster(name, [], **extra)
    c["load_assignment"]["endpoints"] = groups
    return c


@pytest.fixture(scope="module")
def env(weft_module):
    h = weft_module
    near, far, a, b = h.echoes("near", "far", "zone-a", "zone-b")
    clusters, routes = [], []
    bad = {}
    for proto in PROTOCOLS:
        bad[proto] = types.SimpleNamespace(failover=FailingServer(503), retry=FailingServer(503),
                                           noretry=FailingServer(503))
        b_ = bad[proto]
        od = {"consecutive_5xx": 1, "interval": "0.2s", "base_ejection_time": "5s", "max_ejection_percent": 100}
        clusters += [
            prioritized("failover_" + proto, [group([b_.failover.port], 0, "us", "a"), group([far.port], 1, "eu", "b")],
                        outlier_detection=od),
            prioritized("retry_" + proto, [group([b_.retry.port], 0), group([far.port], 1)]),
            prioritized("noretry_" + proto, [group([b_.noretry.port], 0), group([far.port], 1)]),
        ]
        retry = {"retry_on": "5xx", "num_retries": 1}
        previous = dict(retry, retry_priority={
            "name": "envoy.retry_priorities.previous_priorities",
            "typed_config": {"@type": "type.googleapis.com/envoy.extensions.retry.priority.previous_priorities.v3."
                                      "PreviousPrioritiesConfig", "update_frequency": 1}})
        routes += [wh.route_to("failover_" + proto, prefix="/%s/failover" % proto),
                   wh.route_to("retry_" + proto, prefix="/%s/retry" % proto, retry_policy=previous),
                   wh.route_to("noretry_" + proto, prefix="/%s/noretry" % proto, retry_policy=retry)]
    clusters += [
        prioritized("weighted", [group([a.port], 0, "us", "a", weight=3), group([b.port], 0, "us", "b", weight=1),
                                 group([far.port], 1, "eu", "b", weight=1)],
                    common_lb_config={"locality_weighted_lb_config": {}}),
        prioritized("unweighted", [group([a.port], 0, "us", "a", weight=3), group([b.port], 0, "us", "b", weight=1)]),
        prioritized("healthy", [group([near.port], 0), group([far.port], 1)]),
    ]
    routes += [wh.route_to(c, prefix="/" + c) for c in ("weighted", "unweighted", "healthy")]
    port, admin = h.port(), h.port()
    config = wh.bootstrap(admin, listeners=[wh.http_listener("main", port, [wh.vhost("all", ["*"], routes)])],
                          clusters=clusters)
    proxy = h.start_proxy(config)
    return types.SimpleNamespace(proxy=proxy, port=port, bad=bad)


def servers(env, proto, path, n):
    out = {}
    for _ in range(n):
        r = request(proto, env.port, path)
        # Echo servers name themselves; a FailingServer answers "failed" with its status.
        key = json.loads(r.body)["server"] if r.body.startswith(b"{") else r.status
        out[key] = out.get(key, 0) + 1
    return out


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_a_healthy_first_priority_takes_all_the_load(env, proto):
    assert servers(env, proto, "/healthy", 20) == {"near": 20}


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_an_ejected_priority_fails_over_and_comes_back(env, proto):
    bad, c = env.bad[proto].failover, "failover_" + proto
    # The only P0 host answers 503 once, is ejected, and P1 takes everything.
    r = request(proto, env.port, "/%s/failover" % proto)
    assert r.status == 503, r.describe()
    assert env.proxy.wait_stat("cluster.%s.outlier_detection.ejections_active" % c, 1) == 1
    assert servers(env, proto, "/%s/failover" % proto, 10) == {"far": 10}
    assert bad.count == 1
    # Recovered: after the ejection time, P0 has the load again.
    bad.status = 200
    assert env.proxy.wait_stat("cluster.%s.outlier_detection.ejections_active" % c, 0, timeout=10.0) == 0
    before = bad.count
    assert servers(env, proto, "/%s/failover" % proto, 10) == {200: 10}  # FailingServer's body is not JSON
    assert bad.count == before + 10
    text = env.proxy.admin("/clusters").text
    assert "%s::127.0.0.1:%d::priority::0\n" % (c, bad.port) in text
    assert "%s::127.0.0.1:%d::region::us\n" % (c, bad.port) in text
    assert any(line.startswith(c + "::") and line.endswith("::priority::1") for line in text.splitlines()), text


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_previous_priorities_sends_the_retry_to_the_next_priority(env, proto):
    # Without the retry priority the retry goes back to P0's only host and fails again.
    assert servers(env, proto, "/%s/noretry" % proto, 5) == {503: 5}
    assert env.bad[proto].noretry.count == 10
    # With it, the retry leaves P0 and P1 answers.
    assert servers(env, proto, "/%s/retry" % proto, 5) == {"far": 5}
    assert env.bad[proto].retry.count == 5


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_locality_weights_split_a_priority(env, proto):
    got = servers(env, proto, "/weighted", 80)
    # 3:1 by locality weight within P0; P1 (eu) gets nothing while P0 is healthy. Each of the
    # two workers keeps its own weighted round robin, so the split is exact per worker.
    assert set(got) == {"zone-a", "zone-b"}, got
    assert 54 <= got["zone-a"] <= 66, got
    # Without locality_weighted_lb_config the locality weights do not count: an even split.
    got = servers(env, proto, "/unweighted", 80)
    assert 30 <= got.get("zone-a", 0) <= 50, got


def test_config_dump_shows_priorities_localities_and_weights(env):
    dump = env.proxy.admin("/config_dump?include_eds").json()
    eds = [c for c in dump["configs"] if c["@type"].endswith("EndpointsConfigDump")][0]
    cla = [e["endpoint_config"] for e in eds["static_endpoint_configs"]
           if e["endpoint_config"]["cluster_name"] == "weighted"][0]
    got = [(g.get("priority", 0), g["locality"].get("zone"), g.get("load_balancing_weight")) for g in cla["endpoints"]]
    assert got == [(0, "a", 3), (0, "b", 1), (1, "b", 1)], cla
