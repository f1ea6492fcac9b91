"""The debug mail server over real SMTP: capture, delay, faults, limits, settings."""

import smtplib
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from helpers import eventually

from sandbox_app.smtp.server import DebugMailServer
from sandbox_app.smtp.settings import SettingsError

RAW = b"From: a@example.com\r\nTo: b@example.com\r\nSubject: Hi there\r\n\r\nLine one\r\nLine two\r\n"


def send(server, raw=RAW, rcpt=("b@example.com",), timeout=5):
    """Send one message over a fresh SMTP connection."""
    with smtplib.SMTP(server.host, server.port, timeout=timeout) as client:
        client.sendmail("a@example.com", list(rcpt), raw)


def test_captures_envelope_headers_and_body(mail_server):
    send(mail_server, rcpt=("b@example.com", "c@example.com"))
    (message,) = mail_server.wait_for(1, timeout=2)
    assert message.mail_from == "a@example.com"
    assert message.rcpt_tos == ("b@example.com", "c@example.com")
    assert message.subject == "Hi there"
    assert message.body == "Line one\nLine two\n"
    assert ("Subject", "Hi there") in message.headers
    assert message.size == len(RAW)
    assert message.received_at == pytest.approx(time.time(), abs=5)
    assert message.to_dict()["rcpt_tos"] == ["b@example.com", "c@example.com"]


def test_greets_on_its_loopback_port(mail_server):
    # Where it listens is checked at the socket in test_loopback.py.
    with socket.create_connection(("127.0.0.1", mail_server.port), timeout=2) as conn:
        assert conn.recv(100).startswith(b"220 ")


def test_clear_and_wait_for(mail_server):
    send(mail_server)
    send(mail_server)
    assert len(mail_server.wait_for(2, timeout=2)) == 2
    assert mail_server.clear() == 2
    assert mail_server.messages == []
    with pytest.raises(TimeoutError, match="captured 0"):
        mail_server.wait_for(1, timeout=0.1)


def test_maildir_copy(tmp_path):
    with DebugMailServer(maildir=tmp_path / "Maildir") as server:
        send(server)
        server.wait_for(1, timeout=2)
    files = list((tmp_path / "Maildir" / "new").iterdir())
    assert len(files) == 1
    assert files[0].read_bytes().replace(b"\r\n", b"\n") == RAW.replace(b"\r\n", b"\n")


def test_fixed_delay_applies_per_message(mail_server):
    mail_server.configure(delay=0.2)
    started = time.perf_counter()
    send(mail_server)
    assert time.perf_counter() - started >= 0.2


def test_seeded_delay_range_reproduces(mail_server):
    def delays():
        mail_server.configure(delay_range=[0.0, 1.0], seed=42)
        return [mail_server.message_delay() for _ in range(5)]

    first = delays()
    assert first == delays()
    assert all(0.0 <= d <= 1.0 for d in first) and len(set(first)) == 5


@pytest.mark.parametrize(
    ("stage", "code", "error"),
    [
        ("MAIL", 451, smtplib.SMTPSenderRefused),
        ("RCPT", 550, smtplib.SMTPRecipientsRefused),
        ("DATA", 452, smtplib.SMTPDataError),
    ],
)
def test_fault_reply_per_stage(mail_server, stage, code, error):
    mail_server.configure(faults={stage: {"code": code}})
    with pytest.raises(error) as raised:
        send(mail_server)
    assert str(code) in str(raised.value)
    assert mail_server.messages == []
    assert mail_server.counters()["faults"] == {stage: 1}


def test_drop_connection(mail_server):
    mail_server.configure(faults={"DATA": {"drop": True}})
    with pytest.raises(smtplib.SMTPServerDisconnected):
        send(mail_server)
    assert mail_server.counters()["dropped"] == 1
    assert mail_server.messages == []


def test_fault_probability_is_seeded(mail_server):
    def outcomes():
        mail_server.configure(faults={"DATA": {"code": 451, "probability": 0.5}}, seed=7)
        results = []
        for _ in range(12):
            try:
                send(mail_server)
                results.append("ok")
            except smtplib.SMTPDataError:
                results.append("451")
        return results

    first = outcomes()
    assert first == outcomes()
    assert "ok" in first and "451" in first


