"""The celery pattern: the request hands the mail to a Celery task on Redis; a Celery worker process sends it.

Set up as Flask's documentation sets up Celery: `celery_init_app` makes a Celery app whose tasks
run inside the Flask app's context, and the task is a `shared_task`.
"""

from __future__ import annotations

from celery import Celery, Task, shared_task
from flask import Flask, current_app
from kombu.exceptions import OperationalError

from ..mailer.as_data import message_data
from ..queue.broker import get_broker
from ..queue.storage import unavailable
from .queued_send import RETRY_DELAYS, send_once_guard, send_queued


def celery_init_app(app: Flask) -> Celery:
    """A Celery app for `app`: its settings from app.config["CELERY"], each task run inside an app context."""

    class FlaskTask(Task):
        def __call__(self, *args: object, **kwargs: object) -> object:
            with app.app_context():
                return self.run(*args, **kwargs)

    celery_app = Celery(app.name, task_cls=FlaskTask)
    celery_app.config_from_object(app.config["CELERY"])
    celery_app.set_default()
    app.extensions["celery"] = celery_app
    return celery_app


# A worker waits for a task with Redis's BRPOP, up to this long per call (kombu's default: 1 s), and a warm
# shutdown waits for that call to return: a shorter wait lets the lessons restart their workers promptly.
BROKER_POLLING = {"polling_interval": 0.2}


def default_settings(queue_name: str) -> dict:
    """The app's CELERY settings: Celery's defaults, but for what this app changes (each says why)."""
    return {
        "broker_url": None,  # the Redis is known when the queue is first used (see get_celery)
        "task_default_queue": f"{queue_name}-celery",  # two sandboxes on one Redis keep their mail apart
        "task_ignore_result": True,  # nobody reads a result: storing it would only fill Redis
        "task_acks_late": False,  # Celery's default: acknowledged just before it runs (lesson 11 turns it on)
        "broker_connection_retry_on_startup": True,
        # A Redis that is gone: the view answers 503 within seconds instead of retrying for a minute.
        "task_publish_retry_policy": {"max_retries": 2, "interval_start": 0, "interval_step": 0.2},
        "broker_connection_timeout": 2,
        "broker_transport_options": dict(BROKER_POLLING),
        "worker_hijack_root_logger": False,
    }


def get_celery(app: Flask) -> Celery:
    """The app's Celery app, its broker the app's Redis (started, with the worker, on first use)."""
    celery_app = app.extensions.get("celery")
    if celery_app is None:
        celery_app = celery_init_app(app)
    if not celery_app.conf.broker_url:
        celery_app.conf.broker_url = app.config.get("REDIS_URL") or get_broker(app).prepare("celery")
    return celery_app


@shared_task(bind=True, name="sandbox.deliver_email", ignore_result=True)
def deliver(self, data: dict) -> None:
    """The task, run by a Celery worker inside an app context: send one mail; retry a temporary failure later."""
    retries = current_app.config["QUEUE_RETRIES"]
    if send_queued("celery", data, retries_left=retries - self.request.retries, guard=send_once_guard()):
        raise self.retry(countdown=RETRY_DELAYS[min(self.request.retries, len(RETRY_DELAYS) - 1)], max_retries=retries)


def send_email(app, msg):
    """Hand the mail to Celery as plain data (its JSON cannot carry a Message) and answer at once."""
    celery_app = get_celery(app)
    try:
        # The task as this app's Celery registered it: another sandbox in this process has a Celery app of its own.
        celery_app.tasks[deliver.name].apply_async(args=[message_data(msg)])
    except OperationalError as error:
        raise unavailable(error) from None
    return 202
