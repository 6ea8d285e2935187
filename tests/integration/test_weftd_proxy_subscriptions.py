"""A bootstrap that names cds_config but no lds_config subscribes to clusters only (as Envoy);
/clusters lists the clusters that came over CDS, as text and JSON, with their endpoints and
membership gauges; /config_dump?include_eds shows the endpoints; and weftd gives a Service
without Endpoints the ready Pods its selector picks, as Kubernetes' endpoints controller does."""

import json
import types

import pytest

import weft_harness as wh
import weftd_harness as wd

NODE = "sidecar~127.0.0.1~cds-only.default~default.svc.cluster.local"
SHOP = "outbound|9080||shop.default.svc.cluster.local"
NAMED = "outbound|9090||named.default.svc.cluster.local"


def pods_only_services(shop_port, named_port):
    # No Endpoints objects: weftd derives them from the Pods (a numeric and a named targetPort).
    return """apiVersion: v1
kind: Service
metadata: {name: shop, namespace: default}
spec:
  selector: {app: shop}
  ports: [{name: http, port: 9080, targetPort: %d}]
---
apiVersion: v1
kind: Service
metadata: {name: named, namespace: default}
spec:
  selector: {app: named}
  ports: [{name: http, port: 9090, targetPort: web}]
---
apiVersion: v1
kind: Pod
metadata: {name: shop-1, namespace: default, labels: {app: shop}}
status: {podIP: 127.0.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: named-1, namespace: default, labels: {app: named}}
spec:
  containers: [{name: app, ports: [{name: web, containerPort: %d}]}]
status: {podIP: 127.0.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: shop-not-ready, namespace: default, labels: {app: shop}}
status:
  podIP: 127.0.0.2
  conditions: [{type: Ready, status: "False"}]
""" % (shop_port, named_port)


@pytest.fixture
def cds_only(weft, tmp_path):
    shop, named = weft.echoes("shop", "named")
    weftd = wd.Weftd(tmp_path / "weftd")
    weftd.write("mesh.yaml", pods_only_services(shop.port, named.port))
    weftd.start()
    try:
        config = wd.proxy_bootstrap(wh.free_port(), weftd, NODE)
        del config["dynamic_resources"]["lds_config"]
        proxy = weft.start_proxy(config)
        yield types.SimpleNamespace(weftd=weftd, proxy=proxy, shop=shop, named=named)
    finally:
        weftd.stop()


def clusters_text(proxy):
    return proxy.admin("/clusters").text


def test_only_clusters_are_subscribed(cds_only):
    p = cds_only.proxy
    assert wh.wait_for(lambda: SHOP in clusters_text(p), 10), clusters_text(p)
    assert p.admin("/ready").text == "LIVE\n"
    assert p.admin("/listeners").text == "", p.admin("/listeners").text
    dump = json.loads(p.admin("/config_dump").text)
    listeners = [c for c in dump["configs"] if c["@type"].endswith("ListenersConfigDump")][0]
    assert "dynamic_listeners" not in listeners, listeners
    types_seen = [t for s in cds_only.weftd.json("/debug/syncz") if s["proxy"] == NODE for t in s["types"]]
    assert types_seen and not any("Listener" in t for t in types_seen), types_seen


def test_clusters_text_lists_dynamic_clusters_and_their_derived_endpoints(cds_only):
    p = cds_only.proxy
    assert wh.wait_for(lambda: "%s::127.0.0.1:%d::" % (SHOP, cds_only.shop.port) in clusters_text(p), 10), \
        clusters_text(p)
    text = clusters_text(p)
    assert "%s::added_via_api::true" % SHOP in text
    assert "xds-grpc::added_via_api::false" in text
    assert "%s::default_priority::max_connections::4294967295" % SHOP in text  # Istio's defaults
    assert "xds-grpc::default_priority::max_connections::1024" in text  # Envoy's
    assert "%s::127.0.0.1:%d::health_flags::healthy" % (NAMED, cds_only.named.port) in text
    assert "127.0.0.2" not in text  # the pod that is not ready


def test_clusters_json_and_membership(cds_only):
    p = cds_only.proxy
    assert wh.wait_for(lambda: "%s::127.0.0.1" % SHOP in clusters_text(p), 10)
    r = p.admin("/clusters?format=json")
    assert r.header("content-type") == "application/json", r.describe()
    statuses = {c["name"]: c for c in json.loads(r.text)["cluster_statuses"]}
    shop = statuses[SHOP]
    assert shop["added_via_api"] is True
    hosts = shop["host_statuses"]
    assert [h["address"]["socket_address"] for h in hosts] == [
        {"address": "127.0.0.1", "port_value": cds_only.shop.port}], hosts
    stats = {s["name"]: s for s in hosts[0]["stats"]}
    # Counters first, then gauges; a zero value and the COUNTER type are left out, as Envoy's JSON does.
    assert stats["cx_active"]["type"] == "GAUGE" and "type" not in stats["rq_total"], stats
    names = [s["name"] for s in hosts[0]["stats"]]
    assert names.index("cx_total") < names.index("cx_active"), names
    assert statuses["xds-grpc"].get("added_via_api", False) is False
    s = p.stats()
    assert s["cluster.%s.membership_total" % SHOP] == 1, {k: v for k, v in s.items() if "membership" in k}
    assert s["cluster.%s.membership_healthy" % SHOP] == 1
    assert s["cluster.xds-grpc.membership_total"] == 1


def test_config_dump_include_eds(cds_only):
    p = cds_only.proxy
    assert wh.wait_for(lambda: "%s::127.0.0.1" % SHOP in clusters_text(p), 10)
    plain = json.loads(p.admin("/config_dump").text)
    assert not any(c["@type"].endswith("EndpointsConfigDump") for c in plain["configs"])
    dump = json.loads(p.admin("/config_dump?include_eds").text)
    kinds = [c["@type"].rsplit(".", 1)[-1] for c in dump["configs"]]
    assert kinds == ["BootstrapConfigDump", "ClustersConfigDump", "EndpointsConfigDump", "ListenersConfigDump",
                     "RoutesConfigDump"], kinds
    eds = dump["configs"][2]
    # Rebuilt from the live hosts, as Envoy does (no version or update time).
    static = [e["endpoint_config"]["cluster_name"] for e in eds["static_endpoint_configs"]]
    assert static == ["xds-grpc"], eds
    dynamic = {e["endpoint_config"]["cluster_name"]: e["endpoint_config"] for e in eds["dynamic_endpoint_configs"]}
    assert SHOP in dynamic, eds
    cla = dynamic[SHOP]
    assert cla["policy"]["overprovisioning_factor"] == 140, cla
    lbe = cla["endpoints"][0]["lb_endpoints"][0]
    assert lbe["endpoint"]["address"]["socket_address"] == {"address": "127.0.0.1", "port_value": cds_only.shop.port}
    assert lbe["health_status"] == "HEALTHY" and lbe["load_balancing_weight"] == 1, lbe
