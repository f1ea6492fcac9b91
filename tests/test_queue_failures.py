"""A queue failure no lesson runs: an RQ job abandoned by its worker and its horse together comes back once.

The kills and stops of lessons 15, 16 and 17 (workers killed mid-send, SIGTERM to plain Huey and to the sandbox's
consumer, a killed Celery task and the visibility timeout, the send-once guard) run once per suite, in their
notebooks: nbval compares each verdict they print, strictly.
"""

import signal
import time

import pytest
from queue_fixtures import need_redis
from rq import Queue
from rq.job import Job

from sandbox_app.lab.faults import mail_server_settings
from sandbox_app.lab.queues.common import send_tagged, signal_and_wait, wait_for_sends, wait_until_quiet
from sandbox_app.lab.queues.stops import victims

pytestmark = pytest.mark.slow  # it kills a worker and waits for what comes back: seconds


@pytest.fixture
def queues_sandbox(start_sandbox):
    """A sandbox with Redis: each experiment starts the workers it needs."""
    need_redis()
    return start_sandbox()


def test_an_rq_job_abandoned_by_its_worker_and_horse_is_sent_once_when_it_comes_back(queues_sandbox):
    """A worker and its horse killed together (a container gone): the job comes back once, and is sent once."""
    sandbox = queues_sandbox
    processes = sandbox.start_worker("rq", 1)
    connection = sandbox.backend("rq").redis.client()
    queue = Queue(sandbox.app.config["RQ_QUEUE"], connection=connection)
    with mail_server_settings(sandbox, connect_delay=1.0):  # caught before the mail goes out
        send_tagged(sandbox, "rq", 1, "abandoned")
        wait_for_sends(sandbox, 1)
        signal_and_wait([processes[0].pid, *victims(processes, "work horse")], signal.SIGKILL)
    (job_id,) = queue.started_job_registry.get_job_ids()
    # What 90 s do (RQ's heartbeat time to live with its defaults): the dead run's record expires, and the
    # next clean-up finds the job abandoned and retries it (Retry(max=3)).
    for execution in Job.fetch(job_id, connection=connection).get_executions():
        connection.delete(execution.key)
    queue.started_job_registry.cleanup(timestamp=time.time() + 120)
    sandbox.start_worker("rq", 1)
    received = wait_until_quiet(sandbox, "rq", "abandoned")
    assert dict(received) == {"abandoned #0": 1}  # RQ 3.0 with result_ttl=0: a copy per retry
