"""Outlier detection and the healthy panic threshold, as Envoy's: consecutive 5xx and local-origin
ejections, max_ejection_percent, ejection time growing with each ejection, failure percentage,
panic mode, and what /clusters, /stats and /stats/prometheus show. Each on HTTP/1.1 and HTTP/2."""

import json
import time
import types

import pytest

import weft_harness as wh
from both_protocols import PROTOCOLS, request
from failing_server import FailingServer


def outlier(**fields):
    return dict({"interval": "0.2s", "max_ejection_percent": 100}, **fields)



@pytest.fixture(scope="module")
def env(weft_module):
    h = weft_module
    good = h.echo("good")
    bad = {}
    clusters, routes = [], []
    for proto in PROTOCOLS:
        b = bad[proto] = types.SimpleNamespace(
            c5xx=FailingServer(503), default=FailingServer(503), panic1=FailingServer(503),
            panic2=FailingServer(503), nopanic1=FailingServer(503), nopanic2=FailingServer(503),
            failpct=FailingServer(500), closed=wh.free_port())
        specs = {
            "c5xx": ([b.c5xx.port, good.port], outlier(consecutive_5xx=3, base_ejection_time="6s"), None),
            # Envoy's default max_ejection_percent (10%): one host of two is too many.
            "default": ([b.default.port, good.port], {"consecutive_5xx": 2}, None),
            "panic": ([b.panic1.port, b.panic2.port, good.port], outlier(consecutive_5xx=1, base_ejection_time="60s"),
                      None),
            "nopanic": ([b.nopanic1.port, b.nopanic2.port, good.port],
                        outlier(consecutive_5xx=1, base_ejection_time="60s"), {"healthy_panic_threshold": {"value": 0}}),
            "local": ([b.closed, good.port],
                      outlier(split_external_local_origin_errors=True, consecutive_local_origin_failure=2,
                              base_ejection_time="60s"), None),
            "failpct": ([b.failpct.port, good.port],
                        outlier(interval="2s", consecutive_5xx=1000, failure_percentage_minimum_hosts=2,
                                failure_percentage_request_volume=5, enforcing_failure_percentage=100,
                                base_ejection_time="60s"), None),
        }
        for kind, (ports, od, lb) in specs.items():
            name = "%s_%s" % (kind, proto)
            extra = {"outlier_detection": od}
            if lb:
                extra["common_lb_config"] = lb
            clusters.append(wh.cluster(name, ports, **extra))
            routes.append(wh.route_to(name, prefix="/%s/%s" % (proto, kind)))
    port, admin = h.port(), h.port()
    config = wh.bootstrap(admin, listeners=[wh.http_listener("main", port, [wh.vhost("all", ["*"], routes)])],
                          clusters=clusters)
    proxy = h.start_proxy(config)
    return types.SimpleNamespace(proxy=proxy, port=port, good=good, bad=bad)


def stat(env, name):
    return env.proxy.stats().get(name, 0)


def statuses(env, proto, kind, n):
    out = []
    for _ in range(n):
        r = request(proto, env.port, "/%s/%s" % (proto, kind))
        out.append(r.status)
    return out


def until_ejected(env, proto, kind, ejections, limit=20):
    """Requests until `ejections` hosts are ejected; returns the statuses seen. Two workers each
    keep their own round robin, so which request meets which host is not fixed."""
    codes = []
    name = "cluster.%s_%s.outlier_detection.ejections_active" % (kind, proto)
    while len(codes) < limit and stat(env, name) < ejections:
        codes += statuses(env, proto, kind, 1)
    assert stat(env, name) == ejections, codes
    return codes


