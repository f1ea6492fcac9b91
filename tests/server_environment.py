"""Pytest plugin: the environment of a server the session starts (JupyterLab, JupyterHub), built explicitly.

A session server outlives the test that first asked for it, so it must not inherit that test's environment (its
state folder, a variable it set with monkeypatch). `server_environment(folder, **extra)` keeps a few variables as
they were when the session started, points every state and cache folder into `folder`, and adds `extra`.
"""

from __future__ import annotations

import os
from pathlib import Path

# What running needs (finding programs and the worktree's code, the locale, the home a tool may read), the run's
# token (tests/leftovers.py finds a leaked process by it) and the switch a learner's run sets to say "no Redis here".
KEPT = (
    "PATH", "PYTHONPATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "VIRTUAL_ENV",
    "SANDBOX_TEST_RUN", "SANDBOX_NO_REDIS",
)  # fmt: skip
_at_session_start: dict[str, str] = {}


def pytest_sessionstart(session):
    """Keep the variables as they are now: after conftest's resets, before any test changes one."""
    _at_session_start.update({name: os.environ[name] for name in KEPT if name in os.environ})


def server_environment(folder: Path, **extra: str) -> dict[str, str]:
    """The kept variables, every state and cache folder under `folder` (created), then `extra`."""
    folder.mkdir(parents=True, exist_ok=True)
    if not _at_session_start:
        raise RuntimeError("server_environment() before the session started: list server_environment in pytest_plugins")
    folders = {
        "SANDBOX_STATE_DIR": "state", "XDG_STATE_HOME": "state", "XDG_CACHE_HOME": "cache", "XDG_CONFIG_HOME": "config",
        "MPLCONFIGDIR": "matplotlib", "IPYTHONDIR": "ipython",
        "JUPYTER_CONFIG_DIR": "jupyter-config", "JUPYTER_RUNTIME_DIR": "jupyter-runtime",
        "JUPYTER_DATA_DIR": "jupyter-data",  # the notebook trust database and signing key
        # JupyterLab's language-server extension (jupyter_lsp) runs `npm prefix -g` at start: npm's logs go to its cache.
        "npm_config_cache": "npm",
    }  # fmt: skip
    return {**_at_session_start, **{name: str(folder / sub) for name, sub in folders.items()}, **extra}
