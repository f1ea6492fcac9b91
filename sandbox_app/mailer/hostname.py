"""This machine's name, looked up once, as Django caches DNS_NAME: Flask-Mail's Message() asks the resolver every time."""

from __future__ import annotations

import socket
from collections.abc import Callable
from email.utils import make_msgid
from functools import cache, partial

import flask_mail


@cache
def local_hostname() -> str:
    """The machine's fully qualified name, from the resolver, the first time only."""
    return socket.getfqdn()


def cache_message_ids() -> Callable[[], None]:
    """Make Flask-Mail's Message() draw each Message-ID with the name looked up once; returns what undoes it.

    Flask-Mail calls email.utils.make_msgid() in Message.__init__ with no domain, and make_msgid then asks
    socket.getfqdn(): a DNS lookup for every message. Setting msg.msgId afterwards is too late: the lookup
    has happened. So the fix replaces the make_msgid that flask_mail imported, at start-up.
    """
    original = flask_mail.make_msgid
    flask_mail.make_msgid = partial(make_msgid, domain=local_hostname())
    return lambda: setattr(flask_mail, "make_msgid", original)
