"""The shape of sandbox_app and quiz: their import-linter layers hold; imports sit at the top, never through an __init__."""

import ast
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: tomllib's own ancestor, with the same API
    import tomli as tomllib

REPO_ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("sandbox_app", "quiz")

# Deliberate lazy imports: (file, module the statement names) -> why it waits for its function.
LAZY_IMPORTS = {
    ("sandbox_app/config.py", "pydantic"): "only a child process reads settings from JSON: not the kernel (40 ms)",
    ("sandbox_app/config.py", "flask"): "RQ's scheduler reads its settings without loading Flask",
    (
        "sandbox_app/config.py",
        "sqlalchemy.engine",
    ): "only a database URL given is checked: RQ's scheduler never loads SQLAlchemy",
    (
        "sandbox_app/config.py",
        "sqlalchemy.exc",
    ): "only a database URL given is checked: RQ's scheduler never loads SQLAlchemy",
    ("sandbox_app/lab/plots.py", "matplotlib.pyplot"): "pyplot takes about a second to import; most cells never plot",
    # A client process imports measuring.py (measure_outside, run_clients): 19 MB with these left out, 70 with them.
    ("sandbox_app/measuring.py", "sandbox_app.sandbox"): "the app and the mail server, only to name a stopped one",
    ("sandbox_app/measuring.py", "tqdm.auto"): "tqdm's notebook bar loads ipywidgets: only where a bar is drawn",
    ("sandbox_app/measuring.py", "tqdm.notebook"): "tqdm's notebook bar loads ipywidgets: only where a bar is drawn",
    ("quiz/__init__.py", "quiz"): "the widgets, checkpoints and report load on first use: `python -m quiz` needs none",
    ("quiz/kinds/single.py", "quiz.inputs"): "ipywidgets loads where an input is drawn, not for `python -m quiz`",
    ("quiz/kinds/multiple.py", "quiz.inputs"): "ipywidgets loads where an input is drawn, not for `python -m quiz`",
    ("quiz/kinds/numeric.py", "quiz.inputs"): "ipywidgets loads where an input is drawn, not for `python -m quiz`",
    (
        "quiz/report_render.py",
        "matplotlib.figure",
    ): "matplotlib loads for the HTML page's charts only, not the text table",
}
# Deliberate conditional imports at module level: (file, module) -> why it may be missing.
CONDITIONAL_IMPORTS = {
    ("quiz/answer_writer.py", "fcntl"): "POSIX only: on Windows, O_APPEND alone keeps each recorded line whole",
    ("quiz/answer_sender.py", "fcntl"): "POSIX only: on Windows, one kernel's own lock guards the unsent answers",
    ("quiz/service/__main__.py", "tornado.httpserver"): "JupyterHub's stack: without it, one line says to install it",
    ("quiz/service/__main__.py", "tornado.netutil"): "JupyterHub's stack: without it, one line says to install it",
    ("quiz/service/__main__.py", "quiz.service.app"): "JupyterHub's stack: without it, one line says to install it",
}
FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
IMPORTS = (ast.Import, ast.ImportFrom)


@dataclass(frozen=True)
class Module:
    """One file of the package: its path relative to the repo, its dotted package, its syntax tree."""

    path: str
    package: tuple[str, ...]
    tree: ast.Module


@dataclass(frozen=True)
class ImportStatement:
    """An import statement, the module its names come from, and the function it sits in (None at module level)."""

    node: ast.Import | ast.ImportFrom
    source: str | None  # `from source import ...`; None for `import a, b`
    function: ast.AST | None
    top_level: bool  # a statement of the module itself, or of its `if TYPE_CHECKING:` block

    def where(self, module: Module) -> str:
        return f"{module.path}:{self.node.lineno}"

    @property
    def named(self) -> list[str]:
        """The modules the statement names: `import a.b` names a.b, `from m import x` names m."""
        return [alias.name for alias in self.node.names] if self.source is None else [self.source]


