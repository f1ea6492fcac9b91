"""The hub's side of the course service: `configure(c, ...)` in jupyterhub_config.py (INSTRUCTORS.md shows it).

It defines the two custom scopes, grants the write scope to every user and the read scope to the
`instructors` group, gives learners' server tokens what the kernel needs, registers the service and
tells every learner's kernel where it is. Nothing here imports JupyterHub: it only fills in `c`.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

SERVICE_NAME = "course"
WRITE_SCOPE = "custom:course:answers:write"
READ_SCOPE = "custom:course:answers:read"
INSTRUCTORS_GROUP = "instructors"
INSTRUCTORS_ROLE = "course-instructors"
ACCESS_SCOPE = f"access:services!service={SERVICE_NAME}"
# Where the managed service listens (the proxy routes /services/course/ there) and where kernels reach it:
# through the hub's proxy (JupyterHub's default public address), never the service's own port.
DEFAULT_URL = "http://127.0.0.1:10101"
DEFAULT_KERNEL_URL = f"http://127.0.0.1:8000/services/{SERVICE_NAME}/"

CUSTOM_SCOPES = {
    WRITE_SCOPE: {"description": "Record your own quiz answers and checkpoints in the course service."},
    READ_SCOPE: {"description": "Read the whole class's quiz answers and checkpoints (the live class view)."},
}
# Spawner.server_token_scopes replaces the server token's defaults (the `server` role's two scopes): both are
# listed again, then what the kernel needs to reach the service and record. The token gets only the scopes its
# user holds.
SERVER_TOKEN_SCOPES = ["users:activity!user", "access:servers!server", ACCESS_SCOPE, WRITE_SCOPE]
# HubAuth requires access to the service itself, which users do not hold by default: the `user` role grants it.
USER_SCOPES = ["self", ACCESS_SCOPE, WRITE_SCOPE]


def configure(
    c: Any,
    *,
    data_dir: str,
    url: str = DEFAULT_URL,
    kernel_url: str = DEFAULT_KERNEL_URL,
    instructors: Iterable[str] = (),
    managed: bool = True,
    api_token: str | None = None,
    python: str = sys.executable,
) -> None:
    """Add the course service to a hub's config `c`: scopes, roles, the instructors group, the service, the kernels' URL.

    data_dir is the service's own folder (its SQLite database); url where it listens; kernel_url what learners'
    kernels are told (QUIZ_SERVICE_URL: the hub's public address + /services/course/); instructors the hub
    user names put in the `instructors` group. managed=False registers a service you run yourself beside the
    hub (`python -m quiz.service`), which then needs api_token, the same token in its JUPYTERHUB_API_TOKEN.
    """
    c.JupyterHub.custom_scopes = {**_value(c.JupyterHub, "custom_scopes", {}), **CUSTOM_SCOPES}
    service: dict[str, Any] = {
        "name": SERVICE_NAME,
        "url": url,
        "display": True,
        # Without it the instructor's browser (OAuth) token would not carry the read scope.
        "oauth_client_allowed_scopes": [READ_SCOPE],
    }
    if managed:
        service["command"] = [python, "-m", "quiz.service", "--data", str(data_dir)]
    if api_token:
        service["api_token"] = api_token
    elif not managed:
        raise ValueError("a service run beside the hub (managed=False) needs api_token")
    c.JupyterHub.services = [*_value(c.JupyterHub, "services", []), service]
    roles = [dict(role) for role in _value(c.JupyterHub, "load_roles", [])]
    _grant(roles, "user", USER_SCOPES, {})
    _grant(roles, INSTRUCTORS_ROLE, [READ_SCOPE, ACCESS_SCOPE], {"groups": [INSTRUCTORS_GROUP]})
    c.JupyterHub.load_roles = roles
    groups = dict(_value(c.JupyterHub, "load_groups", {}))
    members = groups.get(INSTRUCTORS_GROUP, {})
    members = {"users": list(members)} if isinstance(members, list) else dict(members)
    members["users"] = sorted({*members.get("users", []), *instructors})
    groups[INSTRUCTORS_GROUP] = members
    c.JupyterHub.load_groups = groups
    c.Spawner.server_token_scopes = SERVER_TOKEN_SCOPES
    c.Spawner.environment = {**_value(c.Spawner, "environment", {}), "QUIZ_SERVICE_URL": kernel_url}


def service_environment(hub_api_url: str, api_token: str, url: str = DEFAULT_URL, base_url: str = "/") -> dict:
    """The variables a service run beside the hub (managed=False) needs: what the hub gives a managed one."""
    prefix = f"{base_url.rstrip('/')}/services/{SERVICE_NAME}/"
    return {
        "JUPYTERHUB_SERVICE_NAME": SERVICE_NAME,
        "JUPYTERHUB_API_URL": hub_api_url,
        "JUPYTERHUB_API_TOKEN": api_token,
        "JUPYTERHUB_CLIENT_ID": f"service-{SERVICE_NAME}",
        "JUPYTERHUB_SERVICE_URL": url,
        "JUPYTERHUB_SERVICE_PREFIX": prefix,
        "JUPYTERHUB_BASE_URL": base_url,
        "JUPYTERHUB_OAUTH_CALLBACK_URL": f"{prefix}oauth_callback",
    }


def _value(section: Any, name: str, empty: Any) -> Any:
    """What the config already holds for section.name (empty when nothing was set yet)."""
    # traitlets' Config hands out a lazy placeholder for a name never set; only a name set is a real value.
    return section[name] if name in section and isinstance(section[name], type(empty)) else empty


def _grant(roles: list[dict], name: str, scopes: list[str], members: dict[str, list[str]]) -> None:
    """Add scopes (and members) to the role called name, creating it if the config has none."""
    role = next((role for role in roles if role.get("name") == name), None)
    if role is None:
        role = {"name": name, "scopes": []}
        roles.append(role)
    role["scopes"] = list(dict.fromkeys([*role.get("scopes", []), *scopes]))
    for kind, names in members.items():
        role[kind] = sorted({*role.get(kind, []), *names})
