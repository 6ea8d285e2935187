"""Admin interface: /ready, /server_info, /stats (+ filter), /stats/prometheus, /clusters,
/config_dump, POST-only mutations, /healthcheck/fail and /healthcheck/ok."""

import json
import math
import re
import types

import pytest

import weft_harness as wh
from weft_harness import expect_status

NAME_RE = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
SAMPLE_RE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?[ \t]+(\S+)([ \t]+-?\d+)?$")
LABEL_RE = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"\s*(,|$)')
PROM_TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}
REQUESTS = 7


def make_env(h):
    echo = h.echo("echo")
    port, admin = h.port(), h.port()
    config = wh.bootstrap(admin, listeners=[
        wh.http_listener("ingress_listener", port, [wh.vhost("all", ["*"], [wh.route_to("service_a")])],
                         stat_prefix="ingress_http")],
        clusters=[wh.cluster("service_a", [echo.port])])
    proxy = h.start_proxy(config)
    return types.SimpleNamespace(harness=h, proxy=proxy, port=port, echo=echo)


@pytest.fixture(scope="module")
def env(weft_module):
    e = make_env(weft_module)
    for i in range(REQUESTS):  # each on a new downstream connection
        r = wh.http_request(e.port, "/traffic/%d" % i)
        expect_status(r, 200, "traffic request %d" % i, e.proxy)
    return e


@pytest.fixture
def fresh(weft):
    return make_env(weft)


def test_ready(env):
    r = env.proxy.admin("/ready")
    assert r.status == 200 and r.text.strip() == "LIVE", "GET /ready: expected 200 LIVE, got %s" % r.describe()


def test_server_info(env):
    r = env.proxy.admin("/server_info")
    expect_status(r, 200, "GET /server_info", env.proxy)
    info = r.json()
    assert info.get("state") == "LIVE", "server_info.state: expected LIVE, got %r" % info.get("state")
    assert "version" in info, "server_info has no version: %r" % info
    assert info.get("command_line_options", {}).get("concurrency") == 2, (
        "server_info.command_line_options.concurrency: expected 2, got %r"
        % info.get("command_line_options"))
    assert info.get("node", {}).get("id") == "weft-test-node", (
        "server_info.node.id: expected the bootstrap node id, got %r" % info.get("node"))


def test_stats_counts(env):
    p = env.proxy
    expected = {
        "cluster.service_a.upstream_rq_total": REQUESTS,
        "cluster.service_a.upstream_rq_2xx": REQUESTS,
        "http.ingress_http.downstream_rq_total": REQUESTS,
        "http.ingress_http.downstream_rq_2xx": REQUESTS,
        "listener.127.0.0.1_%d.downstream_cx_total" % env.port: REQUESTS,
    }
    for name, value in expected.items():
        got = p.wait_stat(name, value)
        assert got == value, "/stats %s: expected %d after %d requests on %d connections, got %r%s" % (
            name, value, REQUESTS, REQUESTS, got, p.ctx())


def test_stats_line_format(env):
    r = env.proxy.admin("/stats")
    expect_status(r, 200, "GET /stats", env.proxy)
    bad = [l for l in r.text.splitlines() if l and not re.match(r"^[^\s:]+: \S.*$", l)]
    assert not bad, "/stats lines must be 'name: value'; bad lines: %r" % bad[:10]


def test_stats_filter(env):
    r = env.proxy.admin("/stats?filter=upstream_rq_total")
    expect_status(r, 200, "GET /stats?filter=upstream_rq_total", env.proxy)
    lines = [l for l in r.text.splitlines() if l]
    assert lines and all("upstream_rq_total" in l.split(":")[0] for l in lines), (
        "/stats?filter=upstream_rq_total should only list matching stats, got %r" % lines[:10])
    assert "cluster.service_a.upstream_rq_total: %d" % REQUESTS in lines, lines


def parse_prometheus(text):
    """Validate Prometheus text exposition; returns {(name, frozenset(labels)): value}."""
    types_seen = {}
    samples = {}
    errors = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        if line.startswith("#"):
            parts = line.split(None, 3)
            if len(parts) >= 2 and parts[1] == "TYPE":
                if len(parts) != 4 or not NAME_RE.match(parts[2]) or parts[3].strip() not in PROM_TYPES:
                    errors.append("line %d: bad TYPE line %r" % (n, line))
                elif parts[2] in types_seen:
                    errors.append("line %d: second TYPE line for %s" % (n, parts[2]))
                else:
                    types_seen[parts[2]] = parts[3].strip()
            continue
        m = SAMPLE_RE.match(line)
        if not m:
            errors.append("line %d: not a sample line: %r" % (n, line))
            continue
        name, label_text, value = m.group(1), m.group(3), m.group(4)
        labels = []
        if label_text:
            pos = 0
            while pos < len(label_text):
                lm = LABEL_RE.match(label_text, pos)
                if not lm:
                    errors.append("line %d: bad labels %r" % (n, label_text))
                    break
                labels.append((lm.group(1), lm.group(2)))
                pos = lm.end()
        try:
            v = float(value)
        except ValueError:
            errors.append("line %d: bad value %r" % (n, value))
            continue
        family = name
        for suffix in ("_bucket", "_sum", "_count"):
            if name.endswith(suffix) and name[: -len(suffix)] in types_seen:
                family = name[: -len(suffix)]
        if family not in types_seen:
            errors.append("line %d: sample %s has no preceding # TYPE line" % (n, name))
        key = (name, frozenset(labels))
        if key in samples:
            errors.append("line %d: duplicate series %s%r" % (n, name, sorted(labels)))
        samples[key] = v
    return samples, types_seen, errors


