"""Upstream failures: refused connection (UF), route timeout (UT), connect timeout (UF),
no healthy upstream (UH), upstream closing before the response (UC). Response flags come from
the file access log (%RESPONSE_FLAGS%)."""

import time
import types

import pytest

import weft_harness as wh
from weft_harness import expect_status

LOG_FORMAT = "%REQ(:PATH)% %RESPONSE_CODE% %RESPONSE_FLAGS% %DURATION%\n"


@pytest.fixture(scope="module")
def env(weft_module):
    h = weft_module
    echo = h.echo("echo")
    blackhole = h.blackhole()
    closed_port = h.port()  # nothing listens there
    port, admin = h.port(), h.port()
    log_path = h.path("failures-access.log")
    routes = [
        wh.route_to("closed", prefix="/closed"),
        wh.route_to("echo", prefix="/slow", timeout="0.5s"),
        wh.route_to("blackhole", prefix="/connect-timeout", timeout="10s"),
        wh.route_to("empty", prefix="/empty"),
        wh.route_to("echo", prefix="/"),
    ]
    config = wh.bootstrap(admin, listeners=[
        wh.http_listener("main", port, [wh.vhost("all", ["*"], routes)],
                         access_log=[wh.file_access_log(log_path, LOG_FORMAT)])],
        clusters=[
            wh.cluster("echo", [echo.port]),
            wh.cluster("closed", [closed_port]),
            wh.cluster("blackhole", [blackhole.port], connect_timeout="0.25s"),
            wh.cluster("empty", []),
        ])
    proxy = h.start_proxy(config)
    return types.SimpleNamespace(harness=h, proxy=proxy, port=port, log_path=log_path)


def log_entry(env, path):
    lines = wh.wait_for_log(env.log_path, lambda l: l.split(" ", 1)[0] == path)
    assert lines, "no access log line for %s within 3 s; log: %r%s" % (
        path, wh.read_lines(env.log_path)[-10:], env.proxy.ctx())
    return lines[-1].split()


def expect_flag(env, path, code, flag):
    fields = log_entry(env, path)
    assert fields[1] == str(code) and flag in fields[2].split(","), (
        "access log for %s: expected code %d with response flag %s, got %r"
        % (path, code, flag, " ".join(fields)))


def still_serving(env):
    r = wh.http_request(env.port, "/healthy")
    expect_status(r, 200, "a normal request after the failure", env.proxy)


def test_connection_refused_is_503_uf(env):
    r = wh.http_request(env.port, "/closed")
    expect_status(r, 503, "route to a cluster whose only endpoint refuses connections", env.proxy)
    expect_flag(env, "/closed", 503, "UF")
    still_serving(env)


def test_route_timeout_is_504_ut(env):
    t0 = time.monotonic()
    r = wh.http_request(env.port, "/slow", headers={"x-echo-delay-ms": "2000"})
    elapsed = time.monotonic() - t0
    expect_status(r, 504, "route timeout 0.5s with an upstream that takes 2s", env.proxy)
    assert 0.4 <= elapsed <= 1.8, "504 should come after ~0.5 s, came after %.2f s" % elapsed
    expect_flag(env, "/slow", 504, "UT")
    still_serving(env)


def test_route_timeout_not_hit_by_fast_upstream(env):
    r = wh.http_request(env.port, "/slow/fast", headers={"x-echo-delay-ms": "100"})
    expect_status(r, 200, "upstream answering in 0.1s under a 0.5s route timeout", env.proxy)


def test_connect_timeout_is_503_uf(env):
    t0 = time.monotonic()
    r = wh.http_request(env.port, "/connect-timeout")
    elapsed = time.monotonic() - t0
    expect_status(r, 503, "cluster with connect_timeout 0.25s to a port whose connects hang", env.proxy)
    assert 0.2 <= elapsed <= 3.0, (
        "503 should come after the 0.25 s connect_timeout (route timeout is 10 s), came after %.2f s"
        % elapsed)
    expect_flag(env, "/connect-timeout", 503, "UF")
    still_serving(env)


def test_no_healthy_upstream_is_503_uh(env):
    r = wh.http_request(env.port, "/empty")
    expect_status(r, 503, "cluster with no endpoints", env.proxy)
    expect_flag(env, "/empty", 503, "UH")


def test_upstream_closes_before_response_is_503_uc(env):
    r = wh.http_request(env.port, "/close")
    expect_status(r, 503, "upstream closing the connection without answering", env.proxy)
    expect_flag(env, "/close", 503, "UC")
    still_serving(env)
