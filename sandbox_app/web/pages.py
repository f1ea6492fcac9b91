"""The browser pages: a send form per pattern with timings, and the captured inbox."""

from flask import Blueprint, render_template

from ..patterns import PATTERNS
from .mail_server import get_mail_server

bp = Blueprint("pages", __name__)


@bp.get("/")
def index():
    """Send with each pattern from the browser and see how long the response took."""
    return render_template("index.html", patterns=list(PATTERNS))


INBOX_PAGE_SIZE = 100  # a page of thousands of rows would be slow to render and to read


@bp.get("/inbox")
def inbox():
    """The newest captured mail (at most INBOX_PAGE_SIZE), newest first, and how many were captured in all."""
    server = get_mail_server()
    messages = server.newest(INBOX_PAGE_SIZE) if server else []
    total = max(server.total if server else 0, len(messages))  # a clear() between the two reads lowers the total
    return render_template("inbox.html", messages=messages, total=total, server=server)
