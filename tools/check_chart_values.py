"""Check INSTRUCTORS.md's Zero to JupyterHub values against the chart's own schema: `python -m tools.check_chart_values`.

Run by hand, where GitHub can be reached: it downloads the chart's values.schema.yaml and values.yaml at a pinned
commit of jupyterhub/zero-to-jupyterhub-k8s into build/chart/ (each checked by SHA-256), merges the guide's values
over the chart's defaults as Helm does, and validates them with jsonschema. Not part of `make test`: the chart's
files may not be committed here, and CI reaches no network beyond the package registries.
(tests/test_course_service_z2jh.py checks, offline, that the same values are what `hub_config.configure` sets.)
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import re
import sys
import urllib.request
from pathlib import Path

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "INSTRUCTORS.md"
SECTION = "#### Zero to JupyterHub (Kubernetes)"
# main after chart 4.4.0, with JupyterHub 5.5.0
COMMIT = "48ea50e34daddde55d76e30df6ecd47e4abd4d8e"
FILES = {
    "jupyterhub/values.schema.yaml": "2cedc7a009d6472ee97cff7d2aeeac3c323ac523c0535f1b4d16ca4d6b6acd1f",
    "jupyterhub/values.yaml": "e9fb4f193457a4b936d33bfe227ab7c0caa59f00c92c032c2ce82d804f960856",
}
URL = "https://raw.githubusercontent.com/jupyterhub/zero-to-jupyterhub-k8s/{commit}/{path}"


def guide_values() -> dict:
    """The values (config.yaml) the guide's Zero to JupyterHub section gives."""
    section = GUIDE.read_text().split(SECTION, 1)[1].split("\n#### ", 1)[0]
    (block,) = re.findall(r"```yaml\n(.*?)```", section, flags=re.S)
    return yaml.safe_load(block)


def merged(defaults, values):
    """values over defaults, as Helm merges a config.yaml over a chart's values.yaml: mappings key by key."""
    if isinstance(defaults, dict) and isinstance(values, dict):
        return {**defaults, **{key: merged(defaults.get(key), value) for key, value in values.items()}}
    return copy.deepcopy(values)


def chart_file(path: str, folder: Path) -> Path:
    """The chart's file at the pinned commit, downloaded once into `folder`; ValueError if its SHA-256 differs."""
    target = folder / Path(path).name
    if not target.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        with urllib.request.urlopen(URL.format(commit=COMMIT, path=path), timeout=30) as answer:
            target.write_bytes(answer.read())
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    if digest != FILES[path]:
        target.unlink()
        raise ValueError(f"{path} at {COMMIT[:8]} has SHA-256 {digest}, expected {FILES[path]}")
    return target


def schema_errors(schema: dict, values: dict) -> list[str]:
    """Each schema error as 'path: message'."""
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [f"{'.'.join(map(str, error.absolute_path))}: {error.message}" for error in validator.iter_errors(values)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, default=ROOT / "build" / "chart", help="where the chart's files go")
    args = parser.parse_args(argv)
    try:
        schema_path, defaults_path = (chart_file(path, args.folder) for path in FILES)
    except (OSError, ValueError) as error:
        print(f"error: could not get the chart's files: {error}", file=sys.stderr)
        return 2
    schema = yaml.safe_load(schema_path.read_text())
    defaults = yaml.safe_load(defaults_path.read_text())
    if found := schema_errors(schema, defaults):  # the schema read as the chart reads it: its own defaults pass
        print("error: the chart's own defaults do not validate:", *found, sep="\n  ", file=sys.stderr)
        return 2
    found = schema_errors(schema, merged(defaults, guide_values()))
    print(f"INSTRUCTORS.md's values against chart {COMMIT[:8]}'s schema:", "valid" if not found else "invalid")
    for error in found:
        print(f"  {error}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
