"""The threaded pattern: the request starts a Thread that sends inside its own app context."""

from threading import Thread

from ..mailer import mail


def send_async_email(app, msg):
    """Run in the new thread: `app` is the real app object, as `current_app` exists only in the request's thread."""
    with app.app_context():
        mail.send(msg)  # a failure here ends the thread: Python prints it to stderr, and the client never hears


def send_email(app, msg):
    """Hand the message to a background thread and answer at once."""
    Thread(target=send_async_email, args=(app, msg)).start()
    return 202
