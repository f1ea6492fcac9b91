"""A Sphinx extension: ```mermaid blocks drawn in the reader's browser by a mermaid.js the site serves itself."""

from __future__ import annotations

import html
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import Directive

# The script, from npm's `mermaid` package (tools/site/build.py installs it): no request leaves the site.
SCRIPT = "mermaid.min.js"
START = "mermaid.initialize({startOnLoad: true, securityLevel: 'strict'});"


class MermaidDirective(Directive):
    """```mermaid (MyST turns the fence into this directive): the diagram's text, for mermaid.js to draw."""

    has_content = True

    def run(self) -> list[nodes.Node]:
        source = html.escape("\n".join(self.content))
        return [nodes.raw("", f'<pre class="mermaid">\n{source}\n</pre>', format="html")]


def add_script(app, pagename, templatename, context, doctree) -> None:
    """Load mermaid.js on the pages that have a diagram."""
    if doctree is not None and any('class="mermaid"' in node.astext() for node in doctree.findall(nodes.raw)):
        app.add_js_file(SCRIPT)
        app.add_js_file(None, body=START)


def setup(app) -> dict:
    """Register the directive and the script (its folder is `mermaid_js_dir` in conf.py)."""
    app.add_directive("mermaid", MermaidDirective)
    app.add_config_value("mermaid_js_dir", "", "html")
    app.connect("html-page-context", add_script)
    app.connect("builder-inited", lambda app: app.config.html_static_path.append(str(Path(app.config.mermaid_js_dir))))
    return {"parallel_read_safe": True, "parallel_write_safe": True}
