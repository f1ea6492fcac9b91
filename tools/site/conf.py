"""Sphinx's configuration for the course website (`python -m tools.site` passes it with -c)."""

import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT))  # for tools.site.mermaid

project = "Flask-Mail performance"
author = "the course's authors"
extensions = ["myst_nb", "tools.site.mermaid"]
exclude_patterns = ["_build"]

# The notebooks are committed with their outputs: those are the measurements. Never run them here.
nb_execution_mode = "off"
myst_fence_as_directive = ["mermaid"]
myst_heading_anchors = 3  # a link to a section of a page resolves, and is checked
nb_output_stderr = "remove"  # a kernel's warnings on stderr are not the lesson
nb_merge_streams = True
suppress_warnings = ["mystnb.unknown_mime_type"]

html_theme = "sphinx_book_theme"
templates_path = [str(Path(__file__).with_name("templates"))]  # the theme's search button, fixed (see there)
html_context = {"default_mode": "auto"}  # unset, the theme logs "invalid theme mode" as a console error
html_title = project
html_static_path = [str(Path(__file__).with_name("static"))]
html_css_files = ["site.css"]
html_theme_options = {
    "use_download_button": False,  # it would offer the site's copy, without its widgets
    "use_fullscreen_button": False,
    "show_toc_level": 2,
}
html_show_sourcelink = False
html_last_updated_fmt = None
mermaid_js_dir = os.environ.get("SITE_MERMAID_DIR", "")
