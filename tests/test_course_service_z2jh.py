"""INSTRUCTORS.md's Zero to JupyterHub values: what `hub_config.configure` sets, and valid by the chart's own schema.

The chart's files (values.schema.yaml, values.yaml and its LICENSE) are not in the repository: `make test-deps`
downloads them from jupyterhub/zero-to-jupyterhub-k8s at a pinned commit into build/test-tools/zero-to-jupyterhub/,
checking each file's SHA-256 (tools/install_test_deps.sh), as it brings axe-core.
"""

import copy
import re
from pathlib import Path

import jsonschema
import pytest
import yaml
from helpers import missing
from traitlets.config import Config

from quiz.service import hub_config

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "INSTRUCTORS.md"
CHART = ROOT / "build" / "test-tools" / "zero-to-jupyterhub"
SECTION = "#### Zero to JupyterHub (Kubernetes)"


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


def errors(validator, values) -> list[str]:
    """Each schema error as 'path: message'."""
    return [f"{'.'.join(map(str, error.absolute_path))}: {error.message}" for error in validator.iter_errors(values)]


@pytest.fixture(scope="module")
def chart():
    """The chart's schema (a validator) and its default values, as `make test-deps` downloaded them."""
    if not all((CHART / name).is_file() for name in ("values.schema.yaml", "values.yaml", "LICENSE")):
        missing("the Zero to JupyterHub chart's schema is not in build/test-tools", "make test-deps downloads it")
    schema = yaml.safe_load((CHART / "values.schema.yaml").read_text())
    validator = jsonschema.validators.validator_for(schema)(schema)
    return validator, yaml.safe_load((CHART / "values.yaml").read_text())


def test_the_guides_values_say_what_configure_sets():
    values = guide_values()
    hub = values["hub"]
    (name,) = hub["services"]
    written = hub["services"][name]
    c = Config()
    hub_config.configure(
        c, data_dir="/srv/course-service", url=written["url"], kernel_url=values["singleuser"]["extraEnv"]["QUIZ_SERVICE_URL"],
        instructors=["your-hub-name"], managed=False, api_token=written["apiToken"],
    )  # fmt: skip
    (service,) = c.JupyterHub.services
    assert name == service["name"] == hub_config.SERVICE_NAME
    assert "command" not in written  # a Deployment of its own, registered by URL with its token
    assert written["oauth_client_allowed_scopes"] == service["oauth_client_allowed_scopes"]
    roles = {role["name"]: {k: v for k, v in role.items() if k != "name"} for role in c.JupyterHub.load_roles}
    assert hub["loadRoles"] == roles
    assert hub["config"]["JupyterHub"]["custom_scopes"] == c.JupyterHub.custom_scopes
    assert hub["config"]["JupyterHub"]["load_groups"] == c.JupyterHub.load_groups
    assert hub["config"]["Spawner"]["server_token_scopes"] == c.Spawner.server_token_scopes
    # Kernels reach the service through the chart's proxy (its Service proxy-public), never the service's own port.
    assert values["singleuser"]["extraEnv"] == {"QUIZ_SERVICE_URL": "http://proxy-public/services/course/"}


def test_the_guides_values_are_valid_for_the_chart(chart):
    validator, defaults = chart
    assert errors(validator, defaults) == []  # the chart's own defaults: the schema is read as the chart reads it
    assert errors(validator, merged(defaults, guide_values())) == []


def test_the_chart_schema_refuses_a_misplaced_or_mistyped_value(chart):
    validator, defaults = chart
    values = guide_values()
    values["hub"]["service"] = values["hub"].pop("services")  # a typo: hub.service is the hub's Kubernetes Service
    values["singleuser"]["extraEnv"] = "QUIZ_SERVICE_URL=http://proxy-public/services/course/"
    found = errors(validator, merged(defaults, values))
    assert len(found) == 2, found
    assert any(error.startswith("hub.service: ") and "'course' was unexpected" in error for error in found), found
    assert any(error.startswith("singleuser.extraEnv: ") for error in found), found
