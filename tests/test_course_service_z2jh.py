"""INSTRUCTORS.md's Zero to JupyterHub values: what `hub_config.configure` sets, and the checker of their schema.

Validating them against the chart's own schema needs the chart's files, which may not be committed and which CI
cannot download: `python -m tools.check_chart_values` does it by hand. Here, offline: the values say what
`configure` sets, and the checker's validation refuses a misplaced or mistyped value of a schema shaped like the
chart's.
"""

from traitlets.config import Config

from quiz.service import hub_config
from tools.check_chart_values import guide_values, merged, schema_errors


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


def test_the_checker_refuses_a_misplaced_or_mistyped_value():
    # A schema shaped as the chart's where it matters here: hub.services, and singleuser.extraEnv as a mapping.
    schema = {
        "type": "object", "additionalProperties": False,
        "properties": {
            "hub": {"type": "object", "additionalProperties": False,
                    "properties": {key: {} for key in ("services", "loadRoles", "config")}},
            "singleuser": {"type": "object", "properties": {"extraEnv": {"type": "object"}}},
        },
    }  # fmt: skip
    assert schema_errors(schema, merged({"hub": {}}, guide_values())) == []
    values = guide_values()
    values["hub"]["service"] = values["hub"].pop("services")  # a typo: hub.service is the hub's Kubernetes Service
    values["singleuser"]["extraEnv"] = "QUIZ_SERVICE_URL=http://proxy-public/services/course/"
    found = schema_errors(schema, values)
    assert len(found) == 2, found
    assert any(error.startswith("hub: ") and "'service' was unexpected" in error for error in found), found
    assert any(error.startswith("singleuser.extraEnv: ") for error in found), found
