"""The rq pattern: the request puts a job on an RQ queue in Redis; an RQ worker forks a work horse that sends it."""

from __future__ import annotations

from flask import Flask
from redis.exceptions import RedisError
from rq import Queue, Retry, Worker, get_current_job

from ..mailer.as_data import message_data
from ..queue.broker import get_broker
from ..queue.storage import unavailable
from .queued_send import RETRY_DELAYS, send_once_guard, send_queued

RESULT_TTL = 60  # seconds a finished job stays in Redis (nobody reads its result; see send_email)


class TemporaryFailure(RuntimeError):
    """The send failed for now: RQ puts the job back by its Retry (the error is in the app's log and counters)."""


def deliver(data: dict) -> None:
    """The job, run in a work horse (a fork of a worker holding an app context): send one mail."""
    job = get_current_job()
    if send_queued("rq", data, retries_left=job.retries_left or 0, guard=send_once_guard()):
        raise TemporaryFailure(f"{data['message_id']}: a temporary failure; RQ tries again")


def rq_queue(app: Flask) -> Queue:
    """The app's RQ queue in its Redis (started, with the workers, on first use)."""
    queue = app.extensions.get("rq_queue")
    if queue is None:
        broker = get_broker(app)
        broker.prepare("rq")
        queue = app.extensions["rq_queue"] = Queue(app.config["RQ_QUEUE"], connection=broker.client())
    return queue


class PromptWorker(Worker):
    """RQ's worker, whose warm shutdown ends within a second, where RQ's may wait a minute."""

    def subscribe(self):
        # RQ listens for its commands in a thread that polls every 60 s, and redis-py 8.2's stop() joins that
        # thread: unsubscribed just before, it waits out the poll. Half a second keeps the stop prompt.
        self.pubsub = self.connection.pubsub()
        self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})
        self.pubsub_thread = self.pubsub.run_in_thread(
            sleep_time=0.5, daemon=True, exception_handler=self._pubsub_exception_handler
        )


def rq_worker(app: Flask) -> Worker:
    """A worker for the app's queue, on the Redis the worker's config names (REDIS_URL)."""
    return PromptWorker([rq_queue(app)], connection=get_broker(app).client())


def send_email(app, msg):
    """Put the mail on the RQ queue as plain data and answer at once; it is tried again up to QUEUE_RETRIES times."""
    retries = app.config["QUEUE_RETRIES"]
    retry = Retry(max=retries, interval=list(RETRY_DELAYS[:retries])) if retries else None
    try:
        # The finished job is kept a minute, not deleted at once (result_ttl=0): after a worker and its horse died
        # together, RQ 3.0's deletion of the retried job fails on the dead run's expired record, and that
        # failure would retry the mail, already sent, again.
        rq_queue(app).enqueue(deliver, message_data(msg), retry=retry, result_ttl=RESULT_TTL)
    except RedisError as error:
        raise unavailable(error) from None
    return 202
