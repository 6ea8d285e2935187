"""Router retries (route and virtual host retry_policy), as Envoy's: which failures are retried,
num_retries, previous_hosts, per_try_timeout, the request body kept for the retry,
x-envoy-attempt-count, max_retries and the retry stats. Each on HTTP/1.1 and HTTP/2."""

import json
import time
import types

import pytest

import weft_harness as wh
from both_protocols import PROTOCOLS, request
from failing_server import FailingServer


def retry(retry_on, **extra):
    return dict({"retry_on": retry_on, "num_retries": 1}, **extra)


def route(prefix, cluster, policy):
    r = wh.route_to(cluster, prefix=prefix)
    r["route"]["retry_policy"] = policy
    return r


@pytest.fixture(scope="module")
def env(weft_module):
    h = weft_module
    good = h.echo("good")
    bad503 = FailingServer(503)
    bad409 = FailingServer(409)
    busy = FailingServer(200, headers=[("x-upstream-busy", "yes")])
    # 30% of requests fail: 3 of every 10.
    flaky = FailingServer(200, cycle=[200, 503, 200, 200, 503, 200, 200, 503, 200, 200])
    closed_port = wh.free_port()  # nothing listens there: connections are refused
    hang = h.blackhole()
    trickle = FailingServer(200, mode="trickle", delay=0.15)  # 6 bytes over ~0.9 s
    stall = FailingServer(200, mode="stall")
    reset = FailingServer(200, mode="reset")
    bad_only = FailingServer(503)
    no_budget, one_budget = FailingServer(503), FailingServer(503)
    prev = {"retry_host_predicate": [{"name": "envoy.retry_host_predicates.previous_hosts"}],
            "host_selection_retry_max_attempts": 5}
    port, admin = h.port(), h.port()
    log = h.path("access.log")
    vhost = wh.vhost("all", ["*"], [
        route("/5xx", "half_bad", retry("5xx", **prev)),
        route("/gw", "half_bad", retry("gateway-error", **prev)),
        route("/connect", "half_closed", retry("connect-failure", **prev)),
        route("/4xx", "half_409", retry("retriable-4xx", **prev)),
        route("/codes", "half_409", retry("retriable-status-codes", retriable_status_codes=[409], **prev)),
        route("/not-retried", "half_409", retry("5xx", **prev)),
        route("/all-bad", "all_bad", retry("5xx", num_retries=3)),
        route("/flaky", "flaky", retry("5xx", num_retries=3)),
        route("/busy", "half_busy", retry("retriable-headers", retriable_headers=[
            {"name": "x-upstream-busy", "string_match": {"exact": "yes"}}], **prev)),
        route("/per-try", "half_hang", retry("5xx", per_try_timeout="0.3s", **prev)),
        route("/no-body-retry", "half_bad", retry("5xx", **prev)),
        route("/idle/hang", "half_hang", retry("5xx", per_try_idle_timeout="0.3s", **prev)),
        route("/idle/trickle", "trickle", retry("5xx", per_try_idle_timeout="0.5s")),
        route("/idle/stall", "stall", retry("5xx", per_try_idle_timeout="0.3s")),
        route("/reset", "reset", retry("5xx,reset")),
        route("/budget/none", "no_budget", retry("5xx", num_retries=3)),
        route("/budget/one", "one_budget", retry("5xx", num_retries=3)),
        route("/only-marked", "bad_only", retry("5xx", retriable_request_headers=[
            {"name": "x-retry-me", "string_match": {"exact": "yes"}}])),
        wh.route_to("half_bad", prefix="/vhost-policy"),
    ], include_request_attempt_count=True, include_attempt_count_in_response=True,
        retry_policy=retry("5xx", **prev))
    config = wh.bootstrap(admin, listeners=[wh.http_listener(
        "main", port, [vhost], access_log=[wh.file_access_log(log, "%REQ(:PATH)% %RESPONSE_CODE% %RESPONSE_FLAGS%\n")])],
        clusters=[
            wh.cluster("half_bad", [bad503.port, good.port]),
            wh.cluster("half_closed", [closed_port, good.port]),
            wh.cluster("half_409", [bad409.port, good.port]),
            wh.cluster("all_bad", [bad503.port]),
            wh.cluster("flaky", [flaky.port]),
            wh.cluster("half_busy", [busy.port, good.port]),
            wh.cluster("half_hang", [hang.port, good.port]),
            wh.cluster("trickle", [trickle.port]),
            wh.cluster("stall", [stall.port]),
            wh.cluster("reset", [reset.port]),
            wh.cluster("bad_only", [bad_only.port]),
            wh.cluster("no_budget", [no_budget.port], circuit_breakers={"thresholds": [
                {"retry_budget": {"budget_percent": {"value": 0}, "min_retry_concurrency": 0}}]}),
            wh.cluster("one_budget", [one_budget.port], circuit_breakers={"thresholds": [
                {"max_retries": 0, "retry_budget": {"budget_percent": {"value": 0}, "min_retry_concurrency": 1}}]}),
        ])
    proxy = h.start_proxy(config)
    yield types.SimpleNamespace(proxy=proxy, port=port, good=good, bad503=bad503, bad409=bad409, log=log,
                                flaky=flaky, busy=busy, trickle=trickle, stall=stall, reset=reset, bad_only=bad_only,
                                no_budget=no_budget, one_budget=one_budget)
    for s in (trickle, stall, reset, bad_only, no_budget, one_budget):
        s.shutdown()


