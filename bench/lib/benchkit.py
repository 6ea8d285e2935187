"""Shared plumbing for bench/h2.sh and bench/tls.sh (Python stdlib only).

Process control, CPU accounting and pinning come from http1_bench.py (the model benchmark);
this adds what both newer scripts need on top: a Runner with start/stop of pinned servers,
per-run CPU snapshots with a contention check, env-var defaults, and the shared main().
"""

import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import http1_bench as hb  # noqa: E402
from http1_bench import (Abort, Children, CLK_TCK, CLIENT_CORE, PROXY_CORE, REPO,  # noqa: E402,F401
                         busy_elsewhere, core_ticks, cpu_ticks, fmt_us, free_port, log,
                         nginx_temp_paths, nthreads, parse_wrk, proc_tree, rss_kb, wait_accepting, warn)

CONTENTION_MAX = 0.05  # flag a run when other processes used more than 5% of a benchmark core
DEFAULT_PROXY = os.path.join(REPO, "build", "bin", "weft-proxy")


def env_int(name, default):
    """ROUNDS=5 bench/h2.sh ... : integer default from the environment."""
    v = os.environ.get(name, "").strip()
    if not v:
        return default
    try:
        return int(v)
    except ValueError:
        sys.exit(f"{name}={v!r} is not an integer")


def median(runs, key):
    vals = [r[key] for r in runs if r.get(key) is not None]
    return statistics.median(vals) if vals else None


def ratio(a, b):
    return a / b if a is not None and b else None


def fmt_ratio(r):
    return "-" if r is None else f"{r:.2f}x"


def first_line(text):
    return (text or "").strip().splitlines()[0] if (text or "").strip() else ""


