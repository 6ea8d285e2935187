"""Active health checks as Envoy's: HTTP (a GET of the path, the status among
expected_statuses), TCP (connect, send a payload, expect one back) and gRPC (grpc.health.v1
Check against a real grpc++ server, SERVING or not); unhealthy_threshold
failures take a host out of load balancing, healthy_threshold successes bring it back; a new host
is pending until its first check; /clusters and the health_check.* stats show it."""

import json
import time
import types

import pytest

import weft_harness as wh
from both_protocols import PROTOCOLS, request
from failing_server import FailingServer
from test_proxy_grpc import GrpcEchoServer


def checked(name, ports, check):
    hc = dict({"timeout": "1s", "interval": "0.2s", "no_traffic_interval": "0.2s", "unhealthy_threshold": 2,
               "healthy_threshold": 2}, **check)
    return wh.cluster(name, ports, health_checks=[hc])



@pytest.fixture(scope="module")
def env(weft_module):
    h = weft_module
    good = h.echo("good")
    sick = FailingServer(503)
    turning = FailingServer(200)  # healthy, then answers 503
    flapping = FailingServer(200, cycle=[200, 503])  # a health endpoint that flaps on every check
    tcp = h.tcp_server("echo")
    refused = wh.free_port()
    health_file = h.path("grpc-health")
    health_file.write_text("SERVING\n")
    grpc = GrpcEchoServer("health", h.workdir, extra_args=["--health-file", str(health_file)])
    port = h.port()
    config = wh.bootstrap(h.port(), listeners=[wh.http_listener("main", port, [wh.vhost("all", ["*"], [
        wh.route_to("web")])])], clusters=[
        checked("web", [sick.port, good.port], {"http_health_check": {"path": "/healthz", "host": "web.internal"}}),
        checked("strict", [turning.port], {"interval": "1s", "no_traffic_interval": "1s", "unhealthy_threshold": 3,
                                            "http_health_check": {"path": "/healthz"}}),
        checked("tcp", [tcp.port, refused], {"tcp_health_check": {"send": {"text": "70696e67"},
                                                                  "receive": [{"text": "70696e67"}]}}),
        checked("flapping", [flapping.port, good.port], {"http_health_check": {"path": "/healthz"}}),
        checked("grpc", [grpc.port, refused], {"unhealthy_threshold": 1, "healthy_threshold": 1,
                                               "grpc_health_check": {"authority": "health.test"}}),
        checked("grpc_svc", [grpc.port], {"unhealthy_threshold": 1, "healthy_threshold": 1,
                                          "grpc_health_check": {"service_name": "no.such.Service"}}),
    ])
    proxy = h.start_proxy(config)
    yield types.SimpleNamespace(proxy=proxy, port=port, sick=sick, good=good, tcp=tcp, refused=refused,
                                turning=turning, grpc=grpc, health_file=health_file, flapping=flapping)
    grpc.stop()


def flags(env, cluster, port):
    key = "%s::127.0.0.1:%d::health_flags::" % (cluster, port)
    for line in env.proxy.admin("/clusters").text.splitlines():
        if line.startswith(key):
            return line[len(key):]
    return None


def test_a_failing_http_check_takes_the_host_out_until_it_recovers(env):
    assert wh.wait_for(lambda: flags(env, "web", env.sick.port) == "/failed_active_hc", 5), \
        env.proxy.admin("/clusters").text
    assert wh.wait_for(lambda: flags(env, "web", env.good.port) == "healthy", 5)
    # The check itself, as Envoy sends it.
    assert env.sick.headers[-1]["host"] == "web.internal"
    assert env.sick.headers[-1]["user-agent"] == "Envoy/HC"
    s = env.proxy.stats()
    assert s["cluster.web.health_check.attempt"] >= 2 and s["cluster.web.health_check.failure"] >= 1, s
    assert s["cluster.web.health_check.healthy"] == 1, s
    for proto in PROTOCOLS:
        for _ in range(6):
            r = request(proto, env.port, "/")
            assert r.status == 200 and json.loads(r.body)["server"] == "good", r.describe()
    # Healthy again after healthy_threshold passes in a row: it takes requests once more.
    env.sick.status = 200
    assert wh.wait_for(lambda: flags(env, "web", env.sick.port) == "healthy", 5)
    before = env.sick.count
    for _ in range(8):
        assert request("http1", env.port, "/").status == 200
    assert env.sick.count - before >= 2  # its checks, and its share of the requests


def test_a_wrong_status_fails_the_host_at_once(env):
    # As Envoy: unhealthy_threshold (3 here, checks 1 s apart) counts network failures only; an
    # answer outside expected_statuses fails the host on the first check that gets it.
    assert wh.wait_for(lambda: flags(env, "strict", env.turning.port) == "healthy", 5)
    before = env.proxy.stats().get("cluster.strict.health_check.failure", 0)
    env.turning.status = 503
    assert wh.wait_for(lambda: flags(env, "strict", env.turning.port) == "/failed_active_hc", 5)
    # One failed check did it, not three (counted, so that a slow machine cannot blur it; a second
    # may have run by the time the stats are read, a third would mean the threshold counted).
    assert env.proxy.stats()["cluster.strict.health_check.failure"] - before in (1, 2), env.proxy.stats()


def test_tcp_checks_send_and_expect_a_payload(env):
    assert wh.wait_for(lambda: flags(env, "tcp", env.refused) == "/failed_active_hc", 5), \
        env.proxy.admin("/clusters").text
    assert flags(env, "tcp", env.tcp.port) == "healthy"
    assert env.proxy.stats()["cluster.tcp.health_check.network_failure"] >= 1


def test_grpc_checks_follow_the_serving_status(env):
    assert wh.wait_for(lambda: flags(env, "grpc", env.grpc.port) == "healthy", 5), env.proxy.admin("/clusters").text
    assert wh.wait_for(lambda: flags(env, "grpc", env.refused) == "/failed_active_hc", 5)
    # NOT_SERVING takes the host out at the next check; SERVING brings it back.
    env.health_file.write_text("NOT_SERVING\n")
    assert wh.wait_for(lambda: flags(env, "grpc", env.grpc.port) == "/failed_active_hc", 5)
    assert env.proxy.stats()["cluster.grpc.health_check.failure"] >= 1
    env.health_file.write_text("SERVING\n")
    assert wh.wait_for(lambda: flags(env, "grpc", env.grpc.port) == "healthy", 5)
    assert env.proxy.stats()["cluster.grpc.health_check.network_failure"] >= 1  # the refused host


def test_grpc_check_of_an_unknown_service_fails(env):
    # grpc++'s health service answers NOT_FOUND for a service it does not know.
    time.sleep(0.5)
    assert flags(env, "grpc_svc", env.grpc.port) == "/failed_active_hc", env.proxy.admin("/clusters").text
    assert env.proxy.stats()["cluster.grpc_svc.health_check.success"] == 0


def test_a_flapping_health_endpoint_keeps_the_host_out(env):
    # 503 fails the host at once; one 200 is not healthy_threshold (2) successes in a row.
    assert wh.wait_for(lambda: env.flapping.count >= 8, 5)
    assert flags(env, "flapping", env.flapping.port) == "/failed_active_hc", env.proxy.admin("/clusters").text
    assert flags(env, "flapping", env.good.port) == "healthy"
    assert env.proxy.stats()["cluster.flapping.health_check.success"] >= 3
