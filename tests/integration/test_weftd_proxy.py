"""weftd drives weft-proxy over ADS: Istio YAML in a directory becomes live traffic routing,
edits apply within the debounce window without failed requests, broken resources are
reported precisely while the rest applies, NACKs keep the last good config, and the proxy
keeps serving while the control plane is away."""

import collections
import threading
import time
import types

import pytest

import weft_harness as wh
import weftd_harness as wd

HOST = "web.default.svc.cluster.local"
NODE = "sidecar~127.0.0.1~client-1.default~default.svc.cluster.local"

DESTINATION_RULE = """apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: web}
spec:
  host: web
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
"""


def split_vs(w1, w2, extra=""):
    return """apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: web}
spec:
  hosts: [web]
  http:
%s  - route:
    - {destination: {host: web, subset: v1}, weight: %d}
    - {destination: {host: web, subset: v2}, weight: %d}
""" % (extra, w1, w2)


@pytest.fixture
def mesh(weft, tmp_path):
    v1, v2 = weft.echoes("web-v1", "web-v2")
    port = wh.free_port()
    weftd = wd.Weftd(tmp_path / "weftd")
    weftd.write("web.yaml", wd.service_yaml("web", port, [("web-v1", "v1", v1.port), ("web-v2", "v2", v2.port)]))
    weftd.write("dr.yaml", DESTINATION_RULE)
    weftd.write("vs.yaml", split_vs(100, 0))
    weftd.start()
    try:  # weftd is stopped even when the setup below fails
        admin = wh.free_port()
        proxy = weft.start_proxy(wd.proxy_bootstrap(admin, weftd, NODE))
        m = types.SimpleNamespace(weftd=weftd, proxy=proxy, port=port, v1=v1, v2=v2)
        assert wh.wait_for(lambda: weftd.synced(NODE), 10), weftd.get("/debug/syncz")
        yield m
    finally:
        weftd.stop()


def servers(port, n, headers=None):
    counts = collections.Counter()
    for _ in range(n):
        r = wh.http_request(port, "/", headers=dict({"Host": HOST}, **(headers or {})))
        counts[r.json()["server"] if r.status == 200 else "status-%d" % r.status] += 1
    return counts


def wait_all(port, name, timeout=5.0, headers=None):
    return wh.wait_for(lambda: servers(port, 10, headers) == {name: 10}, timeout)


def test_weighted_split_follows_virtual_service(mesh):
    assert wait_all(mesh.port, "web-v1"), servers(mesh.port, 10)
    mesh.weftd.write("vs.yaml", split_vs(80, 20))
    assert wh.wait_for(lambda: servers(mesh.port, 20)["web-v2"] > 0, 5), "the 80/20 edit never reached the proxy"
    counts = servers(mesh.port, 500)
    # 80% of 500 is 400; sd 8.9: +-40 is 4.5 sd.
    assert 360 <= counts["web-v1"] <= 440 and sum(counts.values()) == 500, "expected 80/20, got %s" % dict(counts)


def test_header_match_routes_to_subset(mesh):
    canary = """  - match: [{headers: {x-canary: {exact: "yes"}}}]
    route: [{destination: {host: web, subset: v2}}]
"""
    mesh.weftd.write("vs.yaml", split_vs(100, 0, canary))
    assert wait_all(mesh.port, "web-v2", headers={"x-canary": "yes"}), servers(mesh.port, 10, {"x-canary": "yes"})
    assert servers(mesh.port, 20) == {"web-v1": 20}


def test_twenty_edits_under_traffic_fail_no_request(mesh):
    stop = threading.Event()
    results = collections.Counter()
    errors = []

    def load():
        while not stop.is_set():
            try:
                r = wh.http_request(mesh.port, "/", headers={"Host": HOST}, timeout=5)
                results[r.status] += 1
                if r.status != 200:
                    errors.append("HTTP %d %s" % (r.status, r.text[:200]))
            except Exception as exc:  # a reset or refused connection is a failed request too
                results["exception"] += 1
                errors.append(repr(exc))

    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        for i in range(20):
            w1 = 100 if i % 2 else 0
            mesh.weftd.write("vs.yaml", split_vs(w1, 100 - w1))
            time.sleep(0.25)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors, "%d failed requests during 20 edits (of %s): %s" % (len(errors), dict(results), errors[:5])
    assert results[200] > 100, dict(results)
    # The last edit (i=19: 100/0) is what the proxy ends up with.
    assert wait_all(mesh.port, "web-v1"), servers(mesh.port, 10)


def test_broken_resource_is_reported_and_the_rest_applies(mesh):
    mesh.weftd.write("broken.yaml", """apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: broken}
spec:
  hosts: [other]
  http:
  - route:
    - {destination: {host: web}, weight: -5}
""")
    mesh.weftd.write("vs.yaml", split_vs(0, 100))
    assert wait_all(mesh.port, "web-v2"), "a valid edit next to a broken resource did not apply"
    rejected = mesh.weftd.json("/debug/configz")["rejected"]
    assert any(r["name"] == "broken" and r["file"].endswith("broken.yaml") and r["document"] == 0 and
               any("spec.http[0].route[0].weight: must be >= 0" in e for e in r["errors"]) for r in rejected), rejected