class Runner:
    """Children, temp dir, pinning, server start-up and CPU snapshots."""

    def __init__(self, args):
        self.args = args
        self.kids = Children()
        self.tmp = None
        self.pin = True
        self.problems = []  # -> exit 1
        self.noisy = []

    # -- setup
    def check_tools(self, need):
        """need: {tool: debian package}."""
        missing = [f"{t} (apt-get install -y {pkg})" for t, pkg in need.items() if not shutil.which(t)]
        if missing:
            raise Abort("missing tools: " + "; ".join(missing))
        cpus = os.sched_getaffinity(0)
        if not {PROXY_CORE, CLIENT_CORE} <= cpus:
            warn(f"cores {PROXY_CORE} and {CLIENT_CORE} not both available (have {sorted(cpus)}): "
                 "running unpinned, numbers are less meaningful")
            self.pin = False

    def make_tmp(self, prefix):
        self.tmp = tempfile.mkdtemp(prefix=prefix)
        os.chmod(self.tmp, 0o755)  # nginx workers run as an unprivileged user

    def check_idle(self):
        if self.pin:
            idle = busy_elsewhere(1.0)
            if max(idle) > 0.10:
                warn(f"the machine is busy before the benchmark starts: core {PROXY_CORE} {idle[0] * 100:.0f}%, "
                     f"core {CLIENT_CORE} {idle[1] * 100:.0f}% used by other processes -- results will be noisy")

    def taskset(self, core, argv):
        return (["taskset", "-c", str(core)] + argv) if self.pin else argv

    def path(self, name):
        return os.path.join(self.tmp, name)

    def write(self, name, text):
        p = self.path(name)
        with open(p, "w") as f:
            f.write(text)
        return p

    @staticmethod
    def tail(path, n=15):
        try:
            with open(path, errors="replace") as f:
                lines = f.read().splitlines()
            return "\n".join("     | " + l for l in lines[-n:]) or "     | (empty)"
        except OSError:
            return "     | (no log)"

    def start_nginx(self, name, conf, core):
        """(proc, None) or (None, error)."""
        path = self.write(f"{name}.conf", conf)
        elog = self.path(f"{name}-error.log")
        test = subprocess.run(["nginx", "-t", "-q", "-p", self.tmp, "-e", elog, "-c", path],
                              capture_output=True, text=True, timeout=20)
        if test.returncode != 0:
            return None, f"nginx -t failed for {name}: {(test.stderr or test.stdout).strip()}"
        p = self.kids.start(self.taskset(core, ["nginx", "-p", self.tmp, "-e", elog, "-c", path]),
                            log_path=self.path(f"{name}.log"))
        return p, None

    def launch(self, t, argv, ports, label, timeout):
        """Start argv pinned to the proxy core for target dict t; True once every port accepts."""
        t["proc"] = self.kids.start(self.taskset(PROXY_CORE, argv), log_path=t["log"])
        for port in ports:
            if not wait_accepting(port, t["proc"], timeout=timeout):
                rc = t["proc"].poll()
                why = (f"exited with status {rc}" if rc is not None
                       else f"not accepting on 127.0.0.1:{port} after {timeout:g}s")
                t["reason"] = f"{label} {why}; last lines of {t['log']}:\n{self.tail(t['log'])}"
                self.kids.stop(t["proc"])
                t["proc"] = None
                return False
        time.sleep(0.3)  # settle before the idle RSS sample
        pids = proc_tree(t["proc"].pid)
        t["idle_rss_kb"], t["threads"], t["nprocs"] = rss_kb(pids), nthreads(pids), len(pids)
        return True

    def stop_target(self, t):
        if t.get("proc") is not None and t.get("owned", True):
            self.kids.stop(t["proc"])
            t["proc"] = None

    def alive(self, t, label):
        p = t.get("proc")
        if p is None:
            return False
        if p.poll() is not None:
            t["ok"] = False
            t["reason"] = f"{label} died (status {p.returncode}); log:\n{self.tail(t['log'])}"
            return False
        return True

    # -- measurement
    def snapshot(self, proxy_root, upstream_root):
        return {"pids": proc_tree(proxy_root.pid) if proxy_root else [],
                "up_pids": proc_tree(upstream_root.pid) if upstream_root else [],
                "k": [core_ticks(PROXY_CORE), core_ticks(CLIENT_CORE)],
                "ru": resource.getrusage(resource.RUSAGE_CHILDREN), "t": time.monotonic()}

    def cpu_now(self, snap):
        return cpu_ticks(snap["pids"]), cpu_ticks(snap["up_pids"])

    def finish(self, s0, c0, u0, proxy_root, upstream_root, proxy_on_core0=True):
        """CPU seconds of proxy/upstream since (s0, c0, u0), wall seconds, contention on both cores."""
        pids = proc_tree(proxy_root.pid) if proxy_root else []
        up_pids = proc_tree(upstream_root.pid) if upstream_root else []
        c1, u1, w1 = cpu_ticks(pids), cpu_ticks(up_pids), time.monotonic()
        k1 = [core_ticks(PROXY_CORE), core_ticks(CLIENT_CORE)]
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        ru0, k0 = s0["ru"], s0["k"]
        client_ticks = ((ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)) * CLK_TCK
        own = [(c1 - c0) if proxy_on_core0 else 0, (u1 - u0) + client_ticks]
        other = [max(0.0, (k1[i][0] - k0[i][0]) - own[i]) / max(k1[i][1] - k0[i][1], 1) if self.pin else 0.0
                 for i in range(2)]
        if not proxy_on_core0:
            other[0] = 0.0
        return {"cpu_s": (c1 - c0) / CLK_TCK, "up_cpu_s": (u1 - u0) / CLK_TCK, "wall_s": w1 - s0["t"],
                "other_cpu": other, "rss_kb": rss_kb(pids)}

    def contention_flag(self, r):
        if max(r["other_cpu"]) > CONTENTION_MAX:
            self.noisy.append(max(r["other_cpu"]))
            return (f"  NOISY: other processes used {r['other_cpu'][0] * 100:.0f}% of core {PROXY_CORE}, "
                    f"{r['other_cpu'][1] * 100:.0f}% of core {CLIENT_CORE}")
        return ""

    def final_words(self, weft_problem, missed=None, strict=False):
        log("")
        if self.noisy:
            warn(f"{len(self.noisy)} run(s) shared their cores with other processes (up to "
                 f"{max(self.noisy) * 100:.0f}% of it): treat the numbers as noisy and rerun on an idle machine")
        if self.problems:
            for p in dict.fromkeys(self.problems):
                warn(p)
            log("RESULT: INVALID (errors above; exit 1)")
            return 1
        if weft_problem:
            log("RESULT: weft-proxy not benchmarked or failed (exit 2); other targets OK")
            return 2
        if missed and strict:
            log(f"RESULT: weft-proxy missed targets: {', '.join(missed)} (exit 3, --strict)")
            return 3
        log("RESULT: OK" + (f" (weft-proxy missed: {', '.join(missed)})" if missed else ""))
        return 0

    def cleanup(self):
        self.kids.stop_all()
        if self.tmp and os.path.isdir(self.tmp):
            if getattr(self.args, "keep_tmp", False):
                log(f"kept {self.tmp}")
            else:
                shutil.rmtree(self.tmp, ignore_errors=True)


def run_main(bench):
    """Signal handling + cleanup around bench.run(): the same as bench/http1.sh's."""
    return hb.run_bench(bench)