def stat(env, cluster, name):
    return env.proxy.stats().get("cluster.%s.%s" % (cluster, name), 0)


@pytest.mark.parametrize("proto", PROTOCOLS)
@pytest.mark.parametrize("path, cluster", [("/5xx", "half_bad"), ("/gw", "half_bad"), ("/connect", "half_closed"),
                                           ("/4xx", "half_409"), ("/codes", "half_409"), ("/busy", "half_busy"),
                                           ("/vhost-policy", "half_bad")])
def test_a_failing_host_is_retried_on_the_other(env, proto, path, cluster):
    bad = {"half_bad": env.bad503, "half_409": env.bad409, "half_busy": env.busy}.get(cluster)
    bad_before = bad.count if bad else 0
    retries = stat(env, cluster, "upstream_rq_retry")
    successes = stat(env, cluster, "upstream_rq_retry_success")
    for _ in range(6):
        r = request(proto, env.port, path)
        assert r.status == 200, r.describe()
        assert json.loads(r.body)["server"] == "good"
    # Every try that met the failing host was retried once, on the other host, and succeeded.
    retried = stat(env, cluster, "upstream_rq_retry") - retries
    assert retried >= 1
    assert stat(env, cluster, "upstream_rq_retry_success") - successes == retried
    if bad:
        assert bad.count - bad_before == retried


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_attempt_count_reaches_the_upstream_and_the_client(env, proto):
    for _ in range(4):
        before = env.bad503.count
        r = request(proto, env.port, "/5xx")
        assert r.status == 200, r.describe()
        sent = json.loads(r.body)["headers"]["x-envoy-attempt-count"]
        assert r.headers["x-envoy-attempt-count"] == sent, r.describe()
        tries = env.bad503.count - before + 1
        assert sent == str(tries), (sent, tries)
        if tries == 2:
            assert env.bad503.headers[-1]["x-envoy-attempt-count"] == "1"


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_a_status_not_asked_for_is_not_retried(env, proto):
    codes = set()
    for _ in range(4):
        codes.add(request(proto, env.port, "/not-retried").status)
    assert codes == {200, 409}


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_retry_limit_exceeded_forwards_the_last_response(env, proto):
    before = env.bad503.count
    limit = stat(env, "all_bad", "upstream_rq_retry_limit_exceeded")
    r = request(proto, env.port, "/all-bad")
    assert r.status == 503 and r.body == b"failed", r.describe()
    assert env.bad503.count - before == 4  # the first try and num_retries 3
    assert stat(env, "all_bad", "upstream_rq_retry_limit_exceeded") - limit == 1
    assert wh.wait_for(lambda: any(l.startswith("/all-bad 503 URX") for l in wh.read_lines(env.log)), 3), \
        wh.read_lines(env.log)[-5:]


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_per_try_timeout_moves_on_to_another_host(env, proto):
    for _ in range(4):
        start = time.monotonic()
        r = request(proto, env.port, "/per-try")
        elapsed = time.monotonic() - start
        assert r.status == 200, r.describe()
        assert elapsed < 2.0, elapsed
    assert stat(env, "half_hang", "upstream_rq_per_try_timeout") >= 2


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_the_request_body_is_sent_again(env, proto):
    body = b"payload-" * 4096  # 32 KiB
    before = len(env.bad503.bodies)
    for _ in range(4):
        r = request(proto, env.port, "/no-body-retry", method="POST", body=body)
        assert r.status == 200, r.describe()
        echo = json.loads(r.body)
        assert echo["body_len"] == len(body), echo
    assert all(b == body for b in env.bad503.bodies[before:]), [len(b) for b in env.bad503.bodies[before:]]


