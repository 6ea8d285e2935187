"""Shutdown and draining: SIGTERM lets in-flight requests finish, stops accepting, exits 0 within
the drain time; POST /quitquitquit exits 0; POST /drain_listeners stops accepting."""

import signal
import threading
import time

import weft_harness as wh
from weft_harness import expect_status

DRAIN_TIME_S = 3


def start(weft):
    echo = weft.echo("echo")
    port, admin = weft.port(), weft.port()
    config = wh.bootstrap(admin, listeners=[
        wh.http_listener("main", port, [wh.vhost("all", ["*"], [wh.route_to("echo")])])],
        clusters=[wh.cluster("echo", [echo.port])])
    proxy = weft.start_proxy(config, extra_args=["--drain-time-s", DRAIN_TIME_S])
    return proxy, port


def wait_refused(port, timeout):
    """Poll connects until one is refused; True if that happens within timeout."""
    return bool(wh.wait_for(lambda: wh.connect_refused(port, timeout=0.5), timeout, 0.05))


def test_sigterm_drains_in_flight_request_and_exits_zero(weft):
    proxy, port = start(weft)
    result = {}

    def slow_request():
        try:
            with wh.RawConn(port, timeout=15) as c:
                c.request("GET", "/slow", {"x-echo-delay-ms": "1500"})
                result["response"] = c.read_response(timeout=15)
        except Exception as exc:  # reported below
            result["error"] = exc

    t = threading.Thread(target=slow_request)
    t.start()
    assert proxy.wait_stat("http.ingress_http.downstream_rq_active", 1, timeout=5) == 1, proxy.ctx()
    t0 = time.monotonic()
    proxy.send_signal(signal.SIGTERM)

    refused = wait_refused(port, 2.0)
    t.join(15)
    rc = proxy.wait_exit(max(0.1, DRAIN_TIME_S + 3 - (time.monotonic() - t0)))
    elapsed = time.monotonic() - t0

    assert "error" not in result, "in-flight request failed during drain: %r%s" % (result.get("error"), proxy.ctx())
    r = result.get("response")
    assert r is not None and r.status == 200 and r.json()["path"] == "/slow", (
        "in-flight request should complete with 200 during drain, got %r%s"
        % (r.describe() if r else None, proxy.ctx()))
    assert refused, "new connections were still accepted 2 s after SIGTERM%s" % proxy.ctx()
    assert rc == 0, "after SIGTERM the proxy should exit 0 within the %d s drain time (+3 s); rc=%r " \
        "after %.1f s%s" % (DRAIN_TIME_S, rc, elapsed, proxy.ctx())


def test_sigterm_idle_proxy_exits_promptly(weft):
    proxy, port = start(weft)
    expect_status(wh.http_request(port, "/warm"), 200, "warm-up request", proxy)
    t0 = time.monotonic()
    proxy.send_signal(signal.SIGTERM)
    rc = proxy.wait_exit(DRAIN_TIME_S + 3)
    assert rc == 0, "SIGTERM with nothing in flight: expected exit 0, rc=%r after %.1f s%s" % (
        rc, time.monotonic() - t0, proxy.ctx())


def test_quitquitquit_exits_zero(weft):
    proxy, port = start(weft)
    r = proxy.admin_post("/quitquitquit")
    expect_status(r, 200, "POST /quitquitquit", proxy)
    rc = proxy.wait_exit(5)
    assert rc == 0, "POST /quitquitquit: expected exit code 0 within 5 s, got %r%s" % (rc, proxy.ctx())


def test_drain_listeners_stops_accepting(weft):
    proxy, port = start(weft)
    expect_status(wh.http_request(port, "/before"), 200, "request before /drain_listeners", proxy)
    r = proxy.admin_post("/drain_listeners")
    expect_status(r, 200, "POST /drain_listeners", proxy)
    assert wait_refused(port, 2.0), "listener still accepting 2 s after POST /drain_listeners%s" % proxy.ctx()
    assert proxy.alive(), "POST /drain_listeners must not stop the process"
    r = proxy.admin("/server_info")
    expect_status(r, 200, "admin still answers after /drain_listeners", proxy)


def test_drain_listeners_inboundonly_keeps_outbound_serving(weft):
    """Envoy's /drain_listeners?inboundonly: listeners with traffic_direction INBOUND stop
    accepting; the others keep serving (the agent drains a sidecar's inbound side first)."""
    backend = weft.echo("b")
    inbound, outbound, admin = weft.port(), weft.port(), weft.port()
    proxy = weft.start_proxy(wh.bootstrap(admin, listeners=[
        wh.http_listener("in", inbound, [wh.vhost("v", ["*"], [wh.route_to("b")])], traffic_direction="INBOUND"),
        wh.http_listener("out", outbound, [wh.vhost("v", ["*"], [wh.route_to("b")])], traffic_direction="OUTBOUND"),
    ], clusters=[wh.cluster("b", [backend.port])]))
    expect_status(proxy.admin_post("/drain_listeners?inboundonly&graceful"), 200, "POST /drain_listeners?inboundonly", proxy)
    assert wait_refused(inbound, 2.0), "the INBOUND listener still accepts%s" % proxy.ctx()
    expect_status(wh.http_request(outbound, "/still"), 200, "the OUTBOUND listener after an inbound-only drain", proxy)
