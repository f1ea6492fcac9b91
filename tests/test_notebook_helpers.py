"""The lessons' helpers (sandbox_app.lab: replies, tables, experiments), on a real sandbox."""

import inspect
import threading

import pytest
from helpers import EMAIL, eventually, refusing_port, started_since

from sandbox_app.lab import (
    background_sends,
    error_text,
    inbox,
    link,
    log_messages,
    measure,
    measure_send,
    post,
    reset,
    run_in_thread,
    show_source,
    status,
    wait_until_settled,
)
from sandbox_app.lab.faults import thread_exceptions
from sandbox_app.lab.smtp_delay import sweep_delay, trace_send
from sandbox_app.lab.under_load import comparison_table, cpu_per_request
from sandbox_app.mailer import mail
from sandbox_app.mailer.stats import get_stats
from sandbox_app.patterns import blocking
from sandbox_app.sandbox import SandboxNotRunning


def test_trace_send_puts_the_smtp_send_inside_a_blocking_request_and_after_a_threaded_one(sandbox):
    sandbox.mail_server.configure(delay=0.2)
    blocking_line = trace_send(sandbox, "blocking")
    threaded_line = trace_send(sandbox, "threaded")

    assert blocking_line.smtp_inside_request and not blocking_line.answered_before_sent
    assert threaded_line.answered_before_sent and not threaded_line.smtp_inside_request
    assert threaded_line.smtp.thread.endswith("(send_async_email)") and blocking_line.smtp.thread.startswith("waitress")
    assert min(blocking_line.smtp.ms, threaded_line.smtp.ms) >= 200
    assert "send" not in vars(mail)  # the stopwatch is gone


def test_trace_send_refuses_a_request_the_app_refused(sandbox):
    with pytest.raises(ValueError, match="answered 404"):
        trace_send(sandbox, "carrier-pigeon")


@pytest.mark.slow  # an experiment: a sweep of delays
def test_sweep_follows_the_delay_for_blocking_only_and_puts_the_delay_back(sandbox):
    sandbox.mail_server.configure(delay=0.05)
    # Medians of 5: a stall of the machine now and then moves neither a median nor the slope much.
    blocking_sweep = sweep_delay(sandbox, "blocking", delays=[0, 0.1, 0.2], n=5)
    threaded_sweep = sweep_delay(sandbox, "threaded", delays=[0, 0.1, 0.2], n=5)

    assert blocking_sweep.follows_delay() and blocking_sweep.never_faster_than_delay()
    assert threaded_sweep.slope < 0.2 and not threaded_sweep.follows_delay()
    assert sandbox.mail_server.settings.delay == 0.05


@pytest.mark.slow  # an experiment under load
def test_blocking_load_makes_ping_wait_for_a_worker_and_the_load_clients_stop(sandbox):
    sandbox.mail_server.configure(delay=0.2)
    before = set(threading.enumerate())
    with background_sends(sandbox, "blocking", clients=8) as load:
        ping = measure(sandbox, "ping", n=4, warmup=0)
    alone = measure(sandbox, "ping", n=10)

    assert load.n >= 8 and set(load.statuses) == {200}
    assert ping.p50_ms >= 100 and ping.p50_ms > 10 * alone.p50_ms
    assert not [name for name in started_since(before) if name.startswith("load-client")]


def test_background_sends_reraise_a_client_error():
    with (
        refusing_port() as port,
        pytest.raises(ConnectionRefusedError),
        background_sends(f"http://127.0.0.1:{port}/", "blocking", clients=2),
    ):
        pass


def test_a_send_costs_more_cpu_than_a_ping_whichever_thread_does_it(sandbox):
    ping, threaded, blocked = (
        cpu_per_request(sandbox, "ping", n=20),
        cpu_per_request(sandbox, "send/threaded", n=20, json=EMAIL),
        cpu_per_request(sandbox, "send/blocking", n=20, json=EMAIL),
    )
    assert threaded.cpu_ms > 2 * ping.cpu_ms and blocked.cpu_ms > 2 * ping.cpu_ms
    assert "ms of CPU per request" in str(threaded)


def test_comparison_table_verdicts_come_from_the_measurements(sandbox):
    sandbox.mail_server.configure(delay=0.1)
    blocking_samples = measure_send(sandbox, "blocking", n=3, warmup=1)
    threaded_samples = measure_send(sandbox, "threaded", n=10)
    crowd = [measure_send(sandbox, "blocking", n=8, concurrency=8, warmup=0)]

    table = comparison_table(0.1, [blocking_samples, threaded_samples], crowd=crowd, clients=8)
    assert table.verdicts() == ("blocking: blocks the worker, [X] Bad\nthreaded: does not block the worker, [OK] Good")
    assert table.columns == [
        "pattern",
        "blocks the worker?",
        "response delay, one client",
        "8 clients at once",
        "user experience",
        "verdict",
    ]
    blocking_row, threaded_row = table.rows
    assert blocking_row[3].startswith("p50 ") and threaded_row[3] == "-"
    assert blocking_row[1] == "yes, for the mail server's 100 ms" and threaded_row[1] == "no"
    assert "<table>" in table._repr_html_() and repr(table).splitlines()[1].startswith("pattern")
    # With no delay to wait for, nothing blocks: the verdict is measured, not assumed.
    assert "does not block" in comparison_table(0.0, [blocking_samples]).verdicts()


