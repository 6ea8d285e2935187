"""Load balancing across endpoints: ROUND_ROBIN, weighted endpoints, RANDOM, LEAST_REQUEST,
and a STRICT_DNS cluster resolving `localhost`."""

import collections
import types

import pytest

import weft_harness as wh
from weft_harness import expect_status


@pytest.fixture(scope="module")
def env(weft_module):
    h = weft_module
    e1, e2, e3 = h.echoes("e1", "e2", "e3")
    port, admin = h.port(), h.port()
    routes = [
        wh.route_to("rr", prefix="/rr"),
        wh.route_to("weighted", prefix="/weighted"),
        wh.route_to("random", prefix="/random"),
        wh.route_to("least", prefix="/least"),
        wh.route_to("dns", prefix="/dns"),
    ]
    hosts = [e1.port, e2.port, e3.port]
    config = wh.bootstrap(admin, listeners=[
        wh.http_listener("main", port, [wh.vhost("all", ["*"], routes)])],
        clusters=[
            wh.cluster("rr", hosts, lb_policy="ROUND_ROBIN"),
            wh.cluster("weighted", [("127.0.0.1", e1.port, 1), ("127.0.0.1", e2.port, 3)],
                       lb_policy="ROUND_ROBIN"),
            wh.cluster("random", hosts, lb_policy="RANDOM"),
            wh.cluster("least", hosts, lb_policy="LEAST_REQUEST"),
            wh.cluster("dns", [("localhost", e3.port)], type="STRICT_DNS",
                       dns_lookup_family="V4_ONLY"),
        ])
    proxy = h.start_proxy(config)
    return types.SimpleNamespace(harness=h, proxy=proxy, port=port)


def spread(env, path, total, connections=3):
    counts = collections.Counter()
    per = total // connections
    for _ in range(connections):
        with wh.HttpSession(env.port) as s:
            for _ in range(per):
                r = s.request(path)
                expect_status(r, 200, "GET %s" % path, env.proxy)
                counts[r.json()["server"]] += 1
    return counts


def test_round_robin_is_even(env):
    counts = spread(env, "/rr", 90)
    assert set(counts) == {"e1", "e2", "e3"} and all(26 <= n <= 34 for n in counts.values()), (
        "ROUND_ROBIN over 3 endpoints, 90 requests: expected 30 +- 4 each, got %r" % dict(counts))


def test_weighted_endpoints_1_to_3(env):
    counts = spread(env, "/weighted", 400, connections=4)
    share = counts["e2"] / 400.0
    assert set(counts) <= {"e1", "e2"} and abs(share - 0.75) <= 0.05, (
        "endpoint weights e1=1 e2=3 over 400 requests: expected e2 share 0.75 +- 0.05, got %r"
        % dict(counts))


@pytest.mark.parametrize("policy_path", ["/random", "/least"])
def test_random_and_least_request_use_all_hosts(env, policy_path):
    counts = spread(env, policy_path, 150)
    assert set(counts) == {"e1", "e2", "e3"} and min(counts.values()) >= 20, (
        "%s over 3 endpoints, 150 requests: expected every host used (>= 20 each), got %r"
        % (policy_path, dict(counts)))


def test_strict_dns_localhost(env):
    r = wh.http_request(env.port, "/dns/x")
    expect_status(r, 200, "STRICT_DNS cluster with endpoint localhost (V4_ONLY)", env.proxy)
    assert r.json()["server"] == "e3", r.describe()
