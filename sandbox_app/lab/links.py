"""Links a learner's browser can open: straight to the app, or through JupyterHub's proxy on a hub."""

from __future__ import annotations

import html
from dataclasses import dataclass

from ..addresses import key_link
from ..sandbox import Sandbox
from .sandbox import running_sandbox


@dataclass
class Link:
    """A link the learner's browser can open (through JupyterHub's proxy on a hub)."""

    url: str
    text: str

    def _repr_html_(self) -> str:
        return f'<a href="{html.escape(self.url)}" target="_blank" rel="noopener">{html.escape(self.text)}</a>'

    def __repr__(self) -> str:
        return f"{self.text}: {self.url}"


def link(sandbox: Sandbox, path: str = "", text: str | None = None) -> Link:
    """A clickable link to a page of the sandbox, e.g. link(sandbox, "inbox")."""
    sandbox = running_sandbox(sandbox)
    path = path.lstrip("/")
    # The key rides along once: the app trades it for a cookie and drops it from the address bar.
    return Link(key_link(sandbox, path), text or f"Open /{path} in a new tab")