def test_connection_limit_answers_421_under_burst(mail_server):
    mail_server.configure(max_connections=3)

    def attempt(_):
        try:
            send(mail_server)
            return "sent"
        except smtplib.SMTPConnectError as error:
            return error.smtp_code

    # Held, the three admitted clients keep their connections open: the nine others meet a full server, at
    # any machine speed.
    with ThreadPoolExecutor(12) as pool, mail_server.holding():
        futures = [pool.submit(attempt, n) for n in range(12)]
        eventually(lambda: mail_server.counters()["refused"] == 9, timeout=20)  # 12 threads to start on a busy machine
        assert mail_server.counters()["open_connections"] == 3  # the limit was reached, not merely respected
        assert mail_server.messages == []
    results = [future.result() for future in futures]
    assert sorted(results, key=str) == [421] * 9 + ["sent"] * 3
    counters = mail_server.counters()
    assert (counters["peak_connections"], counters["connections"], counters["refused"]) == (3, 3, 9)
    assert len(mail_server.messages) == 3


def test_a_held_server_captures_nothing_until_released(mail_server):
    with ThreadPoolExecutor(2) as pool:
        with mail_server.holding():
            assert mail_server.held
            sending = [pool.submit(send, mail_server) for _ in range(2)]
            eventually(lambda: mail_server.waiting_at_gate == 2)
            time.sleep(0.2)  # a server that ignored the hold would have captured by now
            assert mail_server.messages == [] and not any(future.done() for future in sending)
        assert not mail_server.held
        mail_server.wait_for(2, timeout=5)
        for future in sending:
            future.result()  # both clients heard 250
    send(mail_server)  # released, the next message passes at once
    assert mail_server.total == 3


def test_stopping_a_held_server_lets_its_clients_go(mail_server):
    mail_server.hold()
    with ThreadPoolExecutor(1) as pool:
        sending = pool.submit(send, mail_server)
        # Not open_connections: that counts a client before it reached DATA.
        eventually(lambda: mail_server.waiting_at_gate == 1)
        started = time.monotonic()
        mail_server.stop()
        with pytest.raises(smtplib.SMTPException):  # the connection closed unanswered, as on any stop
            sending.result(timeout=5)
    assert time.monotonic() - started < 3  # not the client's 5-second timeout
    assert not mail_server.held


def test_connect_delay_slows_the_greeting(mail_server):
    mail_server.configure(connect_delay=0.15)
    started = time.perf_counter()
    with smtplib.SMTP(mail_server.host, mail_server.port, timeout=5):
        assert time.perf_counter() - started >= 0.15


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"delay": -1}, "'delay' must be between"),
        ({"delay": "slow"}, "'delay' must be a number"),
        ({"faults": {"HELO": {"code": 451}}}, "stage must be one of"),
        ({"faults": {"DATA": {"code": 250}}}, "from 400 to 599"),
        ({"faults": {"DATA": {}}}, "exactly one of"),
        ({"faults": {"DATA": {"code": 451, "probability": 2}}}, "between 0 and 1"),
        ({"max_connections": 0}, "positive whole number"),
        ({"max_messages": 0}, "'max_messages' must be a whole number of at least 1"),
        ({"max_messages": 2.5}, "'max_messages' must be a whole number"),
        ({"max_messages": True}, "'max_messages' must be a whole number"),
        ({"max_messages": None}, "'max_messages' must be a whole number"),
        ({"delay_range": [2, 1]}, "must not exceed"),
        ({"speed": 1}, "unknown setting"),
    ],
)
def test_bad_settings_are_refused_and_change_nothing(mail_server, changes, message):
    before = mail_server.settings
    with pytest.raises(SettingsError, match=message):
        mail_server.configure(**changes)
    assert mail_server.settings == before


def test_stop_frees_the_port():
    server = DebugMailServer().start()
    port = server.port
    server.stop()
    with socket.create_server(("127.0.0.1", port)):
        pass


# --- The bounded inbox ------------------------------------------------------------------------


def send_many(server, count, start=0):
    """Send `count` messages numbered from `start` in their subjects, fast, over one SMTP connection."""
    with smtplib.SMTP(server.host, server.port, timeout=5) as client:
        for number in range(start, start + count):
            client.sendmail("a@example.com", ["b@example.com"], f"Subject: #{number}\r\n\r\nhi\r\n".encode())


def subjects(messages):
    return [m.subject for m in messages]


