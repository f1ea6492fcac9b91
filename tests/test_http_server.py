"""The app's HTTP server (waitress): idle and slow clients hold no worker, stop() is clean, proxies still work."""

import re
import socket
import statistics
import subprocess
import sys
import threading
import time
from contextlib import closing, contextmanager

import pytest
from helpers import HTTP_TIMEOUT, eventually, http_get, http_post, started_since

from sandbox_app import runner
from sandbox_app.addresses import auth_headers
from sandbox_app.http_server import AppServer

IDLE_CONNECTIONS = 16  # four times the workers: the old server froze with this many
PINGS = 50
SLACK = 5  # /ping may be this many times slower with idle and slow clients around, not frozen
STOP_TIMEOUT = 0.5  # seconds stop() is given in the stuck-request test
HANG_GUARD = HTTP_TIMEOUT  # seconds: only so that a frozen server fails the test instead of hanging it
EMAIL = {"to": "a@example.com", "subject": "s", "body": "b"}
PREFIX = "/user/ana/proxy/1234"


def ping_ms(sandbox, count=PINGS):
    """The times of `count` GET /ping, each on a new connection (as `ab` makes them), in milliseconds."""
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        assert http_get(sandbox, "ping").status == 200
        samples.append((time.perf_counter() - started) * 1000)
    return samples


@contextmanager
def idle_connections(host, port, count):
    """`count` TCP connections that connect and then send nothing."""
    sockets = [socket.create_connection((host, port), timeout=HANG_GUARD) for _ in range(count)]
    try:
        yield sockets
    finally:
        for sock in sockets:
            sock.close()


class SlowClient(threading.Thread):
    """Sends a request one byte every half second (a slow network, or a slowloris); `finish()` sends the rest."""

    def __init__(self, sandbox, interval=0.5):
        super().__init__(name="slow-client", daemon=True)
        key = "".join(f"{name}: {value}\r\n" for name, value in auth_headers(sandbox).items())
        self.request = f"GET /ping HTTP/1.1\r\nHost: {sandbox.host}\r\n{key}Connection: close\r\n\r\n".encode()
        self.sock = socket.create_connection((sandbox.host, sandbox.port), timeout=HANG_GUARD)
        self.interval, self.sent = interval, 0
        self.done = threading.Event()

    def run(self):
        while self.sent < len(self.request) - 1 and not self.done.wait(self.interval):
            self.sock.sendall(self.request[self.sent : self.sent + 1])
            self.sent += 1

    def finish(self):
        """Send the rest of the request at once; the answer's status line."""
        self.done.set()
        self.join()
        self.sock.sendall(self.request[self.sent :])
        with closing(self.sock), self.sock.makefile("rb") as answer:
            return answer.readline().decode().strip()


def closed_by_server(sock):
    """Block until the server closes `sock` (recv returns b""); True, or False if it sent something instead."""
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def hello_app(environ, start_response):
    """A WSGI app that answers every request with "hello"."""
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
    return [b"hello"]


def test_idle_and_slow_clients_do_not_hold_up_ping(sandbox):
    before = ping_ms(sandbox)
    with idle_connections(sandbox.host, sandbox.port, IDLE_CONNECTIONS):
        slow = SlowClient(sandbox)
        slow.start()
        try:
            time.sleep(1)  # a few of its bytes arrive first: the request is half read when the pings run
            during = statistics.median(ping_ms(sandbox))
        finally:
            status = slow.finish()
    # The baseline is measured on both sides: other work on the machine shifts both alike.
    alone = statistics.median(before + ping_ms(sandbox))
    assert slow.sent >= 2
    assert status == "HTTP/1.1 200 OK"  # its half-read request was kept, not dropped
    assert during <= SLACK * alone, (
        f"/ping took {during:.2f} ms (median) with {IDLE_CONNECTIONS} idle connections and a slow client, "
        f"{alone:.2f} ms without: more than {SLACK} times slower"
    )


def test_an_idle_connection_is_closed_by_the_server():
    server = AppServer("127.0.0.1", 0, hello_app, idle_timeout=1).start()
    try:
        with idle_connections(server.host, server.port, 1) as (sock,):
            opened = time.monotonic()
            assert closed_by_server(sock)
            assert time.monotonic() - opened >= server.idle_timeout  # closed for idling, not at once
    finally:
        server.stop()


def test_stop_leaves_no_thread_of_the_sandbox_behind(state_dir):
    runner.stop()
    before = set(threading.enumerate())
    sandbox = runner.start()
    try:
        assert http_get(sandbox, "ping").status == 200
        assert any(name.startswith("waitress") for name in started_since(before))
    finally:
        sandbox.stop()
    assert started_since(before) == [], "threads the sandbox started and stop() left running"