@cache
def modules() -> tuple[Module, ...]:
    """Every Python file of the packages, parsed."""
    found = []
    for path in sorted(path for package in PACKAGES for path in (REPO_ROOT / package).rglob("*.py")):
        parts = path.relative_to(REPO_ROOT).with_suffix("").parts
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        found.append(Module(path.relative_to(REPO_ROOT).as_posix(), parts[:-1], tree))  # __init__ is its package's
    return tuple(found)


def resolve(node: ast.ImportFrom, package: tuple[str, ...]) -> str:
    """The absolute name of the module a `from ... import` reads from."""
    if not node.level:
        return node.module
    base = package[: len(package) - (node.level - 1)]
    return ".".join(base + ((node.module,) if node.module else ()))


def is_type_checking_block(node: ast.stmt) -> bool:
    """`if TYPE_CHECKING:` (or `typing.TYPE_CHECKING`) with only imports: annotations' imports, never run."""
    if not isinstance(node, ast.If) or node.orelse:
        return False
    test = node.test
    named = (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )
    return named and all(isinstance(child, IMPORTS) for child in node.body)


def import_statements(module: Module) -> Iterator[ImportStatement]:
    """Every import statement in the module, however deeply nested."""
    top = {id(node) for node in module.tree.body}
    top |= {id(child) for node in module.tree.body if is_type_checking_block(node) for child in node.body}

    def visit(node: ast.AST, function: ast.AST | None) -> Iterator[ImportStatement]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, IMPORTS):
                source = resolve(child, module.package) if isinstance(child, ast.ImportFrom) else None
                yield ImportStatement(child, source, function, id(child) in top)
            yield from visit(child, child if isinstance(child, FUNCTIONS) else function)

    yield from visit(module.tree, None)


def imports_in_functions(module: Module) -> Iterator[str]:
    """Imports inside a function or method that are not deliberate lazy imports."""
    for statement in import_statements(module):
        if statement.function is None or all((module.path, name) in LAZY_IMPORTS for name in statement.named):
            continue
        name = getattr(statement.function, "name", "lambda")
        yield (f"{statement.where(module)}: import of {', '.join(statement.named)} inside {name}(): move it to the "
               "top, or add it to LAZY_IMPORTS saying why it must wait")  # fmt: skip


def imports_in_module_level_blocks(module: Module) -> Iterator[str]:
    """Imports inside a module-level if/try/with/class (an `if TYPE_CHECKING:` block excepted): conditional imports."""
    for statement in import_statements(module):
        allowed = all((module.path, name) in CONDITIONAL_IMPORTS for name in statement.named)
        if statement.function is None and not statement.top_level and not allowed:
            yield f"{statement.where(module)}: import of {', '.join(statement.named)} inside a block: import at the top"


def imports_after_code(module: Module) -> Iterator[str]:
    """Module-level imports below the first statement that is neither an import nor the docstring."""
    body = module.tree.body
    first_code = next((node for node in body if not is_import_section(node, body)), None)
    if first_code is None:
        return
    for node in body[body.index(first_code) :]:
        if isinstance(node, IMPORTS) or is_type_checking_block(node):
            yield f"{module.path}:{node.lineno}: import below code (line {first_code.lineno}): move it up to the others"


def is_import_section(node: ast.stmt, body: list[ast.stmt]) -> bool:
    """Whether a top-level statement belongs above the code: the docstring, an import, an `if TYPE_CHECKING:` block."""
    docstring = node is body[0] and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
    return docstring or isinstance(node, IMPORTS) or is_type_checking_block(node)


def is_submodule(package: str, name: str) -> bool:
    """Whether package.name is a module or package of its own, rather than a name its __init__ defines."""
    folder = REPO_ROOT.joinpath(*package.split("."))
    return (folder / f"{name}.py").is_file() or (folder / name / "__init__.py").is_file()