def test_keeps_the_newest_1000_by_default(mail_server):
    assert mail_server.settings.max_messages == 1000
    send_many(mail_server, 1100)
    held = mail_server.wait_for(1100, timeout=10)  # more than the bound: waits on the total captured
    assert len(held) == len(mail_server.store) == mail_server.count == 1000
    assert mail_server.total == 1100
    assert subjects(held) == [f"#{n}" for n in range(100, 1100)]  # oldest first, the first 100 dropped
    assert subjects(mail_server.messages) == subjects(held)
    assert subjects(mail_server.newest(3)) == ["#1099", "#1098", "#1097"]
    assert [m.id for m in mail_server.newest(2)] == [1100, 1099]


def test_wait_for_counts_the_total_not_what_is_held(mail_server):
    mail_server.configure(max_messages=10)
    send_many(mail_server, 15)
    assert subjects(mail_server.wait_for(15, timeout=2)) == [f"#{n}" for n in range(5, 15)]
    with pytest.raises(TimeoutError, match="captured 15"):
        mail_server.wait_for(16, timeout=0.1)
    assert mail_server.clear() == 10
    assert (mail_server.count, mail_server.total) == (0, 0)
    send_many(mail_server, 1, start=15)
    assert subjects(mail_server.wait_for(1, timeout=2)) == ["#15"]


def test_lowering_max_messages_drops_the_oldest_at_once(mail_server):
    send_many(mail_server, 5)  # the 250 reply comes after the capture: no need to wait
    assert subjects(mail_server.newest(2)) == ["#4", "#3"]  # parses these two only: parsed and raw now mix
    send_many(mail_server, 3, start=5)
    assert mail_server.configure(max_messages=4).max_messages == 4
    assert len(mail_server.store) == 4 and mail_server.total == 8
    assert subjects(mail_server.messages) == ["#4", "#5", "#6", "#7"]
    mail_server.configure(max_messages=6)  # raising it brings nothing back, and keeps more from now on
    send_many(mail_server, 3, start=8)
    assert subjects(mail_server.messages) == ["#5", "#6", "#7", "#8", "#9", "#10"]


def test_max_messages_is_checked_at_construction_too():
    with pytest.raises(SettingsError, match="at least 1"):
        DebugMailServer(max_messages=0)
    assert DebugMailServer(max_messages=7).store.max_messages == 7


def test_maildir_keeps_every_message_beyond_the_bound(tmp_path):
    with DebugMailServer(maildir=tmp_path / "Maildir", max_messages=5) as server:
        send_many(server, 12)
        assert len(server.wait_for(12, timeout=5)) == 5
    files = list((tmp_path / "Maildir" / "new").iterdir())
    assert len(files) == 12
    assert sorted(f.read_bytes().split(b"\n", 1)[0].strip() for f in files) == sorted(
        f"Subject: #{n}".encode() for n in range(12)
    )


@pytest.mark.slow  # a benchmark of the store
def test_capture_costs_the_same_per_message_once_the_inbox_is_full(mail_server):
    """The second 1,000 (each dropping the oldest) must cost about what the first 1,000 did."""

    def seconds_per_batch(start):
        batches = []
        for batch in range(start, start + 1000, 100):
            began = time.perf_counter()
            send_many(mail_server, 100, start=batch)
            batches.append(time.perf_counter() - began)
        return sorted(batches)[len(batches) // 2]  # the median shrugs off a slow moment of the machine

    filling = seconds_per_batch(0)
    full = seconds_per_batch(1000)
    mail_server.wait_for(2000, timeout=10)
    assert mail_server.count == 1000 and mail_server.total == 2000
    assert full / filling < 3, f"{full / filling:.1f} times slower per message once full"


def test_capture_into_a_full_store_does_not_grow_with_its_size(mail_server):
    """At a bound of 50,000 an O(n) drop (a list's pop(0)) costs several times an add; a deque's costs nothing."""
    store = mail_server.store
    store.max_messages = 50_000

    def seconds_per_batch():
        batches = []
        for _ in range(50):
            began = time.perf_counter()
            for _ in range(1000):
                store.add("a@example.com", ["b@example.com"], RAW)
            batches.append(time.perf_counter() - began)
        return sorted(batches)[len(batches) // 2]

    filling = seconds_per_batch()
    full = seconds_per_batch()
    assert (len(store), store.total) == (50_000, 100_000)
    assert full / filling < 3, f"{full / filling:.1f} times slower per message once full"
    assert [m.id for m in store.newest(2)] == [100_000, 99_999]  # parses only the page asked for
    store.max_messages = 3
    assert [m.id for m in store.all()] == [99_998, 99_999, 100_000]
