"""The browser pages: a send form per pattern with timings, and the captured inbox."""

from flask import Blueprint, render_template

from ..patterns import PATTERNS
from .mail_server import get_mail_server

bp = Blueprint("pages", __name__)


@bp.get("/")
def index():
    """Send with each pattern from the browser and see how long the response took."""
    return render_template("index.html", patterns=list(PATTERNS))


@bp.get("/inbox")
def inbox():
    """The captured mail, newest first."""
    server = get_mail_server()
    messages = list(reversed(server.messages)) if server else []
    return render_template("inbox.html", messages=messages, server=server)
