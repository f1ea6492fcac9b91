"""The page's threaded example as the page has it (only `app` and `msg` come in as arguments): nothing counts a failure."""

from threading import Thread

from ..mailer.connection import mail


def send_async_email(app, msg):
    with app.app_context():
        mail.send(msg)


def send_email(app, msg):
    Thread(target=send_async_email, args=(app, msg)).start()
    return "Email sending started!"
