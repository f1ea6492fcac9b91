"""Parts the machine may lack: a test that needs one skips with one reason, or fails when every test must run."""

from __future__ import annotations

import os
import shutil
from typing import NoReturn

import pytest

REQUIRE_ALL = "SANDBOX_REQUIRE_ALL"
# Where the tests look for a Chromium, after $CHROMIUM_PATH: the names distributions give it.
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")


def required(env: str | None = None) -> bool:
    """Whether every test must run: SANDBOX_REQUIRE_ALL=1 (or the older, narrower `env` variable) is set."""
    return os.environ.get(REQUIRE_ALL) == "1" or bool(env and os.environ.get(env))


def missing(what: str, how: str, *, env: str | None = None) -> NoReturn:
    """Skip the test for want of `what`, saying `how` to get it; fail instead when every test must run."""
    reason = f"{what}: {how}"
    if required(env):
        pytest.fail(f"{reason} ({REQUIRE_ALL}=1: nothing may be skipped)", pytrace=False)
    pytest.skip(reason)


def need_program(name: str, how: str, *, env: str | None = None) -> str:
    """The path of the program `name` on the PATH; the test is skipped (or fails) without it."""
    path = shutil.which(name)
    if path is None:
        missing(f"{name} is not installed", how, env=env)
    return path


def find_chromium(playwright_chromium=None) -> str:
    """The Chromium to drive: $CHROMIUM_PATH, else one on the PATH, else the one Playwright installed.

    Skips (or fails, when every test must run) with one reason if there is none.
    """
    given = os.environ.get("CHROMIUM_PATH")
    if given:
        if os.access(given, os.X_OK):
            return given
        missing(f"CHROMIUM_PATH is {given!r}, which is not an executable", "point it at a Chromium, or unset it")
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    bundled = getattr(playwright_chromium, "executable_path", None)
    if bundled and os.access(bundled, os.X_OK):
        return bundled
    missing(
        "no Chromium found (CHROMIUM_PATH, " + ", ".join(CHROMIUM_NAMES) + " on the PATH, or Playwright's own)",
        "apt install chromium (`make test` does, as root), set CHROMIUM_PATH, or `python -m playwright install chromium`",
    )