def test_nack_keeps_last_good_config(mesh):
    mesh.weftd.write("vs.yaml", split_vs(0, 100))
    assert wait_all(mesh.port, "web-v2")
    # weft-proxy refuses %VAR% formatters in header values (Istio allows them): the route config is NACKed.
    mesh.weftd.write("vs.yaml", split_vs(100, 0).replace("  - route:", "  - headers: {request: {set: {x-a: \"%HOSTNAME%\"}}}\n    route:"))

    def nacked():
        for s in mesh.weftd.json("/debug/syncz"):
            rds = s["types"].get("rds", {})
            if s["proxy"] == NODE and "not supported by weft-proxy" in rds.get("last_nack", ""):
                return rds
        return None

    assert wh.wait_for(lambda: nacked() is not None, 5), mesh.weftd.get("/debug/syncz")
    rds = nacked()
    assert "RouteConfiguration" in rds["last_nack"] and "header.value" in rds["last_nack"], rds
    assert rds["status"] == "STALE", rds
    assert servers(mesh.port, 10) == {"web-v2": 10}, "the NACKed config must not replace the last good one"
    assert "pilot_total_xds_rejects 1" in mesh.weftd.get("/metrics")


def test_proxy_serves_while_control_plane_is_away(mesh, tmp_path):
    assert wait_all(mesh.port, "web-v1")
    mesh.weftd.stop()
    time.sleep(0.5)
    assert servers(mesh.port, 10) == {"web-v1": 10}, "the last good config must keep serving"
    mesh.weftd.write("vs.yaml", split_vs(0, 100))
    mesh.weftd.start()  # same ports: the proxy reconnects with backoff and resyncs
    assert wait_all(mesh.port, "web-v2", timeout=15), "after weftd came back the proxy did not resync"
    assert wh.wait_for(lambda: mesh.weftd.synced(NODE), 5), mesh.weftd.get("/debug/syncz")


def test_config_dump_shows_dynamic_resources_with_versions(mesh):
    dump = wh.http_request(mesh.proxy.admin_port, "/config_dump").json()
    by_type = {c["@type"].rsplit(".", 1)[-1]: c for c in dump["configs"]}
    clusters = by_type["ClustersConfigDump"].get("dynamic_active_clusters", [])
    names = {c["cluster"]["name"] for c in clusters}
    assert "outbound|%d|v1|%s" % (mesh.port, HOST) in names, names
    assert all(c.get("version_info") for c in clusters), clusters
    listeners = by_type["ListenersConfigDump"].get("dynamic_listeners", [])
    assert any(l["name"] == "0.0.0.0_%d" % mesh.port and "active_state" in l for l in listeners), listeners
    routes = by_type["RoutesConfigDump"].get("dynamic_route_configs", [])
    assert any(r["route_config"]["name"] == str(mesh.port) for r in routes), routes


def test_replaced_listener_drains_open_connections(mesh):
    assert wait_all(mesh.port, "web-v1")
    with wh.RawConn(mesh.port) as c:
        c.request("GET", "/", [("Host", HOST)])
        first = c.read_response()
        assert first.status == 200 and not first.connection_close(), first.describe()
        # A new port on the Service changes the listener set; the listener for this port is
        # unchanged, so this connection must keep working.
        text = (mesh.weftd.config_dir / "web.yaml").read_text()
        mesh.weftd.write("web.yaml", text.replace("ports: [{name: http, port: %d}]" % mesh.port,
                                                  "ports: [{name: http, port: %d}, {name: http-alt, port: %d}]"
                                                  % (mesh.port, wh.free_port())))
        time.sleep(1.0)
        c.request("GET", "/", [("Host", HOST)])
        second = c.read_response()
        assert second.status == 200 and not second.connection_close(), "an unchanged listener must not drain: %s" % second.describe()
        # Removing the port removes the listener: a request in flight is answered (with
        # connection: close), and the connection then closes.
        # The response waits 4 s upstream: room for weftd's debounce and push on a loaded machine.
        c.request("GET", "/", [("Host", HOST), ("x-echo-delay-ms", "4000")])
        assert wh.wait_for(lambda: any(k.endswith(".downstream_rq_active") and v >= 1
                                       for k, v in mesh.proxy.stats().items()), 5), "the request never reached the proxy"
        mesh.weftd.write("web.yaml", text.replace("ports: [{name: http, port: %d}]" % mesh.port,
                                                  "ports: [{name: http-alt, port: %d}]" % wh.free_port()))
        third = c.read_response()
        assert third.status == 200 and third.connection_close(), (
            "the in-flight request on a removed listener must complete, then close: %s" % third.describe())
        assert c.wait_closed(3), "the drained connection was not closed"
    assert wh.wait_for(lambda: wh.connect_refused(mesh.port), 5), "the removed listener still accepts connections"
