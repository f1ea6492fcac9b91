"""The threaded pattern: the request starts a Thread that sends inside its own app context."""

from threading import Thread

from ..mailer import counted, mail


def send_async_email(app, msg):
    """Run in the new thread: `app` is the real app object, as `current_app` exists only in the request's thread."""
    with app.app_context():
        with counted("threaded", reraise=False):  # nobody waits on this thread: count and log failures
            mail.send(msg)


def send_email(app, msg):
    """Hand the message to a background thread and answer at once."""
    Thread(target=send_async_email, args=(app, msg), name="mail-threaded").start()
    return 202