def health_flags(env, cluster, port):
    text = env.proxy.admin("/clusters").text
    key = "%s::127.0.0.1:%d::health_flags::" % (cluster, port)
    for line in text.splitlines():
        if line.startswith(key):
            return line[len(key):]
    raise AssertionError("no %s in /clusters:\n%s" % (key, text))


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_consecutive_5xx_ejects_the_host_until_its_ejection_time_passes(env, proto):
    bad, c = env.bad[proto].c5xx, "c5xx_" + proto
    codes = until_ejected(env, proto, "c5xx", 1)
    # The bad host answered three 503s, was ejected, and the good one takes every request now.
    assert codes.count(503) == 3, codes
    assert bad.count == 3
    assert statuses(env, proto, "c5xx", 10) == [200] * 10
    p = "cluster.%s.outlier_detection." % c
    assert stat(env, p + "ejections_active") == 1
    assert stat(env, p + "ejections_enforced_consecutive_5xx") == 1
    assert stat(env, p + "ejections_detected_consecutive_5xx") == 1
    assert stat(env, p + "ejections_enforced_total") == 1
    assert stat(env, "cluster.%s.membership_healthy" % c) == 1
    assert stat(env, "cluster.%s.membership_total" % c) == 2
    assert health_flags(env, c, bad.port) == "/failed_outlier_check"
    assert health_flags(env, c, env.good.port) == "healthy"
    hosts = json.loads(env.proxy.admin("/clusters?format=json").text)
    status = [cs for cs in hosts["cluster_statuses"] if cs["name"] == c][0]
    ejected = [hs for hs in status["host_statuses"] if hs["address"]["socket_address"]["port_value"] == bad.port]
    assert ejected[0]["health_status"]["failed_outlier_check"] is True
    prom = env.proxy.admin("/stats/prometheus").text
    assert 'envoy_cluster_outlier_detection_ejections_active{envoy_cluster_name="%s"} 1\n' % c in prom
    # base_ejection_time (6 s: room for the checks above on a loaded machine) later, on an
    # interval, the host is back and gets requests again.
    bad.status = 200
    assert env.proxy.wait_stat(p + "ejections_active", 0, timeout=12.0) == 0
    assert health_flags(env, c, bad.port) == "healthy"
    before = bad.count
    assert statuses(env, proto, "c5xx", 8) == [200] * 8
    assert bad.count > before


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_max_ejection_percent_keeps_the_host(env, proto):
    codes = statuses(env, proto, "default", 12)
    assert codes.count(503) >= 3, codes  # nothing ejected: the bad host still answers
    p = "cluster.default_%s.outlier_detection." % proto
    assert stat(env, p + "ejections_overflow") >= 1
    assert stat(env, p + "ejections_active") == 0


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_below_the_panic_threshold_every_host_is_used(env, proto):
    until_ejected(env, proto, "panic", 2)
    # One healthy host in three (33%) is below Envoy's 50%: panic, all three again.
    codes = statuses(env, proto, "panic", 12)
    assert codes.count(503) >= 4, codes
    assert stat(env, "cluster.panic_%s.lb_healthy_panic" % proto) >= 12


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_a_zero_panic_threshold_keeps_to_the_healthy_host(env, proto):
    until_ejected(env, proto, "nopanic", 2)
    assert statuses(env, proto, "nopanic", 9) == [200] * 9
    assert stat(env, "cluster.nopanic_%s.lb_healthy_panic" % proto) == 0


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_split_local_origin_failures_eject_a_host_that_refuses_connections(env, proto):
    codes = until_ejected(env, proto, "local", 1)
    assert codes.count(503) == 2, codes
    assert statuses(env, proto, "local", 8) == [200] * 8
    p = "cluster.local_%s.outlier_detection." % proto
    assert stat(env, p + "ejections_enforced_consecutive_local_origin_failure") == 1
    assert stat(env, p + "ejections_enforced_consecutive_5xx") == 0


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_failure_percentage_ejects_on_the_interval(env, proto):
    p = "cluster.failpct_%s.outlier_detection." % proto
    deadline = time.time() + 20
    while time.time() < deadline and stat(env, p + "ejections_enforced_failure_percentage") == 0:
        statuses(env, proto, "failpct", 4)
    assert stat(env, p + "ejections_enforced_failure_percentage") == 1
    assert statuses(env, proto, "failpct", 6) == [200] * 6
    # /clusters shows the last interval's success rate of the host still in.
    text = env.proxy.admin("/clusters").text
    assert "failpct_%s::127.0.0.1:%d::success_rate::" % (proto, env.good.port) in text


def test_bad_outlier_detection_is_refused_with_its_path(weft):
    config = wh.bootstrap(weft.port(), clusters=[wh.cluster("c", [80], outlier_detection={
        "base_ejection_time": "60s", "max_ejection_time": "10s"})])
    _, result = weft.validate(config)
    assert result.returncode != 0
    assert ("static_resources.clusters[0].outlier_detection: outlier detector's max_ejection_time cannot be "
            "smaller than base_ejection_time") in result.stderr, result.stderr[-2000:]
    config["static_resources"]["clusters"][0]["outlier_detection"] = {"enforcing_consecutive_5xx": 101}
    _, result = weft.validate(config)
    assert result.returncode != 0
    assert "static_resources.clusters[0].outlier_detection.enforcing_consecutive_5xx: must be 0-100" in result.stderr
