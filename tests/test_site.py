"""The course website: built offline with warnings as errors, its links resolve, no page gives an answer away,
the run links come and go with their settings, and Chromium opens every page (console, images, diagrams, axe)."""

import hashlib
import html
import importlib.util
import os
import re
import socket
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import yaml
from helpers import free_port, missing, start_on_free_port

from quiz import load_bank
from sandbox_app.processes.child import ChildProcess
from tools.site.build import TOOLS_DIR
from tools.site.pages import lesson_page
from tools.site.settings import ENVIRONMENT, SiteSettings

REPO = Path(__file__).resolve().parent.parent
MERMAID = TOOLS_DIR / "node_modules" / "mermaid" / "dist" / "mermaid.min.js"
AXE = REPO / "build" / "test-tools" / "node_modules" / "axe-core" / "axe.min.js"
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
WORKFLOW = REPO / ".github" / "workflows" / "site.yml"

pytestmark = pytest.mark.slow  # one build of the whole site (about 10 s), then Chromium on every page


def need_toolchain() -> None:
    """Skip (or fail) without the site's Python packages, or without mermaid.js (npm brings it)."""
    for module in ("sphinx", "myst_nb", "sphinx_book_theme"):
        if importlib.util.find_spec(module) is None:
            missing(f"{module} is not installed", "pip install -e '.[site]' (`make test` does)")
    if not MERMAID.is_file():  # `make test` ran tools/install_test_deps.sh first: npm could not fetch it
        missing("mermaid.js is not in build/site-tools", "`make test-deps` with npm and the npm registry reachable")


def digests(folder: Path) -> dict[str, str]:
    """The SHA-256 of every file under `folder`, by its path inside it."""
    return {
        path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="module")
def notebooks_before_the_build() -> dict[str, str]:
    """What notebooks/ held before the site was built: the build reads the committed notebooks, never writes them."""
    return digests(REPO / "notebooks")


@pytest.fixture(scope="module")
def site(tmp_path_factory, notebooks_before_the_build):
    """The website, built into a temporary folder with no run-this-lesson URL set."""
    need_toolchain()
    folder = tmp_path_factory.mktemp("site")
    env = {key: value for key, value in os.environ.items() if key not in ENVIRONMENT.values()}
    command = [sys.executable, "-m", "tools.site", "--out", folder / "site", "--work", folder / "work"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env, cwd=REPO)
    assert done.returncode == 0, f"the build failed or warned:\n{done.stdout}\n{done.stderr}"
    return folder / "site"


def pages(site: Path) -> list[Path]:
    """Every HTML page of the site (not the theme's template fragments in _static)."""
    return sorted(page for page in site.rglob("*.html") if not page.relative_to(site).parts[0].startswith("_"))


class Links(HTMLParser):
    """The ids a page defines and the local addresses it points to (links, images, scripts, styles)."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.targets: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        for name in ("href", "src"):
            value = attrs.get(name)
            if value and not urlsplit(value).scheme and not value.startswith(("//", "mailto:")):
                self.targets.append(value)


def parsed(page: Path) -> Links:
    """The page's ids and local addresses."""
    links = Links()
    links.feed(page.read_text(encoding="utf-8"))
    return links


def text_of(page: Path) -> str:
    """What a reader can read on a page: its text without tags, whitespace made single spaces."""
    markup = page.read_text(encoding="utf-8")
    markup = re.sub(r"<(script|style)\b.*?</\1>", " ", markup, flags=re.DOTALL)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", markup)).split())


def test_the_site_has_a_home_page_the_guide_and_every_lesson(site):
    lessons = sorted(p.stem for p in (REPO / "notebooks").glob("[0-9][0-9]-*.ipynb"))
    assert sorted(p.stem for p in (site / "lessons").glob("*.html")) == lessons
    home = text_of(site / "index.html")
    assert "make lab" in home and "The core track" in home and "The whole course" in home
    assert (site / "instructors.html").is_file()
    # Nothing beside the output folder (myst-nb writes beside Sphinx's own: into the work folder, not the repository).
    assert sorted(path.name for path in site.parent.iterdir()) == ["site", "work"]


def test_every_internal_link_and_anchor_resolves(site):
    broken = []
    for page in pages(site):
        for target in parsed(page).targets:
            parts = urlsplit(target)
            path = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if path.is_dir():
                path = path / "index.html"
            if not path.is_file():
                broken.append(f"{page.relative_to(site)} -> {target}")
            elif parts.fragment and path.suffix == ".html" and parts.fragment not in parsed(path).ids:
                broken.append(f"{page.relative_to(site)} -> {target} (no such anchor)")
    assert not broken, broken


def forbidden_texts() -> list[str]:
    """What would give a question away: every option's feedback and every explanation, in the bank."""
    bank = load_bank()
    items = [*bank.questions, *bank.lesson_questions, *bank.checkpoints]
    texts = [option.feedback for item in items for option in item.options if option.feedback]
    texts += [item.explanation for item in items if getattr(item, "explanation", None)]
    return [" ".join(text.split()) for text in texts]


def test_no_page_shows_an_answer_or_its_feedback(site):
    forbidden = forbidden_texts()
    assert len(forbidden) > 50  # the bank's feedback is there to look for
    for page in pages(site):
        shown = text_of(page)
        leaks = [text[:60] for text in forbidden if text[:80] in shown]
        assert not leaks, f"{page.relative_to(site)} shows {leaks}"
    quiz = text_of(site / "lessons" / "21-quiz.html")
    assert "Question 3." in quiz and "Answer it in the notebook" in quiz  # the questions are there, as text


