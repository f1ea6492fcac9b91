"""The seam beneath Flask-Mail: it counts and clocks tagged sends, whatever the pattern, with real SMTP."""

import pickle
import smtplib
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from helpers import EMAIL

from sandbox_app.mailer import mail
from sandbox_app.mailer.background import get_background
from sandbox_app.mailer.seam import tag, tag_of
from sandbox_app.mailer.stats import get_stats
from sandbox_app.web.compose import EmailRequest


def message(app):
    """One message as the route builds it (its sender is the app's default)."""
    with app.app_context():
        return EmailRequest(EMAIL["to"], EMAIL["subject"], EMAIL["body"]).to_message()


def test_a_tagged_send_is_counted_and_an_untagged_one_is_not(app, mail_server):
    with app.app_context():
        mail.send(tag(message(app), "blocking"))
        mail.send(message(app))  # a lesson's own experiment: sent, not counted
    assert len(mail_server.messages) == 2
    assert get_stats(app).snapshot()["blocking"]["delivered"] == 1


def test_a_refused_connection_is_counted_as_failed_for_the_tagged_pattern(app, mail_server):
    mail_server.stop()
    with app.app_context(), pytest.raises(ConnectionRefusedError):
        mail.send(tag(message(app), "threaded"))  # raised inside Flask-Mail's connect, before any message
    counters = get_stats(app).snapshot()["threaded"]
    assert (counters["delivered"], counters["failed"]) == (0, 1)
    assert counters["last_error"].startswith("ConnectionRefusedError")


def test_a_queue_counts_its_own_failures_and_the_seam_only_its_delivery(app, mail_server):
    mail_server.configure(faults={"DATA": {"code": 451, "message": "Try again later"}})
    with app.app_context():
        with pytest.raises(smtplib.SMTPDataError):
            mail.send(tag(message(app), "queue", queued=True))
        mail_server.configure(faults={})
        mail.send(tag(message(app), "queue", queued=True))
    counters = get_stats(app).snapshot()["queue"]
    assert (counters["delivered"], counters["failed"], counters["retried"]) == (1, 0, 0)


def test_a_tag_stays_in_its_process_a_pickled_copy_has_none(app):
    msg = tag(message(app), "queue")
    assert tag_of(msg).pattern == "queue"
    assert tag_of(pickle.loads(pickle.dumps(msg))) is None


def test_stopping_the_app_waits_for_a_thread_still_holding_its_mail(app, client, mail_server):
    mail_server.configure(delay=0.3)
    assert client.post("/send/threaded", json=EMAIL).status_code == 202
    get_background(app).finish(timeout=5)  # no list of threads: the seam knows the mail is not sent yet
    assert get_stats(app).snapshot()["threaded"]["delivered"] == 1


def test_stopping_the_app_does_not_wait_for_mail_a_view_dropped(app, client, mail_server):
    mail_server.configure(delay=0.3)
    # Each request in a thread of its own, as a server's worker thread takes it: asgiref refuses to run an async
    # view in a thread where an event loop is marked running, which another test in this process may have left.
    with ThreadPoolExecutor(1) as requests:
        statuses = [
            requests.submit(client.post, "/send/async-nowait", json=EMAIL).result().status_code for _ in range(3)
        ]
    assert statuses == [202, 202, 202]
    started = time.monotonic()
    get_background(app).finish(timeout=5)
    assert time.monotonic() - started < 1  # the dropped tasks' mail no longer exists: nothing to wait for
    assert get_stats(app).snapshot()["async-nowait"]["accepted"] == 3


def test_the_counters_are_one_file_that_another_app_of_the_sandbox_counts_into(app, make_app, mail_server):
    worker_app = make_app({"STATS_PATH": app.config["STATS_PATH"]})  # as a queue worker's app is built
    get_stats(worker_app).delivered("rq")
    assert get_stats(app).snapshot()["rq"]["delivered"] == 1
    get_stats(app).reset()
    assert get_stats(worker_app).snapshot()["rq"]["delivered"] == 0


def test_a_send_flask_mail_skipped_is_not_counted_as_delivered(make_app, mail_server):
    # Flask-Mail's email_dispatched fires here too, which is why the seam does not listen to it.
    suppressed = make_app({"MAIL_SUPPRESS_SEND": True})
    with suppressed.app_context():
        mail.send(tag(message(suppressed), "blocking"))
    assert mail_server.messages == []
    assert get_stats(suppressed).snapshot()["blocking"]["delivered"] == 0


def test_a_queue_workers_app_counts_every_message_it_sends_for_its_queue(make_app, mail_server):
    worker_app = make_app({"SENDS_FOR_QUEUE": "celery"})  # the task the lesson shows tags nothing
    with worker_app.app_context():
        mail.send(message(worker_app))
        mail_server.stop()
        with pytest.raises(ConnectionRefusedError):
            mail.send(message(worker_app))  # its queue decides: retried, or failed
    counters = get_stats(worker_app).snapshot()["celery"]
    assert (counters["delivered"], counters["failed"]) == (1, 0)
