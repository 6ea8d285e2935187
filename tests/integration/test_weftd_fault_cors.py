"""weftd translates VirtualService `fault` and `corsPolicy` as Istio does (per-route configs for
the sidecar's fault and CORS filters), and weft-proxy applies them: Istio's bookinfo samples
virtual-service-ratings-test-delay.yaml, virtual-service-ratings-test-abort.yaml and
fault-injection-details-v1.yaml (tests/integration/data/bookinfo/, unchanged) behave as in
Istio's fault-injection task, on HTTP/1.1 and HTTP/2."""

import json
import threading
from pathlib import Path

import pytest

import weft_harness as wh
import weftd_harness as wd
from both_protocols import PROTOCOLS, request

NODE = "sidecar~127.0.0.1~productpage-1.default~default.svc.cluster.local"
SAMPLES = Path(__file__).parent / "data" / "bookinfo"


@pytest.fixture(scope="module")
def mesh(weft_module, tmp_path_factory):
    ratings, details = weft_module.echoes("ratings-v1", "details-v1")
    port = wh.free_port()
    files = {
        "ratings.yaml": wd.service_yaml("ratings", port, [("ratings-v1", "v1", ratings.port)]),
        "details.yaml": wd.service_yaml("details", port, [("details-v1", "v1", details.port)]),
        # Istio's bookinfo subsets, unchanged: the samples below route to them.
        "destination-rule-all.yaml": (SAMPLES / "destination-rule-all.yaml").read_text(),
    }
    with wd.sidecar(weft_module, tmp_path_factory.mktemp("weftd"), NODE, files) as (weftd, proxy):
        assert weftd.json("/debug/configz")["rejected"] == []
        yield type("Mesh", (), {"weftd": weftd, "proxy": proxy, "port": port})


def apply(mesh, name, text=None):
    """Write a resource (a bookinfo sample by default), in place of the VirtualService for the
    same host that an earlier test wrote; weftd must accept it whole."""
    if "ratings" in name:
        for other in ("virtual-service-ratings-test-delay.yaml", "virtual-service-ratings-test-abort.yaml",
                      "ratings-vs.yaml"):
            if other != name and (mesh.weftd.config_dir / other).exists():
                mesh.weftd.remove(other)
    mesh.weftd.write(name, text if text is not None else (SAMPLES / name).read_text())
    assert wh.wait_for(lambda: any(name in json.dumps(a) for a in mesh.weftd.json("/debug/configz")["accepted"]), 10), \
        mesh.weftd.get("/debug/configz")
    configz = mesh.weftd.json("/debug/configz")
    assert configz["rejected"] == [], configz["rejected"]


def ratings(mesh, proto, user=None):
    return request(proto, mesh.port, "/ratings/0", host="ratings", headers=["end-user: %s" % user] if user else [])


def test_ratings_abort_for_jason(mesh):
    apply(mesh, "virtual-service-ratings-test-abort.yaml")
    assert wh.wait_for(lambda: ratings(mesh, "http1", "jason").status == 500, 5)
    for proto in PROTOCOLS:
        r = ratings(mesh, proto, "jason")
        assert r.status == 500 and r.text == "fault filter abort", r.describe()
        r = ratings(mesh, proto)
        assert r.status == 200 and r.headers.get("x-echo-server") == "ratings-v1", r.describe()


def test_ratings_delay_for_jason(mesh):
    apply(mesh, "virtual-service-ratings-test-delay.yaml")
    # The previous test's abort route answers "someone" with 200 as well: wait for the delay itself.
    assert wh.wait_for(lambda: "fixed_delay" in mesh.proxy.admin("/config_dump").text, 10)
    assert wh.wait_for(lambda: ratings(mesh, "http1", "someone").status == 200, 5)
    got = {}

    def run(proto):
        got[proto] = ratings(mesh, proto, "jason")
    threads = [threading.Thread(target=run, args=(p,)) for p in PROTOCOLS]
    for t in threads:
        t.start()
    for proto in PROTOCOLS:  # others are not delayed meanwhile
        r = ratings(mesh, proto, "someone")
        assert r.status == 200 and r.elapsed < 2, r.describe()
    for t in threads:
        t.join()
    for proto in PROTOCOLS:
        r = got[proto]
        assert r.status == 200 and 7.0 <= r.elapsed < 9.5, r.describe()


def test_details_abort_555(mesh):
    # The sample carries its own `details` DestinationRule, which in Kubernetes replaces the one
    # destination-rule-all.yaml made; in a config directory the older one has to go.
    docs = (SAMPLES / "destination-rule-all.yaml").read_text().split("\n---\n")
    mesh.weftd.write("destination-rule-all.yaml", "\n---\n".join(d for d in docs if "name: details\n" not in d))
    apply(mesh, "fault-injection-details-v1.yaml")
    assert wh.wait_for(lambda: request("http1", mesh.port, "/details/0", host="details").status == 555, 5)
    for proto in PROTOCOLS:
        r = request(proto, mesh.port, "/details/0", host="details")
        assert r.status == 555 and r.text == "fault filter abort", r.describe()


def test_cors_policy(mesh):
    apply(mesh, "ratings-vs.yaml", """apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ratings}
spec:
  hosts: [ratings]
  http:
  - corsPolicy:
      allowOrigins: [{exact: "https://bookinfo.example"}]
      allowMethods: [GET, POST]
      maxAge: 1h
    route: [{destination: {host: ratings, subset: v1}}]
""")
    def preflight(proto):
        return request(proto, mesh.port, "/ratings/0", method="OPTIONS", host="ratings",
                       headers=["origin: https://bookinfo.example", "access-control-request-method: POST"])
    assert wh.wait_for(lambda: preflight("http1").headers.get("access-control-max-age") == "3600", 10)
    for proto in PROTOCOLS:
        r = preflight(proto)
        assert r.status == 200 and r.headers.get("access-control-allow-methods") == "GET,POST", r.describe()
        r = request(proto, mesh.port, "/ratings/0", host="ratings", headers=["origin: https://bookinfo.example"])
        assert r.headers.get("access-control-allow-origin") == "https://bookinfo.example", r.describe()
        r = request(proto, mesh.port, "/ratings/0", host="ratings", headers=["origin: https://other.example"])
        assert "access-control-allow-origin" not in r.headers, r.describe()