def imports_through_own_init(module: Module) -> Iterator[str]:
    """Names taken from the __init__ of a package the module is inside: an import cycle waiting to happen."""
    ancestors = {".".join(module.package[:depth]) for depth in range(1, len(module.package) + 1)}
    for statement in import_statements(module):
        if statement.source is None:
            names = [alias.name for alias in statement.node.names if alias.name in ancestors]
        elif statement.source in ancestors:
            names = [f"{statement.source}.{alias.name}" for alias in statement.node.names
                     if not is_submodule(statement.source, alias.name)]  # fmt: skip
        else:
            names = []
        for name in names:
            yield (f"{statement.where(module)}: {name} comes through its own package's __init__: import it from "
                   "the module that defines it")  # fmt: skip


RULES = [imports_in_functions, imports_in_module_level_blocks, imports_after_code, imports_through_own_init]


def test_the_layers_contract_lists_every_module_and_package_of_sandbox_app():
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    (layers,) = [c["layers"] for c in pyproject["tool"]["importlinter"]["contracts"]
                 if c["type"] == "layers" and c["layers"][0].startswith("sandbox_app")]  # fmt: skip
    listed = {name.strip() for layer in layers for name in layer.replace(":", "|").split("|")}
    package = REPO_ROOT / "sandbox_app"
    present = {f"sandbox_app.{path.stem}" for path in package.glob("*.py") if path.stem != "__init__"}
    present |= {f"sandbox_app.{path.parent.name}" for path in package.glob("*/__init__.py")}
    assert present - listed == set(), "add these to the layers contract in pyproject.toml"
    assert listed - present == set(), "the layers contract names modules that are gone"


def test_the_import_linter_contracts_hold():
    lint_imports = Path(sys.executable).parent / "lint-imports"  # the venv's, which knows pyproject's contracts
    done = subprocess.run(
        [str(lint_imports), "--no-cache", "--no-logo"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.__name__)
def test_imports_sit_at_the_top_and_never_go_through_the_packages_init(rule):
    problems = [problem for module in modules() for problem in rule(module)]
    assert not problems, "\n".join(problems)


def test_every_allowed_lazy_import_is_still_there():
    lazy = {(module.path, name) for module in modules() for statement in import_statements(module)
            if statement.function is not None for name in statement.named}  # fmt: skip
    stale = sorted(set(LAZY_IMPORTS) - lazy)
    assert not stale, f"LAZY_IMPORTS lists imports the code no longer makes lazily: {stale}"
    conditional = {(module.path, name) for module in modules() for statement in import_statements(module)
                   if statement.function is None and not statement.top_level for name in statement.named}  # fmt: skip
    stale = sorted(set(CONDITIONAL_IMPORTS) - conditional)
    assert not stale, f"CONDITIONAL_IMPORTS lists imports the code no longer makes in a block: {stale}"


# The rules themselves, on small made-up modules: each finds its case and names the file and line.
CASES = {
    "def f():\n    import json\n": ("imports_in_functions", 2),
    "try:\n    import json\nexcept ImportError:\n    json = None\n": ("imports_in_module_level_blocks", 2),
    '"""Doc."""\nimport os\nX = 1\nimport json\n': ("imports_after_code", 4),
    "from . import helper_name\n": ("imports_through_own_init", 1),
    "from sandbox_app import start\n": ("imports_through_own_init", 1),
}


@pytest.mark.parametrize("source", CASES, ids=[rule for rule, _ in CASES.values()])
def test_each_rule_names_the_file_and_line_of_its_case(source):
    module = Module("sandbox_app/made_up.py", ("sandbox_app",), ast.parse(source))
    rule, line = CASES[source]
    found = {name: list(globals()[name](module)) for name in (r.__name__ for r in RULES)}
    assert [problem.split(": ")[0] for problem in found.pop(rule)] == [f"sandbox_app/made_up.py:{line}"]
    assert not any(found.values()), found


def test_allowed_forms_pass_every_rule():
    source = (
        '"""Doc."""\nfrom __future__ import annotations\nimport os\nfrom typing import TYPE_CHECKING\n'
        "from . import runner\nif TYPE_CHECKING:\n    import json\n__all__ = ['x']\nLIMIT = 3\n"
    )
    module = Module("sandbox_app/made_up.py", ("sandbox_app",), ast.parse(source))
    assert [problem for rule in RULES for problem in rule(module)] == []
