"""Pytest plugin: with SANDBOX_REQUIRE_ALL=1 (as `.ci/run` sets) a test that skips fails instead, whatever skipped it.

`helpers.missing` already fails there; this catches every other skip (a `skipif`, a plugin's, pytest's own).
"""

from __future__ import annotations

import pytest
from helpers import REQUIRE_ALL, required


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A skipped test is reported failed (an error when its setup skipped), with its reason, when every test must run."""
    report = yield
    if report.skipped and not hasattr(report, "wasxfail") and required():
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"{reason} ({REQUIRE_ALL}=1: nothing may be skipped)"
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector):
    """A module skipped while it was collected (`pytest.skip(allow_module_level=True)`, an importorskip) fails too."""
    report = yield
    if report.skipped and required():
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"{reason} ({REQUIRE_ALL}=1: nothing may be skipped)"
    return report
