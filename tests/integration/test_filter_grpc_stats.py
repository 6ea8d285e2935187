"""envoy.filters.http.grpc_stats with real gRPC C++ peers (tests/interop/grpc): per-method stats
cluster.<cluster>.grpc.<service>.<method>.{success,failure,total,request_message_count,
response_message_count} for the allowlisted methods, message counts only for the others, and
replace_dots_in_grpc_service_name. The gRPC C++ client speaks HTTP/2; hand-framed requests with
curl cover HTTP/1.1 downstream as well."""

import pytest

import weft_harness as wh
from both_protocols import PROTOCOLS, request
from test_proxy_grpc import (GrpcEchoServer, describe, echo_request_bytes, expect_code, grpc_call, grpc_frame,
                             h2_cluster)

GRPC_STATS_TYPE = "type.googleapis.com/envoy.extensions.filters.http.grpc_stats.v3.FilterConfig"


def start(h, stats_cfg):
    echo = GrpcEchoServer("echo", h.workdir)
    port, admin = h.port(), h.port()
    hcm = wh.hcm_filter([wh.vhost("all", ["*"], [wh.route_to("echo", "/")])], stat_prefix="grpc", codec_type="AUTO")
    hcm["typed_config"]["http_filters"] = [
        {"name": "envoy.filters.http.grpc_stats", "typed_config": dict({"@type": GRPC_STATS_TYPE}, **stats_cfg)},
        wh.router_filter()]
    proxy = h.start_proxy(wh.bootstrap(admin, [wh.listener("grpc", port, [hcm])], [h2_cluster("echo", echo.port)]))
    return echo, proxy, port


def test_allowlisted_methods_get_their_own_stats(weft):
    echo, proxy, port = start(weft, {"individual_method_stats_allowlist": {
        "services": [{"name": "weft.test.Echo", "method_names": ["ClientStream", "Unary"]}]}})
    try:
        res = grpc_call(port, "client_stream", proxy, size=100, count=7, deadline_ms=10000)
        expect_code(res, 0, proxy)
        res = grpc_call(port, "unary", proxy, size=10, fail_code=5, fail_message="nope")
        expect_code(res, 5, proxy)
        res = grpc_call(port, "server_stream", proxy, size=10, count=4, deadline_ms=10000)
        expect_code(res, 0, proxy)
        stats = proxy.stats()
        cs = "cluster.echo.grpc.weft.test.Echo.ClientStream."
        assert stats.get(cs + "total") == 1 and stats.get(cs + "success") == 1, stats
        assert stats.get(cs + "request_message_count") == 7 and stats.get(cs + "response_message_count") == 1, stats
        un = "cluster.echo.grpc.weft.test.Echo.Unary."
        assert stats.get(un + "total") == 1 and stats.get(un + "failure") == 1 and stats.get(un + "success") == 0, stats
        # Not allowlisted: no stats of its own, its messages in the cluster's counts.
        assert not any(k.startswith("cluster.echo.grpc.weft.test.Echo.ServerStream.") for k in stats), stats
        assert stats.get("cluster.echo.grpc.response_message_count") == 4, stats
        assert stats.get("cluster.echo.grpc.request_message_count") == 1, stats
    finally:
        echo.stop()


def test_all_methods_and_dots_replaced(weft):
    echo, proxy, port = start(weft, {"stats_for_all_methods": True, "replace_dots_in_grpc_service_name": True})
    try:
        res = grpc_call(port, "bidi", proxy, size=64, count=5, deadline_ms=10000)
        expect_code(res, 0, proxy)
        stats = proxy.stats()
        b = "cluster.echo.grpc.weft_test_Echo.BidiStream."
        assert stats.get(b + "request_message_count") == 5, (describe(res), stats)
        assert stats.get(b + "response_message_count") == res["received_messages"], (describe(res), stats)
        assert stats.get(b + "success") == 1, stats
    finally:
        echo.stop()


def test_config_errors(weft):
    for cfg, expected in [
        ({"emit_filter_state": True}, "emit_filter_state: not supported"),
        ({"enable_upstream_stats": True}, "enable_upstream_stats: not supported"),
        ({"individual_method_stats_allowlist": {"services": [{"name": "a.B"}]}}, "method_names: at least one"),
    ]:
        hcm = wh.hcm_filter([wh.vhost("all", ["*"], [wh.direct(200)])])
        hcm["typed_config"]["http_filters"] = [
            {"name": "envoy.filters.http.grpc_stats", "typed_config": dict({"@type": GRPC_STATS_TYPE}, **cfg)},
            wh.router_filter()]
        _, r = weft.validate(wh.bootstrap(weft.port(), [wh.listener("main", weft.port(), [hcm])]))
        assert r.returncode != 0 and expected in r.stderr + r.stdout, (expected, r.stderr, r.stdout)


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_message_counts_on_both_protocols(weft, proto):
    """A hand-framed client stream of three messages (curl, so HTTP/1.1 can carry it too; the
    upstream hop is HTTP/2 either way): three request messages, one response message."""
    echo, proxy, port = start(weft, {"stats_for_all_methods": True})
    try:
        body = b"".join(grpc_frame(echo_request_bytes(b"m%d" % i)) for i in range(3))
        r = request(proto, port, "/weft.test.Echo/ClientStream", method="POST", body=body,
                    headers=["content-type: application/grpc", "te: trailers"])
        assert r.status == 200, r.describe()
        stats = proxy.stats()
        cs = "cluster.echo.grpc.weft.test.Echo.ClientStream."
        assert stats.get(cs + "request_message_count") == 3, stats
        assert stats.get(cs + "response_message_count") == 1, stats
        assert stats.get(cs + "total") == 1, stats
    finally:
        echo.stop()
