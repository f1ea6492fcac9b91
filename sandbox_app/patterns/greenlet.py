"""Flask's gevent recipe: the view spawns a greenlet that sends inside an app context, and answers at once."""

import gevent
from gevent import monkey

from ..mailer import mail


def send_in_greenlet(app, msg):
    """Run in the greenlet: like a thread, it has no app context of its own, so it pushes the app's."""
    with app.app_context():
        mail.send(msg)  # smtplib's socket yields to gevent's hub only because the worker monkey-patched socket


def send_email(app, msg):
    """Spawn the send and answer at once, as Flask's gevent page does with `gevent.spawn`."""
    gevent.spawn(send_in_greenlet, app, msg)
    return 202


def greenlets_run_here() -> bool:
    """Whether a spawned greenlet will ever run: only where the server monkey-patched socket (gunicorn -k gevent)."""
    # Elsewhere nothing yields to gevent's hub after the view returns, and the greenlet waits forever.
    return monkey.is_module_patched("socket")