def test_unknown_retry_on_is_refused(weft):
    config = wh.bootstrap(weft.port(), listeners=[wh.http_listener("l", weft.port(), [wh.vhost("a", ["*"], [
        route("/", "c", retry("5xx,sometimes"))])])], clusters=[wh.cluster("c", [9])])
    _, result = weft.validate(config)
    assert result.returncode != 0
    assert ("static_resources.listeners[0].filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[0]"
            ".routes[0].route.retry_policy.retry_on: 'sometimes' is not a retry condition weft-proxy knows") \
        in result.stderr, result.stderr


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_retries_recover_a_30_percent_failing_upstream(env, proto):
    retries = stat(env, "flaky", "upstream_rq_retry")
    failed_before = env.flaky.count
    ok = sum(request(proto, env.port, "/flaky").status == 200 for _ in range(100))
    assert ok >= 99, ok
    answered = env.flaky.count - failed_before
    # Every 503 the upstream gave was retried: the stats count each attempt beyond the first.
    assert stat(env, "flaky", "upstream_rq_retry") - retries == answered - 100
    assert answered - 100 >= 25


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_per_try_idle_timeout_retries_a_silent_host(env, proto):
    for _ in range(4):
        r = request(proto, env.port, "/idle/hang")
        assert r.status == 200, r.describe()
    assert stat(env, "half_hang", "upstream_rq_per_try_idle_timeout") >= 2


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_per_try_idle_timeout_lets_a_slow_but_moving_response_finish(env, proto):
    # ~0.9 s in all, but never 0.5 s without a byte: no idle timeout.
    r = request(proto, env.port, "/idle/trickle")
    assert r.status == 200 and r.body == b"failed", r.describe()
    assert stat(env, "trickle", "upstream_rq_per_try_idle_timeout") == 0


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_per_try_idle_timeout_after_the_response_started_resets_it(env, proto):
    before = env.stall.count
    start = time.monotonic()
    r = request(proto, env.port, "/idle/stall", reset=True)
    # The head was forwarded: the stream is reset (not retried, not a 504), well before 60 s.
    assert r.status == 200 and r.body == b"fai", r.describe()
    assert time.monotonic() - start < 5
    assert env.stall.count - before == 1
    assert env.proxy.wait_stat("cluster.stall.upstream_rq_per_try_idle_timeout", 1) >= 1


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_a_reset_mid_response_is_not_retried(env, proto):
    before = env.reset.count
    r = request(proto, env.port, "/reset", reset=True)
    assert r.status == 200 and r.body == b"fai", r.describe()  # truncated where the upstream reset
    assert env.reset.count - before == 1  # the response had started: no retry, even on "reset"


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_retriable_request_headers_limit_which_requests_are_retried(env, proto):
    before = env.bad_only.count
    assert request(proto, env.port, "/only-marked").status == 503
    assert env.bad_only.count - before == 1
    assert request(proto, env.port, "/only-marked", headers=["x-retry-me: yes"]).status == 503
    assert env.bad_only.count - before == 3


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_retry_budget_replaces_max_retries(env, proto):
    # A budget of 0% with no minimum: no retry may start (overflow), the 503 goes back as it is.
    before = env.no_budget.count
    overflow = stat(env, "no_budget", "upstream_rq_retry_overflow")
    assert request(proto, env.port, "/budget/none").status == 503
    assert env.no_budget.count - before == 1
    assert stat(env, "no_budget", "upstream_rq_retry_overflow") == overflow + 1
    # min_retry_concurrency 1: one retry at a time is allowed (max_retries 0 no longer counts).
    before = env.one_budget.count
    assert request(proto, env.port, "/budget/one").status == 503
    assert env.one_budget.count - before == 4