def test_stats_prometheus(env):
    r = env.proxy.admin("/stats/prometheus")
    expect_status(r, 200, "GET /stats/prometheus", env.proxy)
    samples, types_seen, errors = parse_prometheus(r.text)
    assert not errors, "invalid Prometheus exposition:\n%s" % "\n".join(errors[:20])
    key = ("envoy_cluster_upstream_rq_total", frozenset({("envoy_cluster_name", "service_a")}))
    assert samples.get(key) == REQUESTS, (
        'expected envoy_cluster_upstream_rq_total{envoy_cluster_name="service_a"} %d, got %r; '
        "cluster samples: %r" % (REQUESTS, samples.get(key),
                                 sorted(k[0] for k in samples if "upstream_rq_total" in k[0])[:10]))
    assert types_seen.get("envoy_cluster_upstream_rq_total") == "counter", types_seen.get(
        "envoy_cluster_upstream_rq_total")
    assert all(not math.isnan(v) for k, v in samples.items() if types_seen.get(k[0]) == "counter")


def test_clusters(env):
    r = env.proxy.admin("/clusters")
    expect_status(r, 200, "GET /clusters", env.proxy)
    host = "service_a::127.0.0.1:%d::" % env.echo.port
    lines = [l for l in r.text.splitlines() if l.startswith(host)]
    assert lines, "/clusters should list lines starting %r, got:\n%s" % (host, r.text[:2000])
    assert host + "health_flags::healthy" in lines, "expected %shealth_flags::healthy in %r" % (host, lines)
    assert host + "rq_total::%d" % REQUESTS in lines, "expected %srq_total::%d in %r" % (host, REQUESTS, lines)


def test_config_dump(env):
    r = env.proxy.admin("/config_dump")
    expect_status(r, 200, "GET /config_dump", env.proxy)
    dump = r.json()
    configs = dump.get("configs")
    assert isinstance(configs, list) and configs, "config_dump has no 'configs' array: %r" % dump
    by_type = {c.get("@type"): c for c in configs}
    lt = "type.googleapis.com/envoy.admin.v3.ListenersConfigDump"
    ct = "type.googleapis.com/envoy.admin.v3.ClustersConfigDump"
    assert lt in by_type and ct in by_type, "config_dump @types: %r" % list(by_type)
    listeners = [l.get("listener", {}).get("name") for l in by_type[lt].get("static_listeners", [])]
    clusters = [c.get("cluster", {}).get("name") for c in by_type[ct].get("static_clusters", [])]
    assert "ingress_listener" in listeners, "static_listeners names: %r" % listeners
    assert "service_a" in clusters, "static_clusters names: %r" % clusters


def test_unknown_admin_path_is_404(env):
    r = env.proxy.admin("/no-such-admin-endpoint")
    expect_status(r, 404, "GET of an unknown admin path", env.proxy)


@pytest.mark.parametrize("path", ["/quitquitquit", "/healthcheck/fail", "/healthcheck/ok",
                                  "/drain_listeners"])
def test_mutations_require_post(env, path):
    r = env.proxy.admin(path)
    expect_status(r, 405, "GET %s (mutating admin endpoints require POST)" % path, env.proxy)
    assert env.proxy.alive(), "GET %s must not act: the proxy exited" % path
    r = env.proxy.admin("/ready")
    assert r.status == 200 and r.text.strip() == "LIVE", "after GET %s, /ready: %s" % (path, r.describe())
    ok = wh.http_request(env.port, "/still-serving")
    assert ok.status == 200 and not ok.connection_close(), "after GET %s: %s" % (path, ok.describe())


def test_healthcheck_fail_and_ok(fresh):
    p = fresh.proxy
    before = wh.http_request(fresh.port, "/before")
    assert before.status == 200 and not before.connection_close(), before.describe()

    r = p.admin_post("/healthcheck/fail")
    expect_status(r, 200, "POST /healthcheck/fail", p)
    during = wh.http_request(fresh.port, "/during")
    assert during.status == 200 and during.connection_close(), (
        "after /healthcheck/fail, HTTP/1.1 responses should carry connection: close (drain), got %s%s"
        % (during.describe(), p.ctx()))
    ready = p.admin("/ready")
    assert ready.status == 503 and ready.text.strip() == "DRAINING", (
        "after /healthcheck/fail, /ready: expected 503 DRAINING, got %s" % ready.describe())
    assert p.admin("/server_info").json().get("state") == "DRAINING"

    r = p.admin_post("/healthcheck/ok")
    expect_status(r, 200, "POST /healthcheck/ok", p)
    after = wh.http_request(fresh.port, "/after")
    assert after.status == 200 and not after.connection_close(), (
        "after /healthcheck/ok responses should no longer close connections, got %s%s"
        % (after.describe(), p.ctx()))
    ready = p.admin("/ready")
    assert ready.status == 200 and ready.text.strip() == "LIVE", ready.describe()


def test_config_dump_is_valid_json_with_resource_types(env):
    dump = json.loads(env.proxy.admin("/config_dump").body)
    for entry in dump["configs"]:
        assert entry.get("@type", "").startswith("type.googleapis.com/envoy.admin.v3."), entry.get("@type")