def test_reply_keeps_status_body_and_server_timing(sandbox):
    sandbox.mail_server.configure(delay=0.1)
    reply = post(sandbox, "send/blocking", EMAIL)
    assert repr(reply) == (
        'POST /send/blocking -> 200 OK: {"pattern": "blocking", "status": "sent", "to": "learner@example.com"}'
    )
    assert reply.server_timing["smtp"] >= 100 and set(reply.server_timing) == {"smtp", "app"}
    assert reply.header("server-timing") == reply.headers["Server-Timing"]  # found whatever the case asked
    assert reply.header("X-Not-Sent") is None
    assert repr(post(sandbox, "send/blocking", {"to": "x"})).startswith("POST /send/blocking -> 400 Bad Request: {")


def test_inbox_shows_the_captured_mail_escaped_in_html(sandbox):
    reset(sandbox)
    assert repr(inbox(sandbox)) == "The inbox is empty."
    post(sandbox, "send/blocking", {**EMAIL, "subject": "<b>bold</b> claim"})
    table = inbox(sandbox)
    assert table.rows == [["sandbox@example.com", "learner@example.com", "<b>bold</b> claim", EMAIL["body"]]]
    assert "&lt;b&gt;bold&lt;/b&gt; claim" in table._repr_html_() and "<b>bold" not in table._repr_html_()
    assert repr(inbox(sandbox, last=1)).startswith("Inbox: 1 message captured\n")


def test_link_goes_through_the_hub_proxy_on_a_hub_and_carries_the_key_once(sandbox, monkeypatch):
    assert link(sandbox, "inbox").url == f"http://127.0.0.1:{sandbox.port}/inbox?key={sandbox.key}"
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/user/ada/")
    hub_link = link(sandbox, "/inbox", "the inbox")
    assert hub_link.url == f"/user/ada/proxy/{sandbox.port}/inbox?key={sandbox.key}"
    assert hub_link._repr_html_() == (
        f'<a href="/user/ada/proxy/{sandbox.port}/inbox?key={sandbox.key}" target="_blank" rel="noopener">the inbox</a>'
    )


def test_status_and_reset(sandbox):
    sandbox.mail_server.configure(delay=0.3)
    assert repr(status(sandbox)) == (
        "The sandbox is running: the app (4 workers) and the debug mail server (delay 0.3 s), on 127.0.0.1 only."
    )
    post(sandbox, "send/threaded", EMAIL)  # still sending while reset starts
    reset(sandbox)
    assert sandbox.mail_server.messages == []
    assert get_stats(sandbox.app).snapshot()["threaded"]["accepted"] == 0


def test_a_failed_background_send_is_counted_and_logged_without_timestamps(sandbox):
    sandbox.mail_server.configure(faults={"DATA": {"code": 451, "message": "Mailbox busy"}})
    with thread_exceptions() as stderr:  # the thread's traceback, which Python would print
        post(sandbox, "send/threaded", EMAIL)
        assert wait_until_settled(sandbox)
        eventually(lambda: stderr)
    assert log_messages(sandbox, last=1) == ["WARNING threaded: mail not delivered: SMTPDataError: 451 Mailbox busy"]


@pytest.mark.parametrize("another_runs", [False, True], ids=["none runs", "another runs"])
def test_helpers_say_to_start_the_sandbox_once_it_has_stopped(start_sandbox, another_runs):
    stopped = start_sandbox()
    stopped.stop()
    running = start_sandbox() if another_runs else None  # never used in the stopped one's place
    helpers = [
        lambda: inbox(stopped),
        lambda: post(stopped, "send/blocking"),
        lambda: measure(stopped, "ping", 1),
        lambda: status(stopped),
        lambda: reset(stopped),
        lambda: link(stopped),
        lambda: log_messages(stopped),
    ]
    for call in helpers:
        with pytest.raises(SandboxNotRunning, match="start the sandbox first: run the first cell"):
            call()
    if running is not None:
        assert running.mail_server.messages == []  # no helper sent to it instead
        assert post(running, "send/blocking").status == 200 and len(running.mail_server.messages) == 1


def test_run_in_thread_brings_the_exception_back_and_leaves_no_thread():
    before = set(threading.enumerate())
    seen = []
    assert run_in_thread(lambda: seen.append(threading.current_thread().name)) is None
    assert seen == ["lesson-thread"]  # it ran in a thread of its own...
    error = run_in_thread(mail.send, object())  # no app context in a new thread
    assert isinstance(error, RuntimeError)
    assert error_text(error).startswith("RuntimeError: Working outside of application context.")
    assert error_text(None) == "no error"
    assert started_since(before) == []  # ...which is gone when it returns


def test_show_source_shows_the_real_module():
    shown = show_source(blocking, blocking.send_email)
    assert repr(shown).startswith("# sandbox_app/patterns/blocking.py\n")
    assert "# sandbox_app/patterns/blocking.py: send_email\n" in repr(shown)
    assert inspect.getsource(blocking).rstrip() in shown._repr_markdown_()