def test_the_run_links_are_there_only_when_their_urls_are_set(site, tmp_path):
    notebook = REPO / "notebooks" / "02-blocking.ipynb"
    unset = lesson_page(notebook, SiteSettings()).cells[1].source
    assert "make lab" in unset and "git-pull" not in unset and "mybinder" not in unset
    settings = SiteSettings(repository_url="https://github.com/example/course", hub_url="https://hub.example.edu")
    links = lesson_page(notebook, settings).cells[1].source
    assert (
        "https://hub.example.edu/hub/user-redirect/git-pull?repo=https%3A%2F%2Fgithub.com%2Fexample%2Fcourse" in links
    )
    assert "https://mybinder.org/v2/gh/example/course/main?urlpath=lab%2Ftree%2Fnotebooks%2F02-blocking.ipynb" in links
    shown = text_of(site / "lessons" / "02-blocking.html")
    assert "Run this lesson" in shown and "git-pull" not in shown and "mybinder" not in shown
    settings_file = tmp_path / "site.yaml"
    settings_file.write_text("repository_url: https://gitlab.example/course\nhub_url: ''\n")
    from_file = SiteSettings.load(settings_file, environ={"SITE_HUB_URL": "https://hub.example.edu/"})
    assert from_file.hub_url == "https://hub.example.edu" and from_file.binder_link("x.ipynb") is None


def test_the_published_notebooks_carry_no_widget_state(site, notebooks_before_the_build):
    sources = sorted((site / "_sources" / "lessons").glob("*.ipynb*"))
    lessons = sorted((REPO / "notebooks").glob("[0-9][0-9]-*.ipynb"))
    assert len(sources) == len(lessons) > 0, [source.name for source in sources]  # an empty glob checks nothing
    for source in sources:
        assert "application/vnd.jupyter.widget-state+json" not in source.read_text(encoding="utf-8"), source.name
    # While the committed ones are untouched, every file of notebooks/ byte for byte.
    assert any(name.endswith(".ipynb") for name in notebooks_before_the_build)
    assert digests(REPO / "notebooks") == notebooks_before_the_build


def test_the_publishing_workflow_builds_with_make_site_and_uploads_the_folder():
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    steps = [step for job in workflow["jobs"].values() for step in job.get("steps", [])]
    assert any(step.get("run", "").strip() == "make site" for step in steps)
    uploads = [step for step in steps if step.get("uses", "").startswith("actions/upload-pages-artifact")]
    assert uploads and uploads[0]["with"]["path"] == "site"
    assert any(step.get("uses", "").startswith("actions/deploy-pages") for step in steps)
    triggers = workflow[True] if True in workflow else workflow["on"]  # YAML 1.1 reads a bare `on` as True
    assert "push" in triggers


class StaticServer(ChildProcess):
    """The site served as a static host would: `python -m http.server` on a free loopback port."""

    def __init__(self, folder: Path, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        command = [sys.executable, "-m", "http.server", self.port, "--bind", "127.0.0.1", "--directory", folder]
        super().__init__(command, log, what="the site's web server", ready=self._answers)

    def _answers(self) -> bool:
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", self.port)) == 0


@pytest.mark.browser
def test_chromium_opens_every_page_without_errors_and_axe_finds_nothing(site, chromium, tmp_path):
    if not AXE.is_file():
        missing("axe-core is not in build/test-tools", "install npm, then `make test-deps`")
    with start_on_free_port(lambda: StaticServer(site, tmp_path / "server.log"), "address already in use") as server:
        context = chromium.new_context(viewport={"width": 1280, "height": 900})
        outside: list[str] = []
        context.route(
            re.compile(r"^(?!http://127\.0\.0\.1:).*"),
            lambda route: (outside.append(route.request.url), route.abort()),
        )
        problems = {}
        try:
            for page_path in pages(site):
                name = str(page_path.relative_to(site))
                page = context.new_page()
                errors: list[str] = []
                page.on(
                    "console", lambda message, errors=errors: message.type == "error" and errors.append(message.text)
                )
                page.on("pageerror", lambda error, errors=errors: errors.append(str(error)))
                page.goto(server.url + name, wait_until="load")
                diagrams = page.locator("pre.mermaid").count()
                if diagrams:
                    page.wait_for_function(
                        "n => document.querySelectorAll('pre.mermaid svg').length === n", arg=diagrams, timeout=20000
                    )
                broken_images = page.evaluate(
                    "[...document.images].filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)"
                )
                page.add_script_tag(path=str(AXE))
                violations = page.evaluate(
                    "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})"
                    ".then(r => r.violations.map(v => v.id + ': ' + v.nodes.length))",
                    WCAG,
                )
                if errors or broken_images or violations:
                    problems[name] = {"console": errors, "images": broken_images, "axe": violations}
                if name == "lessons/02-blocking.html":
                    page.screenshot(path=str(tmp_path / "02-blocking.png"), full_page=False)
                page.close()
        finally:
            context.close()
    assert not outside, f"requests left the site: {sorted(set(outside))[:5]}"
    assert not problems, problems
