"""Every socket the sandbox listens on is bound to 127.0.0.1, checked at the socket (not in a printed string)."""

import os
import socket

import pytest
from helpers import listening_addresses, started_on_a_free_port

from sandbox_app import Sandbox, SandboxConfig
from sandbox_app.processes.servers import SERVERS
from sandbox_app.smtp.server import DebugMailServer

OUT_OF_PROCESS = [server for server in SERVERS if server != "inprocess"]


def hosts_on(ports: set[int], pid: int = os.getpid()) -> set[str]:
    """The addresses this process (and its children) listens on, for these ports."""
    return {host for host, port in listening_addresses(pid) if port in ports}


def test_the_debug_mail_server_listens_on_loopback_only(mail_server):
    assert hosts_on({mail_server.port}) == {"127.0.0.1"}


def test_a_wildcard_bind_would_be_seen():
    # The check above can fail: the same lookup sees a server bound to every address.
    with socket.create_server(("0.0.0.0", 0)) as everywhere:
        assert hosts_on({everywhere.getsockname()[1]}) == {"0.0.0.0"}


def test_the_in_process_sandbox_listens_on_loopback_only(sandbox):
    assert hosts_on({sandbox.port, sandbox.smtp_port}) == {"127.0.0.1"}
    assert {port for _host, port in listening_addresses(os.getpid())} >= {sandbox.port, sandbox.smtp_port}


@pytest.mark.slow  # each server model starts processes of its own
@pytest.mark.parametrize("server", OUT_OF_PROCESS)
def test_every_process_of_the_app_listens_on_loopback_only(server):
    with Sandbox(SandboxConfig.resolve(server=server, workers=2)) as sandbox:
        app_sockets = listening_addresses(sandbox.app_process.pid)
        assert {host for host, _port in app_sockets} == {"127.0.0.1"}, app_sockets
        assert sandbox.port in {port for _host, port in app_sockets}
        # This process keeps the mail server and the launcher's API for the app's processes.
        launcher_ports = {sandbox.smtp_port, sandbox.http_server.port}
        assert hosts_on(launcher_ports) == {"127.0.0.1"}


@pytest.mark.slow  # a consumer process
def test_the_queue_consumer_listens_nowhere(sandbox):
    consumer = sandbox.start_consumer(workers=1)
    assert listening_addresses(consumer.pid) == set()


def test_a_mail_server_on_a_given_port_still_binds_loopback():
    with started_on_a_free_port(lambda port: DebugMailServer(port).start()) as server:
        assert server.requested_port == server.port != 0
        assert hosts_on({server.port}) == {"127.0.0.1"}
