"""The queue pattern on SQLite: a durable Huey queue, a consumer process, retries, counters across processes."""

import logging
import os
import signal
import sys
from contextlib import suppress

import psutil
import pytest
from helpers import EMAIL, eventually, get_json, process_exists, refusing_port, run_program, wait_gone

from sandbox_app import create_app
from sandbox_app.config import SandboxConfig
from sandbox_app.lab import measure, measure_send
from sandbox_app.lab.send_failures import temporary_failure
from sandbox_app.mailer.background import get_background
from sandbox_app.processes.child import ChildError
from sandbox_app.queues.huey_queue import ConsumerProcess, huey_backend, sqlite_path
from sandbox_app.queues.names import this_host
from sandbox_app.sandbox import SandboxNotRunning
from sandbox_app.smtp.loopback import free_port
from sandbox_app.smtp.server import DebugMailServer

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def stats_of(sandbox):
    """GET /api/stats over HTTP."""
    return get_json(sandbox, "api/stats")


@pytest.mark.slow  # a consumer process
def test_queue_answers_at_once_and_a_consumer_process_delivers(sandbox):
    sandbox.mail_server.configure(delay=0.2)
    consumer = sandbox.start_consumer(workers=2)
    assert sandbox.start_consumer() is consumer  # re-run safe
    assert consumer.pid != os.getpid() and consumer.running
    ping = measure(sandbox, "ping", 10)
    blocking = measure_send(sandbox, "blocking", 3, warmup=0)  # what waiting for the mail server costs, this run
    queued = measure_send(sandbox, "queue", 10, warmup=0)
    assert queued.statuses == {202: 10} and blocking.statuses == {200: 3}
    # Nobody waited for the mail server: above /ping, the queue's median costs a small part of blocking's.
    assert queued.p50_ms - ping.p50_ms < (blocking.p50_ms - ping.p50_ms) / 4
    assert len(sandbox.mail_server.wait_for(13, timeout=10)) == 13
    # The consumer process counted its deliveries in the queue's storage; this app reads them.
    eventually(lambda: stats_of(sandbox)["queue"]["delivered"] == 10)
    delivered = {"accepted": 10, "delivered": 10, "failed": 0, "retried": 0, "last_error": None}
    assert stats_of(sandbox)["queue"] == delivered
    assert "Executing sandbox_app.queues.huey_queue.deliver_email" in consumer.read_log()


@pytest.mark.slow  # a consumer process
def test_queued_mail_waits_in_the_state_folder_until_a_consumer_runs(sandbox, state_dir):
    mail_queue = huey_backend(sandbox.app)
    assert measure_send(sandbox, "queue", 3, warmup=0).statuses == {202: 3}
    path = sqlite_path(mail_queue.queue_name)
    assert path.parent == state_dir / "queues" and path.exists()
    assert not str(path).startswith(REPO)
    assert mail_queue.unsent() == 3 and sandbox.mail_server.messages == []
    sandbox.start_consumer(workers=1)
    sandbox.mail_server.wait_for(3, timeout=10)
    eventually(lambda: mail_queue.unsent() == 0)
    sandbox.stop()
    assert not path.exists()  # an empty queue is removed with its sandbox


def test_two_apps_never_share_a_queue(state_dir, make_app):
    first, second = make_app(), make_app()
    names = {huey_backend(app).queue_name for app in (first, second)}
    assert len(names) == 2
    for app in (first, second):
        app.test_client().post("/send/queue", json=EMAIL)
    assert sorted(p.name for p in (state_dir / "queues").glob("*.sqlite3")) == sorted(f"{n}.sqlite3" for n in names)
    for app in (first, second):
        assert huey_backend(app).unsent() == 1


def test_a_stopped_sandbox_says_what_it_leaves_unsent(start_sandbox, caplog):
    sandbox = start_sandbox()  # its queue has a made-up name: nobody else can consume it
    measure_send(sandbox, "queue", 2, warmup=0)
    name = huey_backend(sandbox.app).queue_name
    with caplog.at_level(logging.WARNING):
        sandbox.stop()
    assert f"queue {name}: 2 mail(s) never sent: no consumer ran; discarded" in caplog.text
    assert not sqlite_path(name).exists()