def test_a_server_never_started_stops_cleanly_and_twice():
    before = set(threading.enumerate())
    server = AppServer("127.0.0.1", 0, hello_app)
    server.stop()
    server.stop()  # a second stop must not write to the trigger's closed pipe
    assert started_since(before) == []
    with closing(socket.create_server(("127.0.0.1", server.port))):
        pass  # the port is free again


def test_a_request_in_progress_at_stop_gets_its_answer(sandbox):
    sandbox.mail_server.configure(delay=0.5)
    answers = []
    sender = threading.Thread(target=lambda: answers.append(http_post(sandbox, "send/blocking", EMAIL)))
    with idle_connections(sandbox.host, sandbox.port, 1) as (idle,):
        sender.start()
        # The app has connected to the mail server: the request is inside a worker, waiting on SMTP.
        eventually(lambda: sandbox.mail_server.counters()["open_connections"] >= 1)
        sandbox.stop()
        assert closed_by_server(idle)  # stop did not wait for the idle connection, it closed it
    sender.join(HANG_GUARD)
    assert len(answers) == 1 and answers[0].status == 200, answers
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((sandbox.host, sandbox.port), timeout=HANG_GUARD)


def test_a_stuck_request_does_not_hang_stop():
    release, entered, left = threading.Event(), threading.Event(), threading.Event()
    workers = []  # the thread of this server that runs the stuck request, not any other server's

    def stuck_app(environ, start_response):
        workers.append(threading.current_thread())
        entered.set()
        release.wait(HANG_GUARD)
        left.set()
        return hello_app(environ, start_response)

    # The floor, measured in this run: how long stopping a server with nothing in progress takes.
    idle = AppServer("127.0.0.1", 0, hello_app).start()
    started = time.perf_counter()
    idle.stop(timeout=STOP_TIMEOUT)
    floor = time.perf_counter() - started

    before = set(threading.enumerate())
    server = AppServer("127.0.0.1", 0, stuck_app).start()
    try:
        with idle_connections(server.host, server.port, 1) as (client,):
            client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert entered.wait(HANG_GUARD)
            started = time.perf_counter()
            server.stop(timeout=STOP_TIMEOUT)
            took = time.perf_counter() - started
            (worker,) = workers
            stuck = worker.is_alive() and not left.is_set()
            assert closed_by_server(client)
    finally:
        release.set()
        server.stop()
    # It waited for the request about as long as it was told to, then gave up: not until the app returned.
    assert took >= 0.9 * STOP_TIMEOUT, f"stop gave up after {took:.2f} s, before its {STOP_TIMEOUT} s"
    assert took < STOP_TIMEOUT + floor + 1.0, f"stop took {took:.2f} s with a {STOP_TIMEOUT} s timeout"
    assert stuck, "the stuck worker was still in the app when stop returned"
    # Left running, not killed: the worker ends once the app returns, and writes into no closed descriptor.
    eventually(lambda: started_since(before) == [])


def test_the_forwarded_prefix_reaches_the_app(sandbox):
    reply = http_get(sandbox, "", headers={"X-Forwarded-Prefix": PREFIX})
    assert reply.status == 200
    links = [href for href in re.findall(r'href="([^"]+)"', reply.text) if href.startswith("/")]
    assert links, "the page has no links to check"
    assert all(href.startswith(PREFIX + "/") for href in links), links


# A kernel has no logging set up: without the sandbox's file handler, a warning would reach stderr
# through logging's last-resort handler. Eight blocking sends at once on four workers make a queue.
QUEUE_DEPTH_SCRIPT = """
import threading, urllib.request
import sandbox_app
from sandbox_app.addresses import auth_headers
sandbox = sandbox_app.start(smtp_delay=0.2)
headers = {**auth_headers(sandbox), "Content-Type": "application/json"}
email = b'{"to": "a@example.com", "subject": "s", "body": "b"}'
def send():
    request = urllib.request.Request(sandbox.url + "send/blocking", data=email, headers=headers, method="POST")
    urllib.request.urlopen(request, timeout=30).read()
threads = [threading.Thread(target=send) for _ in range(2 * sandbox.workers)]
for thread in threads: thread.start()
for thread in threads: thread.join()
sandbox.stop()
print(sum("Task queue depth" in line for line in sandbox.read_log()))
"""


def test_queue_depth_warnings_go_to_the_log_file_not_stderr(state_dir):
    done = subprocess.run(
        [sys.executable, "-c", QUEUE_DEPTH_SCRIPT], capture_output=True, text=True, timeout=2 * HANG_GUARD
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert int(done.stdout) >= 1  # the warnings happened, and went to the log file
