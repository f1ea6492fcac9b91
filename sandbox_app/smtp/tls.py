"""A certificate for the debug mail server's STARTTLS: made at first use by a throwaway CA, for 127.0.0.1 only."""

from __future__ import annotations

import ssl

import trustme

LOOPBACK_NAMES = ("127.0.0.1", "localhost")


class SelfSignedTLS:
    """A certificate authority of the sandbox's own, a certificate it issued, and the contexts that use them.

    Nothing outside this process trusts the authority: a client that checks certificates refuses the
    server unless it is given `client_context`, and one that checks nothing (Flask-Mail's STARTTLS) does not notice.
    """

    def __init__(self) -> None:
        self.authority = trustme.CA()
        certificate = self.authority.issue_cert(*LOOPBACK_NAMES)
        self.server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        certificate.configure_cert(self.server_context)

    @property
    def client_context(self) -> ssl.SSLContext:
        """A client context that checks the server's certificate against this authority (and its name)."""
        context = ssl.create_default_context()
        self.authority.configure_trust(context)
        return context