@pytest.mark.slow  # two consumer processes
def test_a_shared_queue_keeps_its_mail_for_the_next_consumer(start_sandbox, caplog):
    sandbox = start_sandbox(queue_name="shop")
    measure_send(sandbox, "queue", 2, warmup=0)
    with caplog.at_level(logging.WARNING):
        sandbox.stop()
    assert "queue shop: 2 mail(s) still queued; kept for the next consumer" in caplog.text
    assert sqlite_path("shop").exists()
    with DebugMailServer() as mail_server:  # later, another app's consumer takes over the queue
        app = create_app({"QUEUE_NAME": "shop"}, mail_server=mail_server)
        mail_queue = huey_backend(app)
        try:
            with mail_queue.start_workers(1)[0]:
                assert len(mail_server.wait_for(2, timeout=10)) == 2
                eventually(lambda: mail_queue.unsent() == 0)
        finally:
            get_background(app).finish(timeout=10)


@pytest.mark.slow  # a consumer process
def test_a_temporary_error_is_retried_and_delivered(start_sandbox):
    sandbox = start_sandbox(app_config={"QUEUE_RETRY_DELAY": 0.3})  # the lesson's 1 s, shortened
    later = temporary_failure(sandbox, sends=3)
    assert later.retry_delay == 0.3 and min(later.arrived_after) >= 0.3  # each waited for its retry
    assert later.queue["delivered"] == 3 and later.queue["retried"] == 3 and later.queue["failed"] == 0
    assert later.queue["last_error"] == "SMTPDataError: 451 4.3.0 Try again later"
    assert later.pool["failed"] == 3 and later.pool["delivered"] == 0  # the pool does not retry
    assert later.report().splitlines() == [
        "pool   delivered 0, failed 3, retried 0",
        "queue  delivered 3, failed 0, retried 3",
    ]
    assert len(sandbox.mail_server.messages) == 3


@pytest.mark.slow  # a consumer process
def test_a_permanent_error_is_not_retried(sandbox):
    sandbox.mail_server.configure(faults={"RCPT": {"code": 550, "message": "No such user"}})
    sandbox.start_consumer(workers=1)
    measure_send(sandbox, "queue", 2, warmup=0)
    eventually(lambda: stats_of(sandbox)["queue"]["failed"] == 2, timeout=10)
    stats = stats_of(sandbox)["queue"]
    assert stats["retried"] == 0 and stats["delivered"] == 0
    assert stats["last_error"] == "recipient refused: 550 No such user"
    assert sandbox.mail_server.counters()["faults"] == {"RCPT": 2}  # one attempt each


@pytest.mark.slow  # a consumer process, stopped mid-send
def test_a_mail_interrupted_by_a_fast_stop_goes_back_on_the_queue(sandbox):
    consumer = sandbox.start_consumer(workers=1)
    with sandbox.mail_server.holding():  # the send stays under way until the consumer is gone, however slow the machine
        measure_send(sandbox, "queue", 1, warmup=0)
        eventually(lambda: sandbox.mail_server.waiting_at_gate == 1, timeout=10)  # the send is under way, held
        consumer.process.send_signal(signal.SIGTERM)  # Huey's immediate stop: the send is cut off
        assert consumer.process.wait(10) == 0
        eventually(lambda: sandbox.mail_server.waiting_at_gate == 0)  # its connection closed: the held DATA dropped
    mail_queue = huey_backend(sandbox.app)
    assert mail_queue.unsent() == 1 and sandbox.mail_server.messages == []
    sandbox.start_consumer(workers=1)  # the next consumer sends it: once
    sandbox.mail_server.wait_for(1, timeout=10)
    eventually(lambda: mail_queue.unsent() == 0)
    assert len(sandbox.mail_server.messages) == 1


@pytest.mark.slow  # a consumer process
def test_stop_ends_the_consumer_process(sandbox):
    consumer = sandbox.start_consumer(workers=2)
    pid = consumer.pid
    sandbox.stop()
    assert not consumer.running and consumer.process.returncode == 0
    assert not process_exists(pid)


