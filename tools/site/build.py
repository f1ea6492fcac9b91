"""Build the website: `python -m tools.site [--out FOLDER]`, offline, from the committed notebooks."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from sphinx.cmd.build import build_main

from tools.course import REPO_ROOT

from .mermaid import SCRIPT
from .pages import write_sources
from .settings import SiteSettings

SITE_DIR = REPO_ROOT / "site"  # what `make site` writes, named in the README
WORK_DIR = REPO_ROOT / "build" / "site"  # the pages' sources and the build's cache
TOOLS_DIR = REPO_ROOT / "build" / "site-tools"  # npm's mermaid, installed once from the registry
MERMAID_VERSION = "11"


def mermaid_script(tools: Path = TOOLS_DIR) -> Path:
    """mermaid.min.js from npm's package, installed into `tools` the first time (the only download)."""
    script = tools / "node_modules" / "mermaid" / "dist" / SCRIPT
    if not script.is_file():
        npm = shutil.which("npm")
        if npm is None:
            sys.exit("error: the website draws its diagrams with mermaid.js from npm: install Node.js and npm")
        subprocess.run([npm, "install", "--prefix", str(tools), "--no-save", "--no-audit", "--no-fund",
                        f"mermaid@{MERMAID_VERSION}"], check=True)  # fmt: skip
    return script


def build(out: Path = SITE_DIR, settings: SiteSettings | None = None, work: Path = WORK_DIR) -> int:
    """Write the sources into `work` and run Sphinx on them, warnings as errors; Sphinx's exit code."""
    settings = settings or SiteSettings.load()
    static = work / "mermaid"
    static.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(mermaid_script(), static / SCRIPT)
    os.environ["SITE_MERMAID_DIR"] = str(static)
    sources = work / "src"
    write_sources(sources, settings)
    # Sphinx writes into the work folder and the finished site is copied out: myst-nb puts its files
    # (jupyter_execute/) beside Sphinx's output folder, which must not be the repository's root.
    html = work / "html"
    shutil.rmtree(html, ignore_errors=True)
    conf = Path(__file__).parent
    code = build_main(["-b", "html", "-W", "--keep-going", "-q", "-c", str(conf), "-d", str(work / "doctrees"),
                       str(sources), str(html)])  # fmt: skip
    shutil.rmtree(out, ignore_errors=True)
    if code == 0:
        shutil.copytree(html, out)
    return code


def main(argv: list[str] | None = None) -> int:
    """Build the site and say where it is."""
    parser = argparse.ArgumentParser(prog="python -m tools.site", description=__doc__)
    parser.add_argument("--out", type=Path, default=SITE_DIR, help=f"the folder to write (default {SITE_DIR.name}/)")
    parser.add_argument("--work", type=Path, default=WORK_DIR, help="where the pages' sources and cache go")
    args = parser.parse_args(argv)
    started = time.monotonic()
    code = build(args.out.resolve(), work=args.work.resolve())
    if code == 0:
        print(f"site built in {time.monotonic() - started:.0f} s: open {args.out / 'index.html'}")
    return code
