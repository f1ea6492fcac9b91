"""The website's settings: where the course's repository and the class's JupyterHub are, from site.yaml or the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlencode

import yaml

SETTINGS_FILE = Path(__file__).with_name("site.yaml")
ENVIRONMENT = {"repository_url": "SITE_REPOSITORY_URL", "branch": "SITE_BRANCH", "hub_url": "SITE_HUB_URL"}


@dataclass(frozen=True)
class SiteSettings:
    """The URLs the "Run this lesson" links are made of; an empty one leaves its link out."""

    repository_url: str = ""
    branch: str = "main"
    hub_url: str = ""

    @classmethod
    def load(cls, path: Path = SETTINGS_FILE, environ=None) -> SiteSettings:
        """The settings in `path`, each overridden by its environment variable when that is set."""
        environ = os.environ if environ is None else environ
        values = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for key, variable in ENVIRONMENT.items():
            if environ.get(variable) is not None:
                values[key] = environ[variable]
        return cls(**{key: str(values.get(key) or "").strip().rstrip("/") for key in ENVIRONMENT})

    @property
    def repository_name(self) -> str:
        """The repository's folder name once cloned: the last part of its URL."""
        return self.repository_url.rsplit("/", 1)[-1].removesuffix(".git")

    def hub_link(self, notebook: str) -> str | None:
        """An nbgitpuller link: the hub clones (or updates) the repository for the learner and opens the notebook."""
        if not (self.hub_url and self.repository_url):
            return None
        query = urlencode({
            "repo": self.repository_url, "branch": self.branch,
            "urlpath": f"lab/tree/{self.repository_name}/notebooks/{notebook}",
        })  # fmt: skip
        return f"{self.hub_url}/hub/user-redirect/git-pull?{query}"

    def binder_link(self, notebook: str) -> str | None:
        """A mybinder.org link to the notebook, for a repository on GitHub (Binder builds from environment.yml)."""
        prefix = "https://github.com/"
        if not self.repository_url.startswith(prefix):
            return None
        owner_repo = self.repository_url.removeprefix(prefix).removesuffix(".git")
        urlpath = quote(f"lab/tree/notebooks/{notebook}", safe="")
        return f"https://mybinder.org/v2/gh/{owner_repo}/{quote(self.branch, safe='')}?urlpath={urlpath}"
