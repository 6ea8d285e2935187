"""VirtualService mirror / mirrors through weftd, with Istio's translation: every request to
the route is copied to the mirror service, host suffixed "-shadow", while the client gets the
real service's answer; a 0% mirror sends nothing. HTTP/1.1 and HTTP/2."""

import json
import time
import types

import pytest

import weft_harness as wh
import weftd_harness as wd
from both_protocols import PROTOCOLS, request
from failing_server import FailingServer

NODE = "sidecar~127.0.0.1~client-mi.default~default.svc.cluster.local"
HOST = "shop.default.svc.cluster.local"


@pytest.fixture(scope="module")
def mesh(weft_module, tmp_path_factory):
    weft = weft_module
    shop = weft.echo("shop-1")
    copy = FailingServer(200)
    port, copy_port = wh.free_port(), wh.free_port()
    files = {
        "shop.yaml": wd.service_yaml("shop", port, [("shop-1", "v1", shop.port)]),
        "copy.yaml": wd.service_yaml("shop-copy", copy_port, [("copy-1", "v1", copy.port)]),
        "vs.yaml": """apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop, namespace: default}
spec:
  hosts: [shop]
  http:
  - match: [{uri: {prefix: /none}}]
    route: [{destination: {host: shop}}]
    mirrors: [{destination: {host: shop-copy}, percentage: {value: 0}}]
  - route: [{destination: {host: shop}}]
    mirror: {host: shop-copy}
    mirrorPercentage: {value: 100}
""",
    }
    try:
        with wd.sidecar(weft, tmp_path_factory.mktemp("weftd"), NODE, files) as (weftd, proxy):
            yield types.SimpleNamespace(weftd=weftd, proxy=proxy, port=port, copy=copy)
    finally:
        copy.shutdown()


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_requests_are_mirrored_to_the_other_service(mesh, proto):
    before = mesh.copy.count
    r = request(proto, mesh.port, "/buy", method="POST", body=b"order-1", host=HOST)
    assert r.status == 200 and json.loads(r.body)["server"] == "shop-1", r.describe()
    assert wh.wait_for(lambda: mesh.copy.count == before + 1, 5)
    assert mesh.copy.bodies[-1] == b"order-1"
    assert mesh.copy.headers[-1]["host"] == HOST + "-shadow"


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_a_zero_percent_mirror_sends_nothing(mesh, proto):
    before = mesh.copy.count
    for _ in range(4):
        assert request(proto, mesh.port, "/none", host=HOST).status == 200
    time.sleep(0.3)
    assert mesh.copy.count == before
