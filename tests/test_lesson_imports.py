"""Every name a lesson takes from sandbox_app is one an editor's go-to-definition reaches (jedi, as JupyterLab's LSP)."""

from __future__ import annotations

import ast
import inspect
import os
import tempfile
from importlib import import_module
from pathlib import Path

import jedi
import pytest

from tools.course import REPO_ROOT, lesson_paths, notebook_from_lesson

PACKAGE = REPO_ROOT / "sandbox_app"
# jedi caches what it parsed under ~/.cache/jedi unless told otherwise: the session's own folder, never the home.
jedi.settings.cache_directory = str(Path(os.environ.get("XDG_CACHE_HOME") or tempfile.gettempdir()) / "jedi")


def lesson_code(lesson: Path) -> str:
    """The lesson's code cells as one script, in order (IPython's `!` and `%` lines blanked: not Python)."""
    cells = [cell.source for cell in notebook_from_lesson(lesson).cells if cell.cell_type == "code"]
    lines = "\n\n".join(cells).splitlines()
    return "\n".join("" if line.lstrip().startswith(("!", "%")) else line for line in lines) + "\n"


def lesson_names(code: str) -> list[tuple[str, str, int, int]]:
    """(module, name, line, column) of each `from sandbox_app... import name` and `sandbox_app.name` in the code."""
    found = []
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "sandbox_app":
            found += [(node.module, alias.name, alias.lineno, alias.col_offset) for alias in node.names]
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "sandbox_app":
            found.append(("sandbox_app", node.attr, node.end_lineno, node.end_col_offset - len(node.attr)))
    return found


CASES = [
    pytest.param(lesson, module, name, line, column, id=f"{lesson.stem}:{line}:{name}")
    for lesson in lesson_paths()
    for module, name, line, column in sorted(
        set(lesson_names(lesson_code(lesson))), key=lambda case: case[2:] + case[:2]
    )
]


def test_the_lessons_import_names_from_sandbox_app():
    names = {name for _, _, name, _, _ in (case.values for case in CASES)}
    assert {"measure_send", "show_source", "status", "start"} <= names, "the lessons' imports were not found"


@pytest.mark.slow  # jedi resolves some 600 names, 15 ms each: left out of the fast tier's 45 s
@pytest.mark.parametrize(("lesson", "module", "name", "line", "column"), CASES)
def test_go_to_definition_reaches_the_module_that_defines_each_name(lesson, module, name, line, column):
    script = jedi.Script(lesson_code(lesson), path=REPO_ROOT / "notebooks" / f"{lesson.stem}.py",
                         project=jedi.Project(REPO_ROOT))  # fmt: skip
    definitions = script.goto(line, column, follow_imports=True)
    assert definitions, f"go-to-definition on {name} (from {module}) finds nothing"
    (definition,) = {(d.module_path, d.line, d.type) for d in definitions}
    path, found_line, kind = definition
    assert path is not None and Path(path).is_relative_to(PACKAGE), f"{name} leads to {path}, outside sandbox_app"
    package = import_module(module)
    obj = getattr(package, name) if hasattr(package, name) else import_module(f"{module}.{name}")  # a submodule
    if inspect.ismodule(obj):
        assert kind == "module" and Path(path) == Path(obj.__file__)
        return
    source_line = Path(path).read_text(encoding="utf-8").splitlines()[found_line - 1].lstrip()
    assert not source_line.startswith(("from ", "import ")), f"{name} stops at an import: {path}:{found_line}"
    if inspect.isclass(obj) or inspect.isfunction(obj):
        # Where Python itself says the object was written: the module that defines it, not one that imports it.
        assert Path(path) == Path(inspect.getsourcefile(inspect.unwrap(obj))).resolve()
        assert source_line.startswith(("def ", "class ", "@")) or f"{name}" in source_line
    else:
        assert source_line.startswith(f"{name}") or f" {name}" in source_line, f"{path}:{found_line}: {source_line}"
