"""The README's first two commands work for root without sudo and for a user with sudo.

A fresh Debian 12 machine where the user is root often has no sudo: the commands must not
begin with it. The scripts they name ask for root themselves (scripts/lib/as-root.sh): root
runs them directly; another user goes through sudo when it is installed, and is told to run
them as root when it is not.
"""
import os
import pathlib
import shutil
import subprocess
import tempfile

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]


def readme_commands():
    lines = [l.strip() for l in (REPO / "README.md").read_text().splitlines()[:6] if l.startswith("    ")]
    return [l.split("#")[0].strip() for l in lines[:2]]


def test_readme_commands_do_not_begin_with_sudo():
    cmds = readme_commands()
    assert cmds == ["bash scripts/demo.sh", "bash scripts/run-tests.sh"], cmds
    for c in cmds:
        script = REPO / c.split()[1]
        text = script.read_text()
        assert "source scripts/lib/as-root.sh" in text, f"{script} does not ask for root itself"
    assert (REPO / ".ci/run").read_text().strip().endswith("exec bash scripts/run-tests.sh")


@pytest.fixture
def tmp_path():
    # pytest's own tmp_path sits under a directory only root may enter; `nobody` must.
    d = tempfile.mkdtemp(prefix="weft-readme-", dir="/tmp")
    os.chmod(d, 0o755)
    yield pathlib.Path(d)
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def probe(tmp_path):
    """A script laid out as the README's are (scripts/X.sh under a repository root)."""
    root = tmp_path / "repo"
    (root / "scripts" / "lib").mkdir(parents=True)
    shutil.copy(REPO / "scripts/lib/as-root.sh", root / "scripts/lib/as-root.sh")
    (root / "scripts" / "probe.sh").write_text(
        '#!/usr/bin/env bash\nset -euo pipefail\ncd "$(dirname "$0")/.."\n'
        'source scripts/lib/as-root.sh\necho "ran as uid $(id -u) with $*"\n')
    os.chmod(tmp_path, 0o755)
    os.chmod(root, 0o755)
    for d in (root / "scripts", root / "scripts" / "lib"):
        os.chmod(d, 0o755)
    return root


def run_as_nobody(root, path):
    return subprocess.run(["runuser", "-u", "nobody", "--", "env", f"PATH={path}", "bash", "scripts/probe.sh", "a1"],
                          cwd=root, capture_output=True, text=True, timeout=30)


def test_root_runs_the_script_directly(probe):
    assert os.geteuid() == 0, "this test runs as root (as CI does)"
    r = subprocess.run(["bash", "scripts/probe.sh", "a1"], cwd=probe, capture_output=True, text=True, timeout=30,
                       env={"PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ran as uid 0 with a1"


def test_user_without_sudo_is_told_to_run_as_root(probe):
    r = run_as_nobody(probe, "/usr/bin:/bin")
    assert r.returncode == 1
    assert "probe.sh: needs root, and sudo is not installed: run it as root" in r.stderr
    assert "ran as" not in r.stdout


def test_user_with_sudo_goes_through_sudo(probe, tmp_path):
    # A stand-in for sudo that records how it was called: whether the real sudo would then
    # grant root is the machine's policy, not the script's.
    bindir = tmp_path / "bin"
    bindir.mkdir()
    log = tmp_path / "sudo.log"
    (bindir / "sudo").write_text(f'#!/bin/sh\necho "$@" > {log}\n')
    os.chmod(bindir / "sudo", 0o755)
    os.chmod(tmp_path, 0o777)
    r = run_as_nobody(probe, f"{bindir}:/usr/bin:/bin")
    assert r.returncode == 0, r.stderr
    assert log.read_text().strip() == f"-E bash {probe}/scripts/probe.sh a1"