@pytest.mark.slow  # a consumer process
def test_a_consumer_whose_parent_dies_stops_too(state_dir, tmp_path, mail_server):
    # A parent (standing in for a notebook kernel) starts a consumer, then dies without cleaning up.
    code = (
        "import os, sys\n"
        "from sandbox_app import create_app\n"
        "from sandbox_app.queues.huey_queue import huey_backend\n"
        f"app = create_app({{'MAIL_PORT': {mail_server.port}}})\n"
        "consumer = huey_backend(app).start_workers(1)[0]\n"
        "print(consumer.pid, flush=True)\n"
        "os._exit(0)\n"
    )
    parent = run_program([sys.executable, "-c", code], tmp_path / "parent", timeout=60)
    assert parent.returncode == 0, parent.stderr
    consumer = psutil.Process(int(parent.stdout))  # psutil signals it only while it is this very process
    try:
        wait_gone(consumer.pid, timeout=10)
    finally:  # a consumer that outlived its parent (the bug under test) must not outlive the test too
        with suppress(psutil.NoSuchProcess):
            for process in (*consumer.children(recursive=True), consumer):
                process.kill()


@pytest.mark.slow  # a consumer process
def test_a_consumer_that_cannot_start_says_why(state_dir):
    settings = SandboxConfig(app_config={"QUEUE_NAME": "no spaces allowed", "MAIL_PORT": free_port()})
    broken = ConsumerProcess(settings, workers=1)
    with pytest.raises(ChildError, match="queue name must be 1-64 letters"):
        broken.start(timeout=20)
    assert not broken.running


def test_a_queue_storage_that_is_down_is_a_503_not_a_500(state_dir, make_app):
    with refusing_port() as down:  # held without listening: no other process can start a server there meanwhile
        app = make_app({"QUEUE_URL": f"redis://127.0.0.1:{down}/0"})
        client = app.test_client()
        response = client.post("/send/queue", json=EMAIL)
        assert response.status_code == 503
        assert response.json["error"].startswith("queue unavailable: ConnectionError")
        stats = client.get("/api/stats")
        assert stats.status_code == 200  # the counters live apart from the queue's storage
        assert (stats.json["queue"]["accepted"], stats.json["queue"]["failed"]) == (1, 1)  # never queued: lost, counted
        assert stats.json["queue"]["last_error"].startswith("queue unavailable: ConnectionError")
        assert stats.json["blocking"]["accepted"] == 0
        assert client.get("/api/queue").status_code == 503  # the queue's own state needs its storage


@pytest.mark.slow  # a consumer process
def test_a_consumer_started_by_hand_without_its_config_says_what_to_set(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "SANDBOX_SETTINGS"}
    command = [sys.executable, "-m", "huey.bin.huey_consumer", "sandbox_app.programs.huey_worker.huey"]
    done = run_program(command, tmp_path / "consumer", timeout=30, env=env)
    assert done.returncode == 2
    assert done.stderr.startswith("error: no settings: $SANDBOX_SETTINGS is not set")
    assert "Traceback" not in done.stderr


@pytest.mark.slow  # a consumer process
def test_api_queue_shows_the_waiting_mail_and_the_consumer(sandbox):
    mail_queue = huey_backend(sandbox.app)
    # Celery's and RQ's queues are listed, but asking does not start their Redis: nobody has used them.
    unused = {
        pattern: {"backend": f"{name} on Redis", "redis": None, "waiting": 0, "workers": []}
        for pattern, name in (("celery", "Celery"), ("rq", "RQ"))
    }
    idle = {"waiting": 0, "oldest_age_s": None, "in_flight": 0, "retries_scheduled": 0, "failed": 0, "workers": []}
    queues = {
        pattern: {"backend": name, **idle}
        for pattern, name in (("queue", "Huey"), ("celery", "Celery"), ("rq", "RQ"), ("outbox", "outbox"))
    }
    empty = {
        "name": mail_queue.queue_name, "storage": "sqlite", "waiting": 0, "consumer": None, "redis_queues": unused,
        "queues": queues,
    }  # fmt: skip
    assert get_json(sandbox, "api/queue") == empty
    measure_send(sandbox, "queue", 2, warmup=0)
    assert get_json(sandbox, "api/queue")["waiting"] == 2
    consumer = sandbox.start_consumer(workers=1)
    sandbox.mail_server.wait_for(2, timeout=10)
    eventually(lambda: mail_queue.unsent() == 0)
    assert get_json(sandbox, "api/queue")["consumer"] == {"pid": consumer.pid, "workers": 1}


