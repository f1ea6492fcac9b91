"""The queue on a real Redis (RedisHuey): one, then two consumer processes; every mail delivered exactly once."""

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from helpers import EMAIL, eventually, http_post, wait_gone

from sandbox_app.mailer.stats import get_stats
from sandbox_app.queues.huey_queue import ConsumerProcess, huey_backend


@pytest.fixture
def redis_sandbox(redis_url, start_sandbox):
    """A running sandbox whose queue is RedisHuey on the session's redis-server."""
    return start_sandbox(queue_url=redis_url)


def send_numbered(sandbox, count: int, concurrency: int = 8) -> None:
    """POST count queue sends, each with its own subject, from `concurrency` clients."""

    def send(number):
        return http_post(sandbox, "send/queue", {**EMAIL, "subject": f"mail #{number}"}).status

    with ThreadPoolExecutor(concurrency) as clients:
        assert Counter(clients.map(send, range(count))) == {202: count}


def subjects(sandbox) -> Counter:
    """How many times each subject reached the mail server."""
    return Counter(message.subject for message in sandbox.mail_server.messages)


def executed_by(consumer: ConsumerProcess) -> int:
    """How many tasks this consumer process ran (Huey logs one line per task it finishes)."""
    return sum(" executed in " in line for line in consumer.read_log().splitlines())


def test_the_queue_lives_in_redis(redis_sandbox, redis_url):
    mail_queue = huey_backend(redis_sandbox.app)
    assert mail_queue.url == redis_url
    send_numbered(redis_sandbox, 5)  # no consumer yet: the mail waits in Redis
    assert redis.Redis.from_url(redis_url).llen(mail_queue.storage.queue_key) == 5
    assert mail_queue.unsent() == 5 and redis_sandbox.mail_server.messages == []


@pytest.mark.slow  # Redis and a consumer process
def test_one_consumer_delivers_every_mail_exactly_once(redis_sandbox):
    sandbox = redis_sandbox
    sandbox.mail_server.configure(delay=0.02)
    consumer = sandbox.start_consumer(workers=4)
    send_numbered(sandbox, 40)
    sandbox.mail_server.wait_for(40, timeout=20)
    eventually(lambda: huey_backend(sandbox.app).unsent() == 0)
    assert subjects(sandbox) == {f"mail #{n}": 1 for n in range(40)}
    eventually(lambda: get_stats(sandbox.app).snapshot()["queue"]["delivered"] == 40)
    eventually(lambda: executed_by(consumer) == 40)


@pytest.mark.slow  # two consumer processes, 60 mails
def test_two_consumer_processes_share_the_work_and_deliver_each_mail_once(redis_sandbox):
    sandbox = redis_sandbox
    sandbox.mail_server.configure(delay=0.05)
    settings = huey_backend(sandbox.app).worker_settings({})
    with ConsumerProcess(settings, workers=3) as first, ConsumerProcess(settings, workers=3) as second:
        assert first.pid != second.pid
        send_numbered(sandbox, 60)
        sandbox.mail_server.wait_for(60, timeout=30)
        eventually(lambda: executed_by(first) + executed_by(second) == 60)
        # Both took part (Redis hands each task to one BRPOP); no mail was sent twice, none lost.
        assert executed_by(first) > 0 and executed_by(second) > 0
        stats = get_stats(sandbox.app).snapshot()["queue"]
    assert subjects(sandbox) == {f"mail #{n}": 1 for n in range(60)}
    assert stats["accepted"] == 60 and stats["delivered"] == 60 and stats["failed"] == 0
    wait_gone(first.pid)
    wait_gone(second.pid)


def test_a_stopped_sandbox_leaves_no_keys_behind(redis_sandbox, redis_url):
    sandbox = redis_sandbox
    send_numbered(sandbox, 3)  # no consumer: the mail waits in Redis
    name = huey_backend(sandbox.app).storage.name
    assert huey_backend(sandbox.app).unsent() == 3
    assert redis.Redis.from_url(redis_url).keys(f"huey.*{name}*") != []  # the queue lives in Redis until...
    sandbox.stop()
    assert redis.Redis.from_url(redis_url).keys(f"huey.*{name}*") == []  # ...its sandbox stops
