"""DestinationRule loadBalancer.consistentHash through weftd, with Istio's translation: the
cluster becomes RING_HASH (or MAGLEV), the routes to it carry the hash_policy, so a header or a
generated cookie keeps each client on one endpoint. HTTP/1.1 and HTTP/2."""

import json
import re
import types

import pytest

import weft_harness as wh
import weftd_harness as wd
from both_protocols import PROTOCOLS, request

NODE = "sidecar~127.0.0.1~client-ch.default~default.svc.cluster.local"
HOST = "shop.default.svc.cluster.local"


@pytest.fixture(scope="module")
def mesh(weft_module, tmp_path_factory):
    weft = weft_module
    echoes = weft.echoes("shop-1", "shop-2", "shop-3")
    port = wh.free_port()
    shop = wd.service_yaml("shop", port, [(e.name, "v1", e.port) for e in echoes])
    rules = """apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: shop, namespace: default}
spec:
  host: shop
  trafficPolicy:
    loadBalancer: {consistentHash: {httpHeaderName: x-user, maglev: {tableSize: 1021}}}
  subsets:
  - name: sticky
    labels: {version: v1}
    trafficPolicy:
      loadBalancer: {consistentHash: {httpCookie: {name: shop-session, path: /, ttl: 300s}}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop, namespace: default}
spec:
  hosts: [shop]
  http:
  - match: [{uri: {prefix: /cart}}]
    route: [{destination: {host: shop, subset: sticky}}]
  - route: [{destination: {host: shop}}]
"""
    with wd.sidecar(weft, tmp_path_factory.mktemp("weftd"), NODE, {"shop.yaml": shop, "dr.yaml": rules},
                    concurrency=2) as (weftd, proxy):
        yield types.SimpleNamespace(weftd=weftd, proxy=proxy, port=port)


def server(mesh, proto, path, headers=()):
    r = request(proto, mesh.port, path, host=HOST, headers=list(headers))
    assert r.status == 200, r.describe()
    return json.loads(r.body)["server"], r


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_a_header_keeps_each_user_on_one_endpoint(mesh, proto):
    chosen = {}
    for user in range(9):
        seen = {server(mesh, proto, "/", ["x-user: u%d" % user])[0] for _ in range(4)}
        assert len(seen) == 1, (user, seen)
        chosen[user] = seen.pop()
    # 30 users on 3 endpoints all land on one with a chance of 3 / 3^30.
    for user in range(9, 30):
        chosen[user] = server(mesh, proto, "/", ["x-user: u%d" % user])[0]
    assert len(set(chosen.values())) >= 2, chosen
    dump = json.loads(mesh.proxy.admin("/config_dump").text)
    clusters = [dc["cluster"] for c in dump["configs"] for dc in c.get("dynamic_active_clusters", [])]
    shop = [c for c in clusters if c["name"] == "outbound|%d||%s" % (mesh.port, HOST)][0]
    assert shop["lb_policy"] == "MAGLEV" and shop["maglev_lb_config"]["table_size"] == "1021", shop


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_a_generated_cookie_keeps_the_client_on_one_endpoint(mesh, proto):
    first, r = server(mesh, proto, "/cart")
    m = re.fullmatch(r'shop-session="([0-9a-f]{16})"; Max-Age=300; Path=/; HttpOnly', r.headers.get("set-cookie", ""))
    assert m, r.describe()
    assert {server(mesh, proto, "/cart", ["cookie: shop-session=" + m.group(1)])[0] for _ in range(6)} == {first}
