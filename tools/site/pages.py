"""The website's source pages, written from the course: the home page, each lesson, the instructor guide."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat

from tools.course import NOTEBOOKS_DIR, REPO_ROOT
from tools.schedule import course_times, track_minutes

from .questions import for_the_site
from .settings import SiteSettings

HOME = "index.md"
GUIDE_PAGE = "instructors.md"


def run_links(notebook: str, settings: SiteSettings) -> str:
    """The "Run this lesson" box of a lesson page: locally, on the class's JupyterHub, on Binder (when set)."""
    lines = [
        "```{admonition} Run this lesson",
        f"- **On your machine:** `make lab` in a clone of the course, then open `notebooks/{notebook}`.",
    ]
    hub = settings.hub_link(notebook)
    if hub:
        lines.append(f"- **On the class's JupyterHub:** [open it there]({hub}) (the hub fetches the course for you).")
    binder = settings.binder_link(notebook)
    if binder:
        lines.append(
            f"- **On Binder, with nothing to install:** [launch it]({binder}) (it takes a few minutes to start)."
        )
    return "\n".join([*lines, "```"])


def lesson_page(notebook: Path, settings: SiteSettings) -> nbformat.NotebookNode:
    """A lesson as the site shows it: the committed outputs, quiz cells as text, the run links after the header."""
    nb = for_the_site(nbformat.read(notebook, as_version=4))
    nb.cells.insert(1, nbformat.v4.new_markdown_cell(run_links(notebook.name, settings)))
    return nb


def home_page() -> str:
    """What the course is, the two commands, the two tracks with their minutes, and every lesson."""
    times = course_times()
    tracks = track_minutes(times)
    core = [t for t in times if t.core]
    rows = "\n".join(
        f"| [{t.title}](lessons/{t.path.stem}.ipynb) | {t.claimed} | {t.core_minutes or '–'} |" for t in times
    )
    return f"""# Flask-Mail performance: measure it yourself

An interactive course on sending mail from a Flask app without making users wait. Each lesson
runs against a sandbox app that sends real mail with Flask-Mail to a bundled debug mail server,
measures what a user waits for, and asks you to predict a number before you measure it. The
pages below show every lesson with the outputs it measured; run a lesson to measure them yourself.

## Two commands

```bash
make lab    # installs the course in .venv and opens JupyterLab on notebooks/
make test   # runs the course's whole test suite
```

## Two tracks

- **The core track**, {tracks["core"]} minutes: the page the course grew from, measured. It takes
  {len(core)} lessons, some of them in part: {", ".join(t.title for t in core)}.
- **The whole course**, {tracks["whole"]} minutes: the core track, and the production track after it
  (server models, a pool, durable queues, failures, Celery and RQ, testing, production settings).

| lesson | minutes | core track |
| --- | ---: | ---: |
{rows}

Minutes come from the course's time model (reading speed, time per code cell, prediction,
question and exercise): see the [instructor guide]({GUIDE_PAGE.removesuffix(".md")}).

```{{toctree}}
:hidden:
:caption: Lessons

{chr(10).join(f"lessons/{t.path.stem}" for t in times)}
```

```{{toctree}}
:hidden:
:caption: Teaching

{GUIDE_PAGE.removesuffix(".md")}
```
"""


def write_sources(folder: Path, settings: SiteSettings) -> list[Path]:
    """Write every page's source into `folder` (emptied first); the lesson notebooks written."""
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "lessons").mkdir(parents=True)
    (folder / HOME).write_text(home_page(), encoding="utf-8")
    shutil.copyfile(REPO_ROOT / "INSTRUCTORS.md", folder / GUIDE_PAGE)
    written = []
    for notebook in sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]-*.ipynb")):
        target = folder / "lessons" / notebook.name
        nbformat.write(lesson_page(notebook, settings), target)
        written.append(target)
    return written
