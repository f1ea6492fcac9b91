"""The threaded pattern: the request starts a Thread that sends inside its own app context."""

from threading import Thread

from ..mailer.background import get_background
from ..mailer.connection import mail
from ..mailer.outcomes import counted


def send_async_email(app, msg):
    """Run in the new thread: `app` is the real app object, as `current_app` exists only in the request's thread."""
    with app.app_context():
        with counted("threaded", reraise=False):  # nobody waits on this thread: count and log failures
            mail.send(msg)


def send_email(app, msg):
    """Hand the message to a background thread and answer at once."""
    thread = Thread(target=send_async_email, args=(app, msg), name="mail-threaded")
    get_background(app).track(thread)  # the sandbox's stop() waits for it; a real app would too
    thread.start()
    return 202
