"""RING_HASH and MAGLEV clusters with a route's hash_policy, as Envoy's: a header, a cookie
(generated with its Set-Cookie when the client has none), the client's IP or a query parameter
keep a client on one host; terminal ends the list; without a hash the pick is random; a host
that outlier detection ejects hands its clients to the others. Each on HTTP/1.1 and HTTP/2."""

import json
import re
import types

import pytest

import weft_harness as wh
from both_protocols import PROTOCOLS, request
from failing_server import FailingServer


@pytest.fixture(scope="module")
def env(weft_module):
    h = weft_module
    echoes = h.echoes("e1", "e2", "e3", "e4")
    ports = [e.port for e in echoes]
    bad = {proto: FailingServer(503) for proto in PROTOCOLS}

    def hashed(prefix, cluster, policy):
        r = wh.route_to(cluster, prefix=prefix)
        r["route"]["hash_policy"] = policy
        return r

    routes = [
        hashed("/ring/header", "ring", [{"header": {"header_name": "x-user"}}]),
        hashed("/maglev/header", "maglev", [{"header": {"header_name": "x-user"}}]),
        hashed("/maglev/ip", "maglev", [{"connection_properties": {"source_ip": True}}]),
        hashed("/ring/cookie", "ring", [{"cookie": {"name": "sticky", "ttl": "60s", "path": "/"}}]),
        hashed("/ring/query", "ring", [{"query_parameter": {"name": "shard"}}]),
        hashed("/ring/terminal", "ring", [{"header": {"header_name": "x-user"}, "terminal": True},
                                          {"header": {"header_name": "x-other"}}]),
        wh.route_to("ring", prefix="/ring/none"),
    ] + [hashed("/flaky/" + proto, "flaky_" + proto, [{"header": {"header_name": "x-user"}}]) for proto in PROTOCOLS]
    port, admin = h.port(), h.port()
    config = wh.bootstrap(admin, listeners=[wh.http_listener("main", port, [wh.vhost("all", ["*"], routes)])],
                          clusters=[
                              wh.cluster("ring", ports, lb_policy="RING_HASH",
                                         ring_hash_lb_config={"minimum_ring_size": 512}),
                              wh.cluster("maglev", ports, lb_policy="MAGLEV"),
                          ] + [wh.cluster("flaky_" + proto, [bad[proto].port] + ports[:2], lb_policy="RING_HASH",
                                          outlier_detection={"consecutive_5xx": 2, "max_ejection_percent": 100,
                                                             "interval": "0.2s", "base_ejection_time": "60s"})
                               for proto in PROTOCOLS])
    proxy = h.start_proxy(config)
    return types.SimpleNamespace(proxy=proxy, port=port, bad=bad)


def server(env, proto, path, headers=()):
    r = request(proto, env.port, path, headers=list(headers))
    assert r.status == 200, r.describe()
    return json.loads(r.body)["server"], r


@pytest.mark.parametrize("proto", PROTOCOLS)
@pytest.mark.parametrize("path", ["/ring/header", "/maglev/header"])
def test_a_header_keeps_each_user_on_one_host(env, proto, path):
    chosen = {}
    for user in range(12):
        seen = {server(env, proto, path, ["x-user: user-%d" % user])[0] for _ in range(4)}
        assert len(seen) == 1, (user, seen)
        chosen[user] = seen.pop()
    assert len(set(chosen.values())) >= 2, chosen  # users spread over the hosts


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_source_ip_and_query_parameter(env, proto):
    assert len({server(env, proto, "/maglev/ip")[0] for _ in range(8)}) == 1
    for shard in ("a", "b", "c"):
        assert len({server(env, proto, "/ring/query?shard=" + shard)[0] for _ in range(4)}) == 1


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_terminal_ends_the_list(env, proto):
    # With x-user present, x-other (after the terminal policy) changes nothing.
    first = server(env, proto, "/ring/terminal", ["x-user: u1", "x-other: 1"])[0]
    assert {server(env, proto, "/ring/terminal", ["x-user: u1", "x-other: %d" % i])[0] for i in range(8)} == {first}


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_a_cookie_is_generated_then_keeps_the_client(env, proto):
    host, r = server(env, proto, "/ring/cookie")
    m = re.fullmatch(r'sticky="([0-9a-f]{16})"; Max-Age=60; Path=/; HttpOnly', r.headers.get("set-cookie", ""))
    assert m, r.describe()
    for _ in range(6):
        again, r2 = server(env, proto, "/ring/cookie", ["cookie: sticky=%s" % m.group(1)])
        assert again == host
        assert "set-cookie" not in r2.headers, r2.describe()


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_without_a_hash_the_pick_is_random(env, proto):
    assert len({server(env, proto, "/ring/none")[0] for _ in range(24)}) >= 2


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_an_ejected_host_hands_its_users_to_the_others(env, proto):
    # Find users the failing host owns, then watch them move once it is ejected.
    owned = []
    for user in range(40):
        r = request(proto, env.port, "/flaky/" + proto, headers=["x-user: u-%d" % user])
        if r.status == 503:
            owned.append(user)
        if len(owned) == 3:
            break
    assert owned, "no user hashed to the failing host"
    name = "cluster.flaky_%s.outlier_detection.ejections_active" % proto
    assert wh.wait_for(lambda: env.proxy.stats().get(name, 0) == 1, 3)
    for user in owned:
        r = request(proto, env.port, "/flaky/" + proto, headers=["x-user: u-%d" % user])
        assert r.status == 200, r.describe()


def test_bad_consistent_hash_settings_are_refused(weft):
    config = wh.bootstrap(weft.port(), clusters=[wh.cluster("m", [80], lb_policy="MAGLEV",
                                                            maglev_lb_config={"table_size": 65536})])
    _, result = weft.validate(config)
    assert result.returncode != 0
    assert ("static_resources.clusters[0].maglev_lb_config.table_size: 65536 must be a prime number of at most "
            "5000011") in result.stderr, result.stderr[-2000:]
