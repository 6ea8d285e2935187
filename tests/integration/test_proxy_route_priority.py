"""A route's priority HIGH, as Envoy's: its requests count against the cluster's HIGH
circuit breakers (and use their own connection pools), so a DEFAULT-priority overload does not
block them; gauges circuit_breakers.high.*. Each on HTTP/1.1 and HTTP/2."""

import concurrent.futures
import types

import pytest

import weft_harness as wh
from both_protocols import PROTOCOLS, request
from failing_server import FailingServer


@pytest.fixture(scope="module")
def env(weft_module):
    h = weft_module
    slow = FailingServer(200, mode="slow", delay=0.8)
    high_route = wh.route_to("prio", prefix="/high")
    high_route["route"]["priority"] = "HIGH"
    port = h.port()
    config = wh.bootstrap(h.port(), listeners=[wh.http_listener("main", port, [wh.vhost("all", ["*"], [
        high_route, wh.route_to("prio", prefix="/default")])])], clusters=[
        wh.cluster("prio", [slow.port], circuit_breakers={"thresholds": [
            {"priority": "DEFAULT", "max_requests": 1, "max_pending_requests": 0, "track_remaining": True},
            {"priority": "HIGH", "max_requests": 10, "max_pending_requests": 10}]})])
    proxy = h.start_proxy(config)
    yield types.SimpleNamespace(proxy=proxy, port=port, slow=slow)
    slow.shutdown()


def burst(env, proto, path, n=3):
    with concurrent.futures.ThreadPoolExecutor(n) as pool:
        return sorted(pool.map(lambda _: request(proto, env.port, path).status, range(n)))


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_high_priority_requests_use_the_high_thresholds(env, proto):
    # DEFAULT allows one request in flight: the other two overflow (503 UO).
    assert burst(env, proto, "/default") == [200, 503, 503]
    # HIGH allows ten: all three go through, whatever DEFAULT's state.
    assert burst(env, proto, "/high") == [200, 200, 200]
    stats = env.proxy.stats()
    assert "cluster.prio.circuit_breakers.high.rq_open" in stats
    assert stats["cluster.prio.circuit_breakers.default.remaining_rq"] == 1
    text = env.proxy.admin("/clusters").text
    assert "prio::high_priority::max_requests::10\n" in text
    assert "prio::default_priority::max_requests::1\n" in text
