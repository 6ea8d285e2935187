"""pytest fixtures for the weft-proxy integration tests.

`weft` is a per-test Harness (tests/integration/weft_harness.py); `weft_module` is one shared by
a whole test module. Everything they start is stopped at teardown. When a test fails, the tail
of each weft-proxy's stderr is attached to the report. `pki` is the test PKI of
tls_certs.py, generated once per session.
"""

import pytest

import tls_certs
import weft_harness


@pytest.fixture
def weft(tmp_path):
    h = weft_harness.Harness(tmp_path)
    try:
        yield h
    finally:
        h.close()


@pytest.fixture(scope="module")
def weft_module(tmp_path_factory, request):
    h = weft_harness.Harness(tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1]))
    try:
        yield h
    finally:
        h.close()


@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    return tls_certs.make_pki(tmp_path_factory.mktemp("pki"))


def _harnesses(item):
    found = []
    for value in getattr(item, "funcargs", {}).values():
        for candidate in (value, getattr(value, "harness", None)):
            if isinstance(candidate, weft_harness.Harness) and candidate not in found:
                found.append(candidate)
    return found


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed and report.when in ("setup", "call"):
        for h in _harnesses(item):
            text = h.diagnostics()
            if text:
                report.sections.append(("weft-proxy output", text))