@pytest.mark.slow  # kernels
@pytest.mark.parametrize("now", [False, True], ids=["restart", "kill-and-restart"])
def test_a_kernel_restart_leaves_no_consumer_behind(tmp_path, state_dir, now):
    from jupyter_client.manager import KernelManager

    manager = KernelManager(kernel_name="python3")
    manager.start_kernel(cwd=str(tmp_path))
    client = manager.client()
    client.start_channels()
    printed = []
    code = "import sandbox_app\nsandbox = sandbox_app.start()\nprint(sandbox.start_consumer().pid)"
    try:
        client.wait_for_ready(timeout=60)
        hook = lambda msg: msg["msg_type"] == "stream" and printed.append(msg["content"]["text"])  # noqa: E731
        reply = client.execute_interactive(code, output_hook=hook, timeout=60)
        assert reply["content"]["status"] == "ok", reply["content"]
        consumer_pid = int("".join(printed))
        assert process_exists(consumer_pid)
        manager.restart_kernel(now=now)  # now=True: the kernel is killed, nothing of it runs after
        wait_gone(consumer_pid, timeout=10)  # stopped by the kernel's exit, or by itself when orphaned
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


@pytest.mark.slow  # a killed sandbox's consumer and the next
def test_the_queue_of_a_killed_sandbox_is_swept_up_by_the_next(state_dir, tmp_path):
    gone = run_program([sys.executable, "-c", "import os; print(os.getpid())"], tmp_path / "gone", timeout=30)
    name = f"mail-{this_host()}-{int(gone.stdout)}-deadbeef"  # made up by a process that no longer exists
    elsewhere = state_dir / "queues" / f"mail-000000-{int(gone.stdout)}-deadbeef.sqlite3"
    with DebugMailServer() as mail_server:
        left = create_app({"QUEUE_NAME": name}, mail_server=mail_server)  # stands in for the dead one's app
        left.test_client().post("/send/queue", json=EMAIL)
        huey_backend(left).storage.close()
    elsewhere.write_bytes(b"")  # another machine's sandbox (a shared home folder): not ours to judge
    (state_dir / "logs").mkdir(exist_ok=True)
    (state_dir / "logs" / f"consumer-{name}-1-2.log").write_text("its consumer's log")
    sweep = "from sandbox_app import create_app; from sandbox_app.queues.huey_queue import huey_backend; " \
            "huey_backend(create_app()).huey"  # fmt: skip
    done = run_program([sys.executable, "-c", sweep], tmp_path / "next", timeout=60)
    assert done.returncode == 0, done.stderr
    assert f"queue {name}: 1 mail(s) left by a sandbox that is gone; discarded" in done.stderr
    assert not sqlite_path(name).exists() and elsewhere.exists()
    assert list((state_dir / "logs").iterdir()) == []


@pytest.mark.slow  # the command line's sandbox and its consumer
def test_the_command_line_sandbox_leaves_no_queue_behind(state_dir, mail_server):
    from sandbox_app.processes.webprocess import WebProcess

    with WebProcess("--smtp-server", mail_server.address) as web:  # starts a consumer by default
        consumer = get_json(web, "api/queue")["consumer"]
        assert consumer["workers"] == 8 and process_exists(consumer["pid"])
        assert web.stop() == 0
    wait_gone(consumer["pid"])
    assert list((state_dir / "queues").glob("*.sqlite3")) == []


def test_a_stopped_sandbox_starts_no_consumer(start_sandbox):
    sandbox = start_sandbox()
    sandbox.stop()
    with pytest.raises(SandboxNotRunning):
        sandbox.start_consumer()
