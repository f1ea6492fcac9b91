"""The queue backends behind one registry: nothing outside sandbox_app.queues tells the queues apart by name."""

import ast
from pathlib import Path

import pytest
from helpers import EMAIL, eventually, http_post
from queue_fixtures import need_redis

from sandbox_app.queues.backend import WORKER_COUNT, QueueBackend
from sandbox_app.queues.registry import BACKENDS

PACKAGE = Path(__file__).resolve().parent.parent / "sandbox_app"
QUEUE_NAMES = {"queue", "celery", "rq", "huey"}  # the public pattern names, and Huey's own


def named_constants(node: ast.AST) -> set[str]:
    """The queue names a compared operand holds: a string, or the strings of a tuple, list or set."""
    parts = node.elts if isinstance(node, ast.Tuple | ast.List | ast.Set) else [node]
    return {p.value.lower() for p in parts if isinstance(p, ast.Constant) and isinstance(p.value, str)} & QUEUE_NAMES


def offences(source: str) -> list[str]:
    """Where `source` compares with a queue's name, or builds a setting name out of a pattern in an f-string."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            for operand in (node.left, *node.comparators):
                if names := named_constants(operand):
                    found.append(f"line {node.lineno}: compares with {sorted(names)}")
        elif isinstance(node, ast.match_case) and isinstance(node.pattern, ast.MatchValue):
            if names := named_constants(node.pattern.value):
                found.append(f"line {node.pattern.lineno}: matches {sorted(names)}")
        elif isinstance(node, ast.JoinedStr) and any(isinstance(v, ast.FormattedValue) for v in node.values):
            text = "".join(v.value for v in node.values if isinstance(v, ast.Constant)).lower()
            if "_workers" in text or "-workers" in text:
                found.append(f"line {node.lineno}: builds a setting name ({ast.unparse(node)})")
    return found


def test_the_check_finds_each_way_of_telling_the_queues_apart():
    assert offences('if pattern == "queue": pass')
    assert offences('x = 1 if pattern != "celery" else 0')
    assert offences('if pattern in ("celery", "rq"): pass')
    assert offences('if "Huey" in names: pass')
    assert offences('match pattern:\n    case "rq": pass')
    assert offences('key = f"{pattern.upper()}_WORKERS"')
    assert offences('count = getattr(args, f"{pattern}_workers")')
    assert not offences('measure_send(sandbox, "queue", 3)')  # naming a queue to use it is fine
    assert not offences("if pattern in BACKENDS: pass")
    assert not offences('for name in ("threaded", "pool", FIRST_QUEUE): pass')


def test_no_code_outside_the_backends_tells_the_queues_apart_by_name():
    found = {
        str(path.relative_to(PACKAGE.parent)): problems
        for path in sorted(PACKAGE.rglob("*.py"))
        if "queues" not in path.relative_to(PACKAGE).parts[:1]
        and (problems := offences(path.read_text(encoding="utf-8")))
    }
    assert found == {}, "iterate over sandbox_app.queues.registry.BACKENDS, or ask the backend (an attribute)"


@pytest.mark.parametrize("pattern", list(BACKENDS))
def test_each_backend_declares_what_the_rest_iterates_over(pattern):
    backend = BACKENDS[pattern]
    assert issubclass(backend, QueueBackend) and backend.pattern == pattern
    assert backend.library and callable(backend.send)
    setting = backend.workers_setting
    assert setting.key.endswith("_WORKERS") and setting.flag.startswith("--") and setting.default > 0
    assert backend.sender in {"worker", "work horse"}


def test_the_command_line_has_each_backend_s_workers_flag():
    from sandbox_app.cli import build_parser

    parser = build_parser()
    flags = {option for action in parser._actions for option in action.option_strings}
    assert {backend.workers_setting.flag for backend in BACKENDS.values()} <= flags
    assert {"--queue-workers", "--celery-workers", "--rq-workers"} <= flags  # the README's names stay


@pytest.mark.slow  # a worker process
def test_a_backend_s_work_runs_in_the_generic_worker_program(start_sandbox):
    """What a fourth backend would use: one process of programs.queue_worker calling its `work()` (RQ's here)."""
    need_redis()
    sandbox = start_sandbox(app_config={"RQ_WORKERS": 0})
    reply = http_post(sandbox, "send/rq", EMAIL)
    assert reply.status == 202 and sandbox.backend("rq").waiting() == 1
    backend = sandbox.backend("rq")
    (process,) = QueueBackend.make_processes(backend, 1, backend.worker_settings({}))  # the default, not RQ's own
    assert process.command[-1] == "sandbox_app.programs.queue_worker" and process.config[WORKER_COUNT] == 1
    with process:
        sandbox.mail_server.wait_for(1, timeout=20)
        eventually(lambda: sandbox.stats.snapshot()["rq"]["delivered"] == 1)  # counted by the seam in that process
        # The stop signal reaches the whole process group: let the work horse finish the job's bookkeeping first.
        eventually(lambda: backend.in_flight() == 0)
    assert process.returncode == 0, process.read_log()
